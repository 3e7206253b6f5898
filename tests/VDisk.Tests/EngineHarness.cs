using NUnit.Framework;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Common.Devices;
using StorageAppliance.Director;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk.Tests;

/// <summary>
/// A storage engine on an in-memory power-cut file system and an in-memory metadata store, with small
/// blocks (64 KiB) and extent groups (1 MiB, 16 slots) so tests reach allocation and freeing quickly.
/// Drains run only when a test asks. <see cref="Crash"/> cuts the power and brings a new engine up on
/// what survived.
/// </summary>
public sealed class EngineHarness : IDisposable
{
    public const int BlockSize = 64 * 1024;
    public const long EgroupSize = 1 << 20;
    public static readonly IoContext Ctx = IoContext.Internal("test");

    private readonly IReadOnlyList<PoolSpec> _pools;
    private readonly IReadOnlyList<ContainerSpec> _containers;
    private readonly IReadOnlyList<VDiskSpec> _vdisks;

    /// <param name="reduction">Data reduction of the container; with it there is a second vDisk, "w", in the same container.</param>
    public EngineHarness(long vdiskSize = 8 << 20, long diskCapacity = 64 << 20, int disks = 1, IStorageFileSystem? fileSystem = null, IMetadataStore? metadata = null, long maxContainerCapacity = 0,
        DataReductionSpec? reduction = null)
    {
        PowerFs = fileSystem as PowerCutFileSystem ?? (fileSystem is null ? new PowerCutFileSystem() : null);
        Faults = new FaultInjectingFileSystem(fileSystem ?? PowerFs!);
        Meta = metadata ?? new MemoryMetadataStore(applianceId: 42);
        _pools = [new PoolSpec("pool", Enumerable.Range(0, disks).Select(i => new DiskSpec($"/disks/ssd{i}", StorageTier.Ssd, diskCapacity)).ToList())];
        _containers = [new ContainerSpec("ctr", "pool", 1, maxContainerCapacity, 0, BlockSize, EgroupSize, [StorageTier.Ssd, StorageTier.Hdd], reduction)];
        _vdisks = reduction is null
            ? [new VDiskSpec("v", "ctr", vdiskSize, 512, true)]
            : [new VDiskSpec("v", "ctr", vdiskSize, 512, true), new VDiskSpec("w", "ctr", vdiskSize, 512, true)];
        Engine = NewEngine();
    }

    public PowerCutFileSystem? PowerFs { get; }

    public FaultInjectingFileSystem Faults { get; }

    public IMetadataStore Meta { get; private set; }

    public StorageEngine Engine { get; private set; }

    public IVDisk V => Engine.Open("v")!;

    private StorageEngine NewEngine()
    {
        var engine = new StorageEngine(Meta, Faults, new StorageEngineOptions
        {
            JournalDirectory = "/disks/ssd0/journal",
            JournalSegmentSize = 1 << 20,
            JournalBackgroundFlush = TimeSpan.Zero,
            DrainThresholdBytes = long.MaxValue,
            DrainInterval = TimeSpan.FromHours(1),
        }, NullLoggerFactory.Instance);
        engine.CuratorInterval = TimeSpan.Zero; // passes run when a test asks
        engine.Open(_pools, _containers, _vdisks);
        return engine;
    }

    public void Drain() => Assert.That(Engine.DrainAsync().Wait(TimeSpan.FromSeconds(30)), Is.True, "drain did not finish");

    /// <summary>A clean stop and start on the same data.</summary>
    public void Restart()
    {
        Engine.Dispose();
        if (Meta is MemoryMetadataStore m)
            Meta = m.Reopen();
        Engine = NewEngine();
    }

    /// <summary>Power cut (whatever is not durable is lost, or torn if the file system says so), then start again.</summary>
    public void Crash()
    {
        PowerFs!.CutPower();
        if (Meta is MemoryMetadataStore m)
            m.CutPower();
        Engine.Abandon();
        PowerFs.PowerCycle();
        if (Meta is MemoryMetadataStore m2)
            Meta = m2.Reopen();
        Faults.Heal();
        Engine = NewEngine();
    }

    public IoStatus Write(long offset, byte[] data, bool fua = false) =>
        V.WriteAsync(offset, data, fua ? IoFlags.ForceUnitAccess : IoFlags.None, Ctx).AsTask().GetAwaiter().GetResult();

    public (IoStatus Status, byte[] Data) Read(long offset, int length)
    {
        var buffer = new byte[length];
        var status = V.ReadAsync(offset, buffer, Ctx).AsTask().GetAwaiter().GetResult();
        return (status, buffer);
    }

    public byte[] ReadOk(long offset, int length)
    {
        var (status, data) = Read(offset, length);
        Assert.That(status, Is.EqualTo(IoStatus.Ok), $"read at {offset}");
        return data;
    }

    public IoStatus Unmap(long offset, long length) => V.UnmapAsync(offset, length, Ctx).AsTask().GetAwaiter().GetResult();

    public static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public void Dispose()
    {
        try
        {
            Engine.Dispose();
        }
        catch (Exception)
        {
        }
    }
}
