namespace StorageAppliance.Protocols.OncRpc;

/// <summary>Limits of the RPC transport.</summary>
public sealed class RpcServerOptions
{
    /// <summary>Largest record accepted; bigger means broken framing and closes the connection.</summary>
    public int MaxRecordSize { get; init; } = (4 << 20) + (64 << 10);

    /// <summary>Calls one connection may have in progress before the server stops reading from it (back-pressure).</summary>
    public int MaxOutstandingCalls { get; init; } = 128;
}
