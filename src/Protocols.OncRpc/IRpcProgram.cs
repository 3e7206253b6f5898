namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// An RPC program served by an <see cref="RpcServer"/> (NFS, MOUNT, the portmapper). The server has
/// already checked the program number, the version range and the credential's form; the program
/// decodes its arguments from <see cref="RpcCall.Arguments"/>, writes its results with
/// <see cref="RpcCall.BeginResults"/>/<see cref="RpcCall.EndResults"/> and returns the outcome as a value.
/// </summary>
public interface IRpcProgram
{
    uint Program { get; }

    uint LowVersion { get; }

    uint HighVersion { get; }

    /// <summary>Name for logs ("nfs", "mount", "portmap").</summary>
    string Name { get; }

    /// <summary>
    /// Handles one call. Usually completes synchronously; the call object (and its argument bytes) stays
    /// valid until the returned task completes.
    /// </summary>
    ValueTask<RpcOutcome> HandleAsync(RpcCall call);
}
