using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi.Tests;

/// <summary>Builds CDBs the way an initiator would (as libiscsi's scsi_cdb_* helpers do).</summary>
public static class Cdbs
{
    public static byte[] TestUnitReady() => [0x00, 0, 0, 0, 0, 0];

    public static byte[] RequestSense(byte allocation = 252, bool desc = false) => [0x03, (byte)(desc ? 1 : 0), 0, 0, allocation, 0];

    public static byte[] Inquiry(ushort allocation = 255, bool evpd = false, byte page = 0)
    {
        var c = new byte[] { 0x12, (byte)(evpd ? 1 : 0), page, 0, 0, 0 };
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(3), allocation);
        return c;
    }

    public static byte[] ReadCapacity10(uint lba = 0, bool pmi = false)
    {
        var c = new byte[10];
        c[0] = 0x25;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), lba);
        c[8] = (byte)(pmi ? 1 : 0);
        return c;
    }

    public static byte[] ReadCapacity16(uint allocation = 32)
    {
        var c = new byte[16];
        c[0] = 0x9E;
        c[1] = 0x10;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), allocation);
        return c;
    }

    public static byte[] GetLbaStatus(ulong lba, uint allocation = 24)
    {
        var c = new byte[16];
        c[0] = 0x9E;
        c[1] = 0x12;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), allocation);
        return c;
    }

    public static byte[] Read6(uint lba, byte blocks) => [0x08, (byte)((lba >> 16) & 0x1F), (byte)(lba >> 8), (byte)lba, blocks, 0];

    public static byte[] Write6(uint lba, byte blocks) => [0x0A, (byte)((lba >> 16) & 0x1F), (byte)(lba >> 8), (byte)lba, blocks, 0];

    /// <summary>A 10-, 12- or 16-byte block command with byte 1 flags, LBA, length and group number.</summary>
    public static byte[] Block(byte opcode, ulong lba, uint blocks, byte flags = 0, byte group = 0)
    {
        byte[] c;
        switch (opcode >> 5)
        {
            case 1:
            case 2:
                c = new byte[10];
                BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), (uint)lba);
                c[6] = group;
                BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), (ushort)blocks);
                break;
            case 5:
                c = new byte[12];
                BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), (uint)lba);
                BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), blocks);
                c[10] = group;
                break;
            default:
                c = new byte[16];
                BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
                BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), blocks);
                c[14] = group;
                break;
        }
        c[0] = opcode;
        c[1] = flags;
        return c;
    }

    public static byte[] ModeSense6(byte page, byte pc = 0, byte subpage = 0, byte allocation = 255, bool dbd = false) =>
        [0x1A, (byte)(dbd ? 0x08 : 0), (byte)((pc << 6) | page), subpage, allocation, 0];

    public static byte[] ModeSense10(byte page, byte pc = 0, byte subpage = 0, ushort allocation = 512, bool dbd = false, bool llbaa = false)
    {
        var c = new byte[10];
        c[0] = 0x5A;
        c[1] = (byte)((dbd ? 0x08 : 0) | (llbaa ? 0x10 : 0));
        c[2] = (byte)((pc << 6) | page);
        c[3] = subpage;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), allocation);
        return c;
    }

    public static byte[] ModeSelect6(int length, bool pf = true, bool sp = false) =>
        [0x15, (byte)((pf ? 0x10 : 0) | (sp ? 1 : 0)), 0, 0, (byte)length, 0];

    public static byte[] ModeSelect10(int length, bool pf = true, bool sp = false)
    {
        var c = new byte[10];
        c[0] = 0x55;
        c[1] = (byte)((pf ? 0x10 : 0) | (sp ? 1 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), (ushort)length);
        return c;
    }

    public static byte[] StartStopUnit(bool start, bool loej = false, bool immed = false, byte powerCondition = 0, byte modifier = 0, bool noFlush = false) =>
        [0x1B, (byte)(immed ? 1 : 0), 0, modifier, (byte)((powerCondition << 4) | (noFlush ? 4 : 0) | (loej ? 2 : 0) | (start ? 1 : 0)), 0];

    public static byte[] PreventAllow(byte prevent) => [0x1E, 0, 0, 0, prevent, 0];

    public static byte[] ReportSupportedOpcodes(byte options, byte opcode = 0, ushort serviceAction = 0, uint allocation = 65535, bool rctd = false)
    {
        var c = new byte[12];
        c[0] = 0xA3;
        c[1] = 0x0C;
        c[2] = (byte)((rctd ? 0x80 : 0) | options);
        c[3] = opcode;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(4), serviceAction);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), allocation);
        return c;
    }

    public static byte[] ReportLuns(uint allocation = 4096, byte select = 0)
    {
        var c = new byte[12];
        c[0] = 0xA0;
        c[2] = select;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), allocation);
        return c;
    }

    public static byte[] ReadDefectData10(byte flags, ushort allocation = 32)
    {
        var c = new byte[10];
        c[0] = 0x37;
        c[2] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), allocation);
        return c;
    }

    public static byte[] ReadDefectData12(byte flags, uint allocation = 32)
    {
        var c = new byte[12];
        c[0] = 0xB7;
        c[1] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), allocation);
        return c;
    }

    public static byte[] Unmap(int parameterListLength, bool anchor = false)
    {
        var c = new byte[10];
        c[0] = 0x42;
        c[1] = (byte)(anchor ? 1 : 0);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), (ushort)parameterListLength);
        return c;
    }

    /// <summary>An UNMAP parameter list with the given (LBA, blocks) descriptors.</summary>
    public static byte[] UnmapList(params (ulong Lba, uint Blocks)[] ranges)
    {
        var d = new byte[8 + 16 * ranges.Length];
        BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)(d.Length - 2));
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(2), (ushort)(16 * ranges.Length));
        for (int i = 0; i < ranges.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(8 + 16 * i), ranges[i].Lba);
            BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(16 + 16 * i), ranges[i].Blocks);
        }
        return d;
    }

    public static byte[] Reserve6() => [0x16, 0, 0, 0, 0, 0];

    public static byte[] Release6() => [0x17, 0, 0, 0, 0, 0];

    public static byte[] PersistentReserveIn(byte serviceAction, ushort allocation = 8192)
    {
        var c = new byte[10];
        c[0] = 0x5E;
        c[1] = serviceAction;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), allocation);
        return c;
    }

    public static byte[] PersistentReserveOut(byte serviceAction, byte type = 0, uint listLength = 24, byte scope = 0)
    {
        var c = new byte[10];
        c[0] = 0x5F;
        c[1] = serviceAction;
        c[2] = (byte)((scope << 4) | type);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(5), listLength);
        return c;
    }

    /// <summary>The 24-byte basic PERSISTENT RESERVE OUT parameter list.</summary>
    public static byte[] PrOutParameters(ulong key, ulong serviceActionKey = 0, bool allTargetPorts = false, bool aptpl = false, bool specIpt = false)
    {
        var d = new byte[24];
        BinaryPrimitives.WriteUInt64BigEndian(d, key);
        BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(8), serviceActionKey);
        d[20] = (byte)((specIpt ? 0x08 : 0) | (allTargetPorts ? 0x04 : 0) | (aptpl ? 0x01 : 0));
        return d;
    }

    /// <summary>A REGISTER AND MOVE parameter list with an iSCSI TransportID (format 01b with a port name, 00b with a bare name).</summary>
    public static byte[] RegisterAndMoveParameters(ulong key, ulong serviceActionKey, ushort relativeTargetPort, string transportName, bool unregister = false, bool aptpl = false)
    {
        bool port = transportName.Contains(",i,0x", StringComparison.OrdinalIgnoreCase);
        int nameLength = System.Text.Encoding.UTF8.GetByteCount(transportName) + 1;
        int additional = Math.Max(20, (nameLength + 3) & ~3);
        var d = new byte[24 + 4 + additional];
        BinaryPrimitives.WriteUInt64BigEndian(d, key);
        BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(8), serviceActionKey);
        d[17] = (byte)((unregister ? 0x02 : 0) | (aptpl ? 0x01 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(18), relativeTargetPort);
        BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(20), (uint)(4 + additional));
        d[24] = (byte)((port ? 0x40 : 0x00) | 0x05);
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(26), (ushort)additional);
        System.Text.Encoding.UTF8.GetBytes(transportName, d.AsSpan(28));
        return d;
    }

    public static byte[] ExtendedCopy(uint listLength)
    {
        var c = new byte[16];
        c[0] = 0x83;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), listLength);
        return c;
    }

    public static byte[] ReceiveCopyResults(byte serviceAction, byte listId = 0, uint allocation = 1024)
    {
        var c = new byte[16];
        c[0] = 0x84;
        c[1] = serviceAction;
        c[2] = listId;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), allocation);
        return c;
    }

    public static byte[] ReportTargetPortGroups(byte format = 0, uint allocation = 1024)
    {
        var c = new byte[12];
        c[0] = 0xA3;
        c[1] = (byte)((format << 5) | 0x0A);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), allocation);
        return c;
    }

    public static byte[] WriteAtomic16(ulong lba, ushort blocks, byte flags = 0, ushort boundary = 0)
    {
        var c = new byte[16];
        c[0] = 0x9C;
        c[1] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(10), boundary);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(12), blocks);
        return c;
    }
}
