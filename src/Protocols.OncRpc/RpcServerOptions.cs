namespace StorageAppliance.Protocols.OncRpc;

/// <summary>Limits of the RPC transport. <see cref="Validate"/> lists every problem; start-up stops on any.</summary>
public sealed class RpcServerOptions
{
    /// <summary>Largest record accepted; bigger means broken framing and closes the connection.</summary>
    public int MaxRecordSize { get; init; } = (4 << 20) + (64 << 10);

    /// <summary>Fragments one record may have; more (a stream of empty fragments) is broken framing.</summary>
    public int MaxFragmentsPerRecord { get; init; } = 1024;

    /// <summary>Calls one connection may have in progress before the server stops reading from it (back-pressure).</summary>
    public int MaxOutstandingCalls { get; init; } = 128;

    /// <summary>Connections served at once; more are closed right after accept.</summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary>Connections one client address may have open at once; more are closed right after accept.</summary>
    public int MaxConnectionsPerClient { get; init; } = 64;

    /// <summary>
    /// A connection with no call in progress and no partial record for this long is closed. NFS clients
    /// keep idle connections open on purpose and reconnect when they need one, so this is generous;
    /// <see cref="TimeSpan.Zero"/> keeps idle connections for ever.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A record must arrive whole within this time of its first byte, and a reply must be taken by the
    /// client within it; otherwise the connection is closed (a stalled or trickling peer holds buffers).
    /// </summary>
    public TimeSpan RecordTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes of large record buffers (partial records and calls in progress) one connection may hold.</summary>
    public long MaxBufferedBytesPerConnection { get; init; } = 64L << 20;

    /// <summary>Bytes of large record buffers all connections together may hold; a connection that needs more waits.</summary>
    public long MaxBufferedBytes { get; init; } = 512L << 20;

    /// <summary>How often timeouts are checked.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Every problem with the options as "key: reason"; <paramref name="prefix"/> names the section (e.g. "nfs.").</summary>
    public IReadOnlyList<string> Validate(string prefix = "")
    {
        var errors = new List<string>();
        if (MaxRecordSize < 1024)
            errors.Add($"{prefix}max record size: {MaxRecordSize} is below 1024 bytes");
        if (MaxFragmentsPerRecord < 1)
            errors.Add($"{prefix}max fragments per record: {MaxFragmentsPerRecord} must be at least 1");
        if (MaxOutstandingCalls < 1)
            errors.Add($"{prefix}max outstanding calls: {MaxOutstandingCalls} must be at least 1");
        if (MaxConnections < 1)
            errors.Add($"{prefix}connection_limit: {MaxConnections} must be at least 1");
        if (MaxConnectionsPerClient < 1 || MaxConnectionsPerClient > MaxConnections)
            errors.Add($"{prefix}connection_limit_per_client: {MaxConnectionsPerClient} must be between 1 and connection_limit ({MaxConnections})");
        if (IdleTimeout < TimeSpan.Zero || (IdleTimeout > TimeSpan.Zero && IdleTimeout < TimeSpan.FromSeconds(1)))
            errors.Add($"{prefix}idle_timeout: {IdleTimeout} must be 0 (never) or at least 1 s");
        if (RecordTimeout < TimeSpan.FromSeconds(1))
            errors.Add($"{prefix}record_timeout: {RecordTimeout} must be at least 1 s");
        if (MaxBufferedBytesPerConnection < MaxRecordSize)
            errors.Add($"{prefix}buffered bytes per connection: {MaxBufferedBytesPerConnection} is below the record size limit {MaxRecordSize}");
        if (MaxBufferedBytes < MaxBufferedBytesPerConnection)
            errors.Add($"{prefix}buffered bytes: {MaxBufferedBytes} is below the per-connection limit {MaxBufferedBytesPerConnection}");
        if (SweepInterval <= TimeSpan.Zero)
            errors.Add($"{prefix}sweep interval: {SweepInterval} must be positive");
        return errors;
    }

    public void ValidateOrThrow(string prefix = "")
    {
        var errors = Validate(prefix);
        if (errors.Count > 0)
            throw new InvalidOperationException("invalid RPC transport options:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", errors));
    }
}
