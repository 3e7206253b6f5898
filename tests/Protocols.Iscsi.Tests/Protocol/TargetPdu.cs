using System.Buffers.Binary;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>A PDU the target sent, copied out of the receive pipe.</summary>
public sealed class TargetPdu
{
    public TargetPdu(byte[] header, byte[] data)
    {
        Header = header;
        Data = data;
    }

    public byte[] Header { get; }

    public byte[] Data { get; }

    public IscsiOpcode Opcode => (IscsiOpcode)(Header[0] & 0x3F);

    public byte Flags => Header[1];

    public bool Final => (Header[1] & 0x80) != 0;

    public uint Itt => U32(16);

    public uint Ttt => U32(20);

    public uint StatSN => U32(24);

    public uint ExpCmdSN => U32(28);

    public uint MaxCmdSN => U32(32);

    public int DataSegmentLength => (Header[5] << 16) | (Header[6] << 8) | Header[7];

    public uint U32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(Header.AsSpan(offset));

    public ushort U16(int offset) => BinaryPrimitives.ReadUInt16BigEndian(Header.AsSpan(offset));

    // Login Response (11.13)
    public LoginStatus LoginStatus => (LoginStatus)((Header[36] << 8) | Header[37]);

    public ushort Tsih => U16(14);

    public ulong Isid => ((ulong)U32(8) << 16) | U16(12);

    public bool Transit => (Header[1] & 0x80) != 0;

    public LoginStage CurrentStage => (LoginStage)((Header[1] >> 2) & 3);

    public LoginStage NextStage => (LoginStage)(Header[1] & 3);

    // SCSI Response (11.4) and Data-In (11.7)
    public byte Response => Header[2];

    public byte Status => Header[3];

    public bool HasStatus => Opcode == IscsiOpcode.ScsiResponse || (Opcode == IscsiOpcode.DataIn && (Header[1] & 0x01) != 0);

    public uint DataSN => U32(36);

    public uint BufferOffset => U32(40);

    public uint ResidualCount => U32(44);

    public uint DesiredLength => U32(44);

    // Reject (11.17)
    public RejectReason RejectReason => (RejectReason)Header[2];

    /// <summary>The text of a Login or Text response, as key/value pairs (fails the test if malformed).</summary>
    public Dictionary<string, string> Keys()
    {
        var pairs = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(Data, pairs, out string? error), Is.True, error);
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in pairs)
            keys[k] = v;
        return keys;
    }

    /// <summary>All pairs in order, repeats kept (TargetName/TargetAddress lists).</summary>
    public List<KeyValuePair<string, string>> Pairs()
    {
        var pairs = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(Data, pairs, out string? error), Is.True, error);
        return pairs;
    }

    /// <summary>Sense data of a SCSI Response: the 2-byte SenseLength prefix stripped.</summary>
    public byte[] Sense()
    {
        if (Data.Length < 2)
            return [];
        int length = (Data[0] << 8) | Data[1];
        return Data.AsSpan(2, length).ToArray();
    }

    public override string ToString() => $"{Opcode} flags={Flags:x2} ITT={Itt:x8} DSL={DataSegmentLength}";
}
