using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Common.Devices;
using StorageAppliance.Metadata;
using StorageAppliance.Protocols.Nfs.Mount;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;
using StorageAppliance.VDisk;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>
/// FSSTAT (RFC 1813 section 3.3.18) over the storage engine: each export reports its container's size and
/// free space, which shrinks as files are written. One 64 MiB pool holds three containers: "capped"
/// (max_capacity 16 MiB), "open" (no maximum) and "guaranteed" (8 MiB reserved, so the others cannot count it).
/// </summary>
public class FsStatTests
{
    private const long Pool = 64 << 20;
    private const long Cap = 16 << 20;
    private const long Guaranteed = 8 << 20;
    private const int BlockSize = 64 * 1024;

    private StorageEngine _engine = null!;
    private NfsFileSystem _fs = null!;
    private Nfs3Client _client = null!;

    [SetUp]
    public void SetUp()
    {
        _engine = new StorageEngine(new MemoryMetadataStore(applianceId: 7), new PowerCutFileSystem(), new StorageEngineOptions
        {
            JournalDirectory = "/disks/ssd0/journal",
            JournalSegmentSize = 1 << 20,
            JournalBackgroundFlush = TimeSpan.Zero,
            DrainThresholdBytes = long.MaxValue,
            DrainInterval = TimeSpan.FromHours(1),
        }, NullLoggerFactory.Instance);
        StorageTier[] tiers = [StorageTier.Ssd, StorageTier.Hdd];
        _engine.Open(
            [new PoolSpec("pool", [new DiskSpec("/disks/ssd0", StorageTier.Ssd, Pool)])],
            [
                new ContainerSpec("capped", "pool", 1, Cap, 0, BlockSize, 1 << 20, tiers),
                new ContainerSpec("open", "pool", 1, 0, 0, BlockSize, 1 << 20, tiers),
                new ContainerSpec("guaranteed", "pool", 1, 0, Guaranteed, BlockSize, 1 << 20, tiers),
            ],
            []);
        var options = new NfsServerOptions
        {
            InMemoryNamespace = true,
            Exports =
            [
                new ExportOptions { Path = "/capped", Container = "capped", RootSquash = false },
                new ExportOptions { Path = "/open", Container = "open", RootSquash = false },
                new ExportOptions { Path = "/missing", Container = "no-such-container", RootSquash = false },
            ],
        };
        _fs = new NfsFileSystem(options, new InMemoryNamespaceStore(), _engine, NullLogger.Instance);
        var server = PipeRpcClient.NewServer(new Nfs3Program(_fs, 1, NullLogger.Instance), new MountProgram(_fs, NullLogger.Instance));
        _client = new Nfs3Client(new PipeRpcClient(server));
    }

    [TearDown]
    public async Task TearDown()
    {
        await _client.DisposeAsync();
        _fs.Dispose();
        _engine.Dispose();
    }

    private async Task<(ulong Total, ulong Free, ulong Avail)> FsStatAsync(byte[] fh)
    {
        var (st, body) = await _client.NfsAsync(18, new XdrBuilder().Opaque(fh));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        Assert.That(r.TryReadUInt64(out ulong t) & r.TryReadUInt64(out ulong f) & r.TryReadUInt64(out ulong a), Is.True);
        return (t, f, a);
    }

    private async Task<byte[]> MountAsync(string path)
    {
        var (st, fh) = await _client.MountAsync(path);
        Assert.That(st, Is.EqualTo(0u));
        return fh;
    }

    [Test]
    public async Task A_capped_container_reports_its_maximum_and_free_space_shrinks_with_writes()
    {
        var root = await MountAsync("/capped");
        var before = await FsStatAsync(root);
        Assert.That(before, Is.EqualTo(((ulong)Cap, (ulong)Cap, (ulong)Cap)));

        var (st, fh) = await _client.CreateAsync(root, "disk.img");
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var data = new byte[1 << 20];
        new Random(3).NextBytes(data);
        var (wst, _, _, _) = await _client.WriteAsync(fh, 0, data, StableHow.FileSync);
        Assert.That(wst, Is.EqualTo(Nfsstat3.Ok));

        var after = await FsStatAsync(root);
        Assert.That(after.Total, Is.EqualTo((ulong)Cap), "the size of the file system does not change");
        Assert.That(after.Free, Is.LessThanOrEqualTo((ulong)(Cap - data.Length)), "1 MiB written is 1 MiB less free");
        Assert.That(after.Free, Is.GreaterThan((ulong)(Cap - 2 * data.Length)), "and not much more than that");
        Assert.That(after.Avail, Is.EqualTo(after.Free));

        // Once drained into extents the space stays taken (reservation turned into allocation).
        Assert.That(_engine.DrainAsync().Wait(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That((await FsStatAsync(root)).Free, Is.LessThanOrEqualTo((ulong)(Cap - data.Length)));
    }

    [Test]
    public async Task An_uncapped_container_reports_its_pool_less_what_other_containers_are_guaranteed()
    {
        var root = await MountAsync("/open");
        var (total, free, avail) = await FsStatAsync(root);
        Assert.That(total, Is.EqualTo((ulong)Pool));
        Assert.That(free, Is.EqualTo((ulong)(Pool - Guaranteed)));
        Assert.That(avail, Is.EqualTo(free));
    }

    [Test]
    public async Task Without_figures_for_the_container_the_configured_size_is_reported()
    {
        var root = await MountAsync("/missing");
        var (total, free, _) = await FsStatAsync(root);
        Assert.That((total, free), Is.EqualTo(((ulong)_fs.Options.ReportedCapacityBytes, (ulong)_fs.Options.ReportedCapacityBytes)));
    }
}
