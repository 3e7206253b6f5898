namespace StorageAppliance.Protocols.Iscsi.Negotiation;

/// <summary>What this target is willing to accept in negotiation (from the config's iscsi section).</summary>
public sealed class TargetLimits
{
    public int MaxRecvDataSegmentLength { get; init; } = 262144;
    public int MaxBurstLength { get; init; } = 1048576;
    public int FirstBurstLength { get; init; } = 262144;
    public int MaxOutstandingR2T { get; init; } = 1;
    public bool ImmediateData { get; init; } = true;
    public bool InitialR2T { get; init; }
    public IReadOnlyList<string> HeaderDigests { get; init; } = ["CRC32C", "None"];
    public IReadOnlyList<string> DataDigests { get; init; } = ["CRC32C", "None"];
    public int DefaultTime2Wait { get; init; } = 2;
    public int DefaultTime2Retain { get; init; } = 20;
    public int MaxConnections { get; init; } = 1;
}

public enum SessionType : byte
{
    Normal,
    Discovery,
}

/// <summary>
/// The operational parameters of a session and its connection, starting at the RFC 7143 defaults (13.x)
/// and changed by negotiation.
/// </summary>
public sealed class SessionParameters
{
    // Connection scope
    public bool HeaderDigest { get; set; }
    public bool DataDigest { get; set; }

    /// <summary>Largest data segment the initiator accepts: what we may send it (its declaration; default 8192).</summary>
    public int InitiatorMaxRecvDataSegmentLength { get; set; } = 8192;

    /// <summary>Largest data segment we accept (our declaration).</summary>
    public int TargetMaxRecvDataSegmentLength { get; set; } = 8192;

    // Session scope
    public SessionType SessionType { get; set; } = SessionType.Normal;
    public string InitiatorName { get; set; } = "";
    public string? InitiatorAlias { get; set; }
    public string? TargetName { get; set; }
    public int MaxConnections { get; set; } = 1;
    public bool InitialR2T { get; set; } = true;
    public bool ImmediateData { get; set; } = true;
    public int MaxBurstLength { get; set; } = 262144;
    public int FirstBurstLength { get; set; } = 65536;
    public int DefaultTime2Wait { get; set; } = 2;
    public int DefaultTime2Retain { get; set; } = 20;
    public int MaxOutstandingR2T { get; set; } = 1;
    public bool DataPduInOrder { get; set; } = true;
    public bool DataSequenceInOrder { get; set; } = true;
    public int ErrorRecoveryLevel { get; set; }

    public override string ToString() =>
        $"HeaderDigest={(HeaderDigest ? "CRC32C" : "None")} DataDigest={(DataDigest ? "CRC32C" : "None")} " +
        $"MRDSL(initiator)={InitiatorMaxRecvDataSegmentLength} MRDSL(target)={TargetMaxRecvDataSegmentLength} " +
        $"MaxBurst={MaxBurstLength} FirstBurst={FirstBurstLength} InitialR2T={InitialR2T} ImmediateData={ImmediateData} " +
        $"MaxOutstandingR2T={MaxOutstandingR2T} ERL={ErrorRecoveryLevel}";
}
