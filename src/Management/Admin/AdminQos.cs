namespace StorageAppliance.Management.Admin;

/// <summary>
/// The body of <c>PUT /v1/vdisks/{name}/qos</c>: only the fields given change, the rest of the vDisk's
/// policy stays. Class is "high" or "low"; limits of 0 remove the limit.
/// </summary>
public sealed record VDiskQosRequest(
    string? Class = null,
    int? Weight = null,
    long? IopsLimit = null,
    long? BandwidthLimit = null,
    long? IopsBurst = null,
    long? BandwidthBurst = null,
    int? MaxOutstanding = null);

/// <summary>A vDisk's QoS policy (limits of 0 mean none).</summary>
public sealed record VDiskQos(
    string Name,
    string Class,
    int Weight,
    long IopsLimit,
    long BandwidthLimit,
    long IopsBurst,
    long BandwidthBurst,
    int MaxOutstanding);

/// <summary>Latency percentiles in microseconds over <see cref="Count"/> requests.</summary>
public sealed record LatencyInfo(long Count, long MeanMicros, long P50Micros, long P90Micros, long P99Micros, long P999Micros);

/// <summary>
/// What a vDisk has served since start (cumulative counters: a client diffs two samples for rates), its
/// queue depth now, and its latencies with time waiting for admission apart from time in service.
/// </summary>
public sealed record VDiskStatsInfo(
    string Name,
    long Reads,
    long Writes,
    long Unmaps,
    long Flushes,
    long BytesRead,
    long BytesWritten,
    long Errors,
    int Queued,
    int InService,
    LatencyInfo QueueTime,
    LatencyInfo ServiceTime,
    VDiskQos Qos);

/// <summary>What one iSCSI initiator or NFS client has been served, across every vDisk.</summary>
public sealed record ClientStatsInfo(string Protocol, string Client, long Requests, long Bytes, long Errors, LatencyInfo QueueTime, LatencyInfo ServiceTime);

/// <summary>The body of <c>GET /v1/stats</c>; <see cref="TimestampMicros"/> is a monotonic clock for computing rates.</summary>
public sealed record ApplianceStats(long TimestampMicros, int Outstanding, IReadOnlyList<VDiskStatsInfo> VDisks, IReadOnlyList<ClientStatsInfo> Clients,
    DataReductionInfo? DataReduction = null);
