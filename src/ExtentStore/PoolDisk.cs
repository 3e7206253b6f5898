using System.Buffers.Binary;
using System.Text;
using StorageAppliance.Common;
using StorageAppliance.Common.Devices;
using StorageAppliance.Metadata;

namespace StorageAppliance.ExtentStore;

/// <summary>
/// One disk of a storage pool. A directory disk keeps each extent group as a sparse file under
/// <c>egroups/</c>; a file or block-device disk keeps them as regions of itself. Either way the disk
/// carries a label with the appliance id and its own disk id, so a disk is recognised whatever its path
/// and never mistaken for another appliance's.
/// </summary>
public sealed class PoolDisk : IDisposable
{
    private const uint LabelMagic = 0x4B534441; // "ADSK"
    private const int LabelSize = 4096;

    /// <summary>Regions of a file disk start after this much space (room for the label).</summary>
    public const long FileDiskDataStart = 1 << 20;

    private readonly IStorageFileSystem _fs;
    private long _usedBytes;

    private PoolDisk(IStorageFileSystem fs, DiskRecord record, bool isDirectory, IStorageFile? device)
    {
        _fs = fs;
        Record = record;
        IsDirectory = isDirectory;
        Device = device;
    }

    public DiskRecord Record { get; }

    public long Id => Record.Id;

    public StorageTier Tier => Record.Tier;

    public string Path => Record.Path;

    public bool IsDirectory { get; }

    /// <summary>The file or device of a file disk; null for a directory disk.</summary>
    public IStorageFile? Device { get; }

    /// <summary>Set after an I/O error: no new extent groups go here, existing data is moved off as it is rewritten.</summary>
    public volatile string? Failure;

    public long CapacityBytes => Record.CapacityBytes;

    /// <summary>Bytes taken by allocated slots and extent group overhead on this disk.</summary>
    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    public void AddUsed(long bytes) => Interlocked.Add(ref _usedBytes, bytes);

    public long FreeBytes => Math.Max(0, CapacityBytes - UsedBytes);

    public string EgroupDirectory => System.IO.Path.Combine(Path, "egroups");

    public string EgroupPath(long egroupId) => System.IO.Path.Combine(EgroupDirectory, $"{egroupId:x16}.eg");

    /// <summary>
    /// Opens a disk, labelling it with <paramref name="newDiskId"/> the first time. Returns the disk id
    /// found on the label. Throws IOException with a clear reason when the label belongs to another
    /// appliance or the path is neither a directory nor a usable file.
    /// </summary>
    public static PoolDisk Open(IStorageFileSystem fs, string path, long poolId, StorageTier tier, long capacityBytes, long applianceId, Func<long> newDiskId)
    {
        bool isFile = fs.Exists(path) && !Directory.Exists(path);
        if (!isFile)
        {
            fs.CreateDirectory(path);
            fs.CreateDirectory(System.IO.Path.Combine(path, "egroups"));
            string labelPath = System.IO.Path.Combine(path, "disk.label");
            long diskId;
            if (fs.Exists(labelPath))
            {
                using var f = fs.Open(labelPath, create: false);
                diskId = ReadLabel(f, 0, path, applianceId);
            }
            else
            {
                diskId = newDiskId();
                using var f = fs.Open(labelPath, create: true);
                WriteLabel(f, 0, applianceId, diskId, poolId);
                fs.SyncDirectory(path);
            }
            if (capacityBytes <= 0)
                capacityBytes = fs.FreeSpace(path) + UsedOnDirectory(fs, path);
            return new PoolDisk(fs, new DiskRecord(diskId, poolId, path, tier, capacityBytes), true, null);
        }

        var device = fs.Open(path, create: false);
        try
        {
            long id;
            var probe = new byte[LabelSize];
            device.Read(probe, 0);
            if (BinaryPrimitives.ReadUInt32LittleEndian(probe) == LabelMagic)
            {
                id = ReadLabel(device, 0, path, applianceId);
            }
            else
            {
                if (probe.AsSpan().IndexOfAnyExcept((byte)0) >= 0)
                    throw new IOException($"{path} holds data that is not a StorageAppliance disk label; refusing to overwrite it (zero its first 4 KiB to use it as a disk)");
                id = newDiskId();
                WriteLabel(device, 0, applianceId, id, poolId);
            }
            long size = device.Length;
            if (capacityBytes <= 0 || capacityBytes > size - FileDiskDataStart)
                capacityBytes = Math.Max(0, size - FileDiskDataStart);
            return new PoolDisk(fs, new DiskRecord(id, poolId, path, tier, capacityBytes), false, device);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    private static long UsedOnDirectory(IStorageFileSystem fs, string path)
    {
        // Space already taken by our own extent groups counts towards "auto" capacity.
        string dir = System.IO.Path.Combine(path, "egroups");
        long used = 0;
        foreach (var name in fs.List(dir, "*.eg"))
        {
            try
            {
                used += new FileInfo(System.IO.Path.Combine(dir, name)).Length;
            }
            catch (IOException)
            {
            }
        }
        return used;
    }

    private static void WriteLabel(IStorageFile f, long offset, long applianceId, long diskId, long poolId)
    {
        var label = new byte[LabelSize];
        BinaryPrimitives.WriteUInt32LittleEndian(label, LabelMagic);
        BinaryPrimitives.WriteInt64LittleEndian(label.AsSpan(8), applianceId);
        BinaryPrimitives.WriteInt64LittleEndian(label.AsSpan(16), diskId);
        BinaryPrimitives.WriteInt64LittleEndian(label.AsSpan(24), poolId);
        Encoding.ASCII.GetBytes("StorageAppliance disk label", label.AsSpan(64));
        BinaryPrimitives.WriteUInt32LittleEndian(label.AsSpan(LabelSize - 4), Crc32C.Compute(label.AsSpan(0, LabelSize - 4)));
        f.Write(label, offset);
        f.Flush();
    }

    private static long ReadLabel(IStorageFile f, long offset, string path, long applianceId)
    {
        var label = new byte[LabelSize];
        if (f.Read(label, offset) < LabelSize || BinaryPrimitives.ReadUInt32LittleEndian(label) != LabelMagic
            || BinaryPrimitives.ReadUInt32LittleEndian(label.AsSpan(LabelSize - 4)) != Crc32C.Compute(label.AsSpan(0, LabelSize - 4)))
            throw new IOException($"the disk label of {path} is damaged");
        long owner = BinaryPrimitives.ReadInt64LittleEndian(label.AsSpan(8));
        if (owner != applianceId)
            throw new IOException($"{path} belongs to another appliance (id {owner:x16}, this one is {applianceId:x16}); refusing to use it");
        return BinaryPrimitives.ReadInt64LittleEndian(label.AsSpan(16));
    }

    public void Dispose() => Device?.Dispose();
}
