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

    /// <summary>
    /// True when the call should run on the thread pool instead of the connection's receive loop, so
    /// the loop keeps reading while it blocks (e.g. a WRITE that waits for the page cache). Calls
    /// that finish in a few microseconds are cheaper inline.
    /// </summary>
    bool RunOffLoop(RpcCall call) => false;
}
