using System.Buffers.Binary;

namespace StorageAppliance.Integration.Tests;

/// <summary>CDBs and sense decoding for tests that drive a LUN through <see cref="RawInitiator"/>.</summary>
public static class Scsi
{
    public const byte Good = 0x00;
    public const byte CheckCondition = 0x02;

    public const int MediumError = 0x3;
    public const int DataProtect = 0x7;

    /// <summary>READ(16) (SBC-4 5.16): opcode 88h, LBA in bytes 2-9, transfer length in blocks in bytes 10-13.</summary>
    public static byte[] Read16(long lba, int blocks)
    {
        var cdb = new byte[16];
        cdb[0] = 0x88;
        BinaryPrimitives.WriteInt64BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteInt32BigEndian(cdb.AsSpan(10), blocks);
        return cdb;
    }

    /// <summary>WRITE(16) (SBC-4 5.40): opcode 8Ah, FUA is bit 3 of byte 1.</summary>
    public static byte[] Write16(long lba, int blocks, bool fua = false)
    {
        var cdb = new byte[16];
        cdb[0] = 0x8a;
        cdb[1] = (byte)(fua ? 0x08 : 0);
        BinaryPrimitives.WriteInt64BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteInt32BigEndian(cdb.AsSpan(10), blocks);
        return cdb;
    }

    /// <summary>READ CAPACITY(16): the number of blocks (last LBA + 1) and the block size.</summary>
    public static (long Blocks, int BlockSize) ReadCapacity(RawInitiator raw, int lun = 0)
    {
        byte[] cdb = [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0];
        var (status, data) = raw.ScsiCommandIn(cdb, 32, lun);
        Assert.That(status, Is.EqualTo(Good), "READ CAPACITY(16)");
        return (BinaryPrimitives.ReadInt64BigEndian(data) + 1, BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(8)));
    }

    /// <summary>The WCE bit of the caching mode page (MODE SENSE(6), page 08h, DBD set).</summary>
    public static bool WriteCacheEnabled(RawInitiator raw, int lun = 0)
    {
        byte[] cdb = [0x1a, 0x08, 0x08, 0, 255, 0];
        var (status, data) = raw.ScsiCommandIn(cdb, 255, lun);
        Assert.That(status, Is.EqualTo(Good), "MODE SENSE(6) caching page");
        int page = 4 + data[3]; // header, then block descriptors (none with DBD)
        Assert.That(data[page] & 0x3f, Is.EqualTo(0x08), "the caching mode page");
        return (data[page + 2] & 0x04) != 0;
    }

    /// <summary>Sense key, ASC and ASCQ of fixed (70h/71h) or descriptor (72h/73h) format sense data.</summary>
    public static (int Key, int Asc, int Ascq) Decode(byte[] sense)
    {
        if (sense.Length < 4)
            return (-1, -1, -1);
        int code = sense[0] & 0x7f;
        if (code is 0x72 or 0x73)
            return (sense[1] & 0x0f, sense[2], sense[3]);
        if (sense.Length < 14)
            return (-1, -1, -1);
        return (sense[2] & 0x0f, sense[12], sense[13]);
    }

    public static string Describe(byte status, byte[] sense)
    {
        var (key, asc, ascq) = Decode(sense);
        return status == Good ? "GOOD" : $"status {status:x2}h, sense key {key:x}h, ASC/ASCQ {asc:x2}h/{ascq:x2}h";
    }
}
