namespace StorageAppliance.Management.Admin;

/// <summary>Data reduction of a container (<see cref="VDisk"/> null) or of one vDisk: logical, stored and saved bytes.</summary>
/// <param name="LogicalBytes">Data the vDisks hold (zeros excluded), as written.</param>
/// <param name="StoredBytes">What it takes on disk: each deduplicated extent once, as kept (compressed or raw), plus
/// slot data; a vDisk is charged its share of the extents it shares.</param>
/// <param name="Ratio">Logical over stored bytes (0 when nothing is stored).</param>
/// <param name="Extents">Distinct deduplicated extents in use (containers only).</param>
public sealed record ReductionInfo(string? VDisk, string Container, long LogicalBytes, long StoredBytes, long SavedBytes, double Ratio, long Extents);

/// <summary>The data reduction part of <c>GET /v1/stats</c>.</summary>
public sealed record DataReductionInfo(IReadOnlyList<ReductionInfo> Containers, IReadOnlyList<ReductionInfo> VDisks);

/// <summary>The body of <c>POST /v1/curator/scan</c>.</summary>
public sealed record CuratorScanRequest(bool Scrub = true);

/// <summary>What a Curator pass found and did.</summary>
public sealed record CuratorReportInfo(
    DateTimeOffset Started,
    double Seconds,
    bool Scrubbed,
    int BlocksReduced,
    long BytesReduced,
    int ReferencesFixed,
    int OrphanSlotsFreed,
    int ExtentsCollected,
    long BytesCollected,
    int PacksFreed,
    int PacksCompacted,
    long BytesMoved,
    int ExtentsVerified,
    int BlocksVerified,
    IReadOnlyList<string> Problems);

/// <summary>The body of <c>GET /v1/curator</c>: the pass in progress, if any, and the last report.</summary>
public sealed record CuratorStatusInfo(bool Running, string Phase, long Done, long Total, CuratorReportInfo? Last);
