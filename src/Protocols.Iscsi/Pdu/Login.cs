namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>Login stages (RFC 7143 11.12.3): CSG and NSG values.</summary>
public enum LoginStage : byte
{
    SecurityNegotiation = 0,
    LoginOperationalNegotiation = 1,
    FullFeaturePhase = 3,
}

/// <summary>
/// Login Request (RFC 7143 11.12).
/// <code>
///  0 |.|1| 0x03      |T|C|.|.|CSG|NSG| Version-max   | Version-min   |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | ISID (6 bytes)                                |      TSIH     |
/// 16 | Initiator Task Tag                                            |
/// 20 | CID                           | Reserved                      |
/// 24 | CmdSN                                                         |
/// 28 | ExpStatSN or Reserved                                         |
/// 32 | Reserved (16 bytes)                                           |
///    | DataSegment: login parameters in text request format          |
/// </code>
/// </summary>
public readonly struct LoginRequest
{
    public LoginRequest(in BasicHeaderSegment h)
    {
        Transit = (h.Flags & 0x80) != 0;
        Continue = (h.Flags & 0x40) != 0;
        CurrentStage = (LoginStage)((h.Flags >> 2) & 0x3);
        NextStage = (LoginStage)(h.Flags & 0x3);
        VersionMax = h[2];
        VersionMin = h[3];
        Isid = ((ulong)h.UInt32(8) << 16) | h.UInt16(12);
        Tsih = h.UInt16(14);
        InitiatorTaskTag = h.InitiatorTaskTag;
        Cid = h.UInt16(20);
        CmdSN = h.UInt32(24);
        ExpStatSN = h.UInt32(28);
        DataSegmentLength = h.DataSegmentLength;
    }

    public bool Transit { get; }

    public bool Continue { get; }

    public LoginStage CurrentStage { get; }

    public LoginStage NextStage { get; }

    public byte VersionMax { get; }

    public byte VersionMin { get; }

    /// <summary>The 48-bit initiator session id, in the low bits.</summary>
    public ulong Isid { get; }

    public ushort Tsih { get; }

    public uint InitiatorTaskTag { get; }

    public ushort Cid { get; }

    public uint CmdSN { get; }

    public uint ExpStatSN { get; }

    public int DataSegmentLength { get; }
}

/// <summary>Login response status (class &lt;&lt; 8 | detail), RFC 7143 11.13.5.</summary>
public enum LoginStatus : ushort
{
    Success = 0x0000,
    TargetMovedTemporarily = 0x0101,
    TargetMovedPermanently = 0x0102,
    InitiatorError = 0x0200,
    AuthenticationFailure = 0x0201,
    AuthorizationFailure = 0x0202,
    NotFound = 0x0203,
    TargetRemoved = 0x0204,
    UnsupportedVersion = 0x0205,
    TooManyConnections = 0x0206,
    MissingParameter = 0x0207,
    CannotIncludeInSession = 0x0208,
    SessionTypeNotSupported = 0x0209,
    SessionDoesNotExist = 0x020A,
    InvalidDuringLogin = 0x020B,
    TargetError = 0x0300,
    ServiceUnavailable = 0x0301,
    OutOfResources = 0x0302,
}

/// <summary>
/// Login Response (RFC 7143 11.13).
/// <code>
///  0 |.|.| 0x23      |T|C|.|.|CSG|NSG| Version-max   |Version-active |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | ISID (6 bytes)                                |      TSIH     |
/// 16 | Initiator Task Tag                                            |
/// 20 | Reserved                                                      |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
/// 36 | Status-Class  | Status-Detail | Reserved                      |
/// 40 | Reserved (8 bytes)                                            |
///    | DataSegment: login parameters in text request format          |
/// </code>
/// </summary>
public static class LoginResponse
{
    public static void WriteHeader(Span<byte> bhs, bool transit, bool @continue, LoginStage csg, LoginStage nsg,
        ulong isid, ushort tsih, uint itt, LoginStatus status, int dataSegmentLength)
    {
        byte flags = (byte)(((byte)csg << 2) | (transit ? (byte)nsg : 0));
        if (transit)
            flags |= 0x80;
        if (@continue)
            flags |= 0x40;
        HeaderWriter.Begin(bhs, IscsiOpcode.LoginResponse, flags, dataSegmentLength);
        bhs[2] = 0x00; // Version-max
        bhs[3] = 0x00; // Version-active
        HeaderWriter.UInt32(bhs, 8, (uint)(isid >> 16));
        HeaderWriter.UInt16(bhs, 12, (ushort)isid);
        HeaderWriter.UInt16(bhs, 14, tsih);
        HeaderWriter.UInt32(bhs, 16, itt);
        bhs[36] = (byte)((ushort)status >> 8);
        bhs[37] = (byte)status;
    }
}
