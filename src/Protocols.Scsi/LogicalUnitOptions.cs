namespace StorageAppliance.Protocols.Scsi;

/// <summary>What a logical unit reports about itself, fixed at creation.</summary>
public sealed class LogicalUnitOptions
{
    /// <summary>Logical block size in bytes: 512 or 4096.</summary>
    public int LogicalBlockSize { get; init; } = 512;

    /// <summary>
    /// Physical block size reported by READ CAPACITY (16) (LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT): 0 or the
    /// logical block size for one logical block per physical block, 4096 for a 512-byte unit that should be
    /// written in 4 KiB units ("512e"). Left at one per physical block by default: libiscsi 1.19's
    /// GetLBAStatus.UnmapSingle assumes it.
    /// </summary>
    public int PhysicalBlockSize { get; init; }

    /// <summary>T10 vendor identification, 8 ASCII characters (padded with spaces).</summary>
    public string VendorId { get; init; } = "STORAPPL";

    /// <summary>Product identification, 16 ASCII characters (padded with spaces).</summary>
    public string ProductId { get; init; } = "vDisk";

    /// <summary>Product revision level, 4 ASCII characters.</summary>
    public string ProductRevision { get; init; } = "0001";

    /// <summary>Unit serial number (VPD 80), stable across restarts.</summary>
    public required string SerialNumber { get; init; }

    /// <summary>
    /// 16-byte NAA IEEE Registered Extended designator (NAA 6) for VPD 83, stable across restarts and
    /// identical through every target port, so multipath software sees one device.
    /// </summary>
    public required byte[] NaaDesignator { get; init; }

    /// <summary>Initial state of the write cache (caching mode page WCE bit).</summary>
    public bool WriteCacheEnabled { get; init; } = true;

    /// <summary>The LU rejects every write with DATA PROTECT / WRITE PROTECTED.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Thin-provisioned: reported in READ CAPACITY 16 (LBPME) and VPD B2.</summary>
    public bool ThinProvisioned { get; init; } = true;

    /// <summary>
    /// START STOP UNIT with START=0 puts the unit in SBC-3's stopped condition (NOT READY until a START).
    /// Off by default: a LUN shared by several hypervisors must not vanish for all of them because one
    /// guest stopped it (LIO and tgt behave the same way). The stop still writes the cache out.
    /// </summary>
    public bool HonourStop { get; init; }

    /// <summary>Largest transfer in logical blocks a single command may ask for (VPD B0).</summary>
    public uint MaximumTransferLengthBlocks { get; init; } = 32768;

    /// <summary>
    /// How much one PRE-FETCH may read ahead, in bytes: the "cache" SBC-3 speaks of. A PRE-FETCH of a range
    /// that fits completes with CONDITION MET, a larger one reads this much and completes with GOOD.
    /// </summary>
    public long PrefetchCacheBytes { get; init; } = 32 << 20;

    /// <summary>
    /// Where persistent reservations made with APTPL=1 are kept across restarts; without one, REPORT CAPABILITIES
    /// says PTPL_C=0 and APTPL=1 is refused. The unit loads its state from it when created.
    /// </summary>
    public IReservationStore? ReservationStore { get; init; }
}
