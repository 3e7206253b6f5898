using System.Buffers.Binary;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>Headers of the initiator PDUs, laid out as RFC 7143 section 11 draws them.</summary>
public static class Pdus
{
    private static byte[] Begin(IscsiOpcode opcode, bool immediate, byte flags, int dataSegmentLength)
    {
        var bhs = new byte[48];
        bhs[0] = (byte)((byte)opcode | (immediate ? 0x40 : 0));
        bhs[1] = flags;
        bhs[5] = (byte)(dataSegmentLength >> 16);
        bhs[6] = (byte)(dataSegmentLength >> 8);
        bhs[7] = (byte)dataSegmentLength;
        return bhs;
    }

    private static void U32(byte[] bhs, int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(offset), value);

    /// <summary>LUN field for a LUN below 256 (SAM-5 peripheral device addressing).</summary>
    public static void Lun(byte[] bhs, ulong lun) => bhs[9] = (byte)lun;

    public static byte[] Login(bool transit, bool @continue, LoginStage csg, LoginStage nsg, ulong isid, ushort tsih, uint itt, ushort cid,
        uint cmdSN, uint expStatSN, int dataSegmentLength, byte versionMax = 0, byte versionMin = 0)
    {
        byte flags = (byte)(((byte)csg << 2) | (byte)nsg);
        if (transit)
            flags |= 0x80;
        if (@continue)
            flags |= 0x40;
        var bhs = Begin(IscsiOpcode.LoginRequest, true, flags, dataSegmentLength);
        bhs[2] = versionMax;
        bhs[3] = versionMin;
        U32(bhs, 8, (uint)(isid >> 16));
        BinaryPrimitives.WriteUInt16BigEndian(bhs.AsSpan(12), (ushort)isid);
        BinaryPrimitives.WriteUInt16BigEndian(bhs.AsSpan(14), tsih);
        U32(bhs, 16, itt);
        BinaryPrimitives.WriteUInt16BigEndian(bhs.AsSpan(20), cid);
        U32(bhs, 24, cmdSN);
        U32(bhs, 28, expStatSN);
        return bhs;
    }

    /// <summary>SCSI Command: F is set unless unsolicited Data-Out follows.</summary>
    public static byte[] ScsiCommand(byte[] cdb, uint itt, uint edtl, uint cmdSN, uint expStatSN, bool read, bool write, int dataSegmentLength = 0,
        bool final = true, bool immediate = false, ulong lun = 0)
    {
        byte flags = 0x01; // simple task attribute
        if (final)
            flags |= 0x80;
        if (read)
            flags |= 0x40;
        if (write)
            flags |= 0x20;
        var bhs = Begin(IscsiOpcode.ScsiCommand, immediate, flags, dataSegmentLength);
        Lun(bhs, lun);
        U32(bhs, 16, itt);
        U32(bhs, 20, edtl);
        U32(bhs, 24, cmdSN);
        U32(bhs, 28, expStatSN);
        cdb.CopyTo(bhs, 32);
        return bhs;
    }

    public static byte[] DataOut(bool final, uint itt, uint ttt, uint expStatSN, uint dataSN, uint bufferOffset, int dataSegmentLength, ulong lun = 0)
    {
        var bhs = Begin(IscsiOpcode.DataOut, false, (byte)(final ? 0x80 : 0), dataSegmentLength);
        Lun(bhs, lun);
        U32(bhs, 16, itt);
        U32(bhs, 20, ttt);
        U32(bhs, 28, expStatSN);
        U32(bhs, 36, dataSN);
        U32(bhs, 40, bufferOffset);
        return bhs;
    }

    public static byte[] NopOut(uint itt, uint ttt, uint cmdSN, uint expStatSN, int dataSegmentLength = 0, bool immediate = true, ulong lun = 0)
    {
        var bhs = Begin(IscsiOpcode.NopOut, immediate, 0x80, dataSegmentLength);
        Lun(bhs, lun);
        U32(bhs, 16, itt);
        U32(bhs, 20, ttt);
        U32(bhs, 24, cmdSN);
        U32(bhs, 28, expStatSN);
        return bhs;
    }

    public static byte[] TaskManagement(TaskManagementFunction function, uint itt, uint referencedItt, uint cmdSN, uint expStatSN, uint refCmdSN,
        bool immediate = true, ulong lun = 0)
    {
        var bhs = Begin(IscsiOpcode.TaskManagementRequest, immediate, (byte)(0x80 | (byte)function), 0);
        Lun(bhs, lun);
        U32(bhs, 16, itt);
        U32(bhs, 20, referencedItt);
        U32(bhs, 24, cmdSN);
        U32(bhs, 28, expStatSN);
        U32(bhs, 32, refCmdSN);
        return bhs;
    }

    public static byte[] Text(uint itt, uint ttt, uint cmdSN, uint expStatSN, int dataSegmentLength, bool final = true, bool @continue = false, bool immediate = true)
    {
        byte flags = 0;
        if (final)
            flags |= 0x80;
        if (@continue)
            flags |= 0x40;
        var bhs = Begin(IscsiOpcode.TextRequest, immediate, flags, dataSegmentLength);
        U32(bhs, 16, itt);
        U32(bhs, 20, ttt);
        U32(bhs, 24, cmdSN);
        U32(bhs, 28, expStatSN);
        return bhs;
    }

    public static byte[] Logout(LogoutReason reason, uint itt, ushort cid, uint cmdSN, uint expStatSN, bool immediate = true)
    {
        var bhs = Begin(IscsiOpcode.LogoutRequest, immediate, (byte)(0x80 | (byte)reason), 0);
        U32(bhs, 16, itt);
        BinaryPrimitives.WriteUInt16BigEndian(bhs.AsSpan(20), cid);
        U32(bhs, 24, cmdSN);
        U32(bhs, 28, expStatSN);
        return bhs;
    }

    // ---------------------------------------------------------------- CDBs

    public static byte[] TestUnitReady() => new byte[16];

    public static byte[] Inquiry(ushort allocation)
    {
        var cdb = new byte[16];
        cdb[0] = 0x12;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(3), allocation);
        return cdb;
    }

    public static byte[] Read10(uint lba, ushort blocks) => ReadWrite10(0x28, lba, blocks);

    public static byte[] Write10(uint lba, ushort blocks) => ReadWrite10(0x2A, lba, blocks);

    private static byte[] ReadWrite10(byte opcode, uint lba, ushort blocks)
    {
        var cdb = new byte[16];
        cdb[0] = opcode;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), blocks);
        return cdb;
    }
}
