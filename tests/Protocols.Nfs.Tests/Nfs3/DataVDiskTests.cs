using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>
/// A file's data vDisk as the administrator sees it: the file it belongs to, and the audit that finds a
/// written file whose vDisk is gone (and a vDisk whose file is gone). A lost vDisk makes READ and WRITE
/// fail with NFS3ERR_IO, after a restart as before, rather than read zeros or start a new empty vDisk.
/// </summary>
public class DataVDiskTests
{
    private string _dir = null!;
    private string _db = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "nfs-data-" + Guid.NewGuid().ToString("n"));
        _db = Path.Combine(_dir, "nfs-namespace.db");
    }

    [TearDown]
    public void TearDown()
    {
        try
        {
            Directory.Delete(_dir, true);
        }
        catch (IOException)
        {
        }
    }

    private static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static HashSet<string> Names(NfsTestHost host) => host.Provisioner.List().Select(d => d.Name).ToHashSet();

    [Test]
    public void Data_vdisk_names_parse_only_in_the_exact_form()
    {
        Assert.That(NfsFileSystem.TryParseVDiskName(NfsFileSystem.VDiskName(0x2a), out ulong id), Is.True);
        Assert.That(id, Is.EqualTo(0x2aUL));
        foreach (var bad in new[] { "nfs-2a", "nfs-000000000000002A", "NFS-000000000000002a", "nfs-000000000000002g", "nfs-000000000000002a0", "disk0", "nfs-" })
            Assert.That(NfsFileSystem.TryParseVDiskName(bad, out _), Is.False, bad);
    }

    [Test]
    public async Task A_data_vdisk_names_its_file_by_export_and_path()
    {
        await using var host = new NfsTestHost(new SqliteNamespaceStore(_db), _dir);
        await using var c = host.Connect();
        var root = (await c.MountAsync("/data")).Handle;
        var vm = (await c.MkDirAsync(root, "vm1")).Handle;
        var sub = (await c.MkDirAsync(vm, "disks")).Handle;
        var (_, f) = await c.CreateAsync(sub, "disk.raw");
        await c.WriteAsync(f, 0, Bytes(5000, 1));
        var name = host.Provisioner.List().Single().Name;
        var file = host.FileSystem.FindDataFile(name);
        Assert.That(file, Is.Not.Null);
        Assert.That((file!.Export, file.Path, file.SizeBytes), Is.EqualTo(("/data", "/vm1/disks/disk.raw", 5000UL)));
        Assert.That(await c.RenameAsync(sub, "disk.raw", root, "moved.raw"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(host.FileSystem.FindDataFile(name)!.Path, Is.EqualTo("/moved.raw"));
        Assert.That(host.FileSystem.AuditData(Names(host)), Is.Empty);
        Assert.That(await c.RemoveAsync(root, "moved.raw"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(host.FileSystem.FindDataFile(name), Is.Null);
        Assert.That(host.FileSystem.FindDataFile("disk0"), Is.Null);
        Assert.That(host.Provisioner.List(), Is.Empty);
    }

    [Test]
    public async Task A_file_whose_vdisk_is_deleted_underneath_fails_with_io_and_the_audit_names_it_after_a_restart()
    {
        byte[] file, root;
        string name;
        {
            var host = new NfsTestHost(new SqliteNamespaceStore(_db), _dir);
            await using var c = host.Connect();
            root = (await c.MountAsync("/data")).Handle;
            var d = (await c.MkDirAsync(root, "vm")).Handle;
            file = (await c.CreateAsync(d, "disk.img")).Handle;
            Assert.That((await c.WriteAsync(file, 0, Bytes(8192, 2), StableHow.FileSync)).Item1, Is.EqualTo(Nfsstat3.Ok));
            // A file extended by SETATTR and never written has no vDisk, and that is not a loss.
            var (_, sparse) = await c.CreateAsync(d, "sparse.img");
            Assert.That(await c.SetAttrAsync(sparse, new XdrBuilder().Sattr(size: 1 << 20)), Is.EqualTo(Nfsstat3.Ok));
            name = host.Provisioner.List().Single().Name;
            // What `vdisk delete` did before it was refused: the vDisk goes, the file stays.
            host.Provisioner.Delete(name);
            var problems = host.FileSystem.AuditData(Names(host));
            Assert.That(problems, Has.Count.EqualTo(1));
            Assert.That(problems[0], Does.Contain("/data:/vm/disk.img").And.Contain(name).And.Contain("8192 bytes"));
            await host.DisposeAsync();
        }
        {
            var host = new NfsTestHost(new SqliteNamespaceStore(_db), _dir);
            await using var c = host.Connect();
            Assert.That((await c.GetAttrAsync(file)).Item2!.Size, Is.EqualTo(8192UL));
            Assert.That((await c.ReadAsync(file, 0, 4096)).Item1, Is.EqualTo(Nfsstat3.Io), "not zeros");
            Assert.That((await c.WriteAsync(file, 0, new byte[10])).Item1, Is.EqualTo(Nfsstat3.Io), "not a new, empty vDisk");
            Assert.That((await c.NfsAsync(21, new XdrBuilder().Opaque(file).U64(0).U32(0))).Status, Is.EqualTo(Nfsstat3.Io));
            Assert.That(host.Provisioner.List(), Is.Empty);
            var problems = host.FileSystem.AuditData(Names(host));
            Assert.That(problems, Has.Count.EqualTo(1));
            Assert.That(problems[0], Does.Contain("/data:/vm/disk.img"));
            // Removing the file ends the problem.
            var (_, d) = await c.LookupAsync(root, "vm");
            Assert.That(await c.RemoveAsync(d, "disk.img"), Is.EqualTo(Nfsstat3.Ok));
            Assert.That(host.FileSystem.AuditData(Names(host)), Is.Empty);
            await host.DisposeAsync();
        }
    }

    [Test]
    public async Task A_data_vdisk_without_its_file_is_reported_as_unreachable_space()
    {
        await using var host = new NfsTestHost(new SqliteNamespaceStore(_db), _dir);
        await using var c = host.Connect();
        var root = (await c.MountAsync("/data")).Handle;
        var (_, f) = await c.CreateAsync(root, "f");
        await c.WriteAsync(f, 0, Bytes(100, 3));
        string orphan = NfsFileSystem.VDiskName(0xfffff);
        host.Provisioner.Create("c1", orphan, 1 << 20);
        host.Provisioner.Create("c1", "disk0", 1 << 20);
        var problems = host.FileSystem.AuditData(Names(host));
        Assert.That(problems, Has.Count.EqualTo(1));
        Assert.That(problems[0], Does.Contain(orphan).And.Contain("no longer exists"));
    }

    [Test]
    public async Task A_new_file_never_gets_the_id_of_an_existing_data_vdisk()
    {
        // As after restoring an older namespace: a data vDisk with an id above the namespace's high-water mark.
        ulong leftover = 0x1000;
        using (var p = new FileVDiskProvisioner(Path.Combine(_dir, "vdisks")))
        {
            var v = p.Create("c1", NfsFileSystem.VDiskName(leftover), 1 << 20);
            Assert.That(await v.WriteAsync(0, Bytes(4096, 9), StorageAppliance.Director.IoFlags.None, StorageAppliance.Director.IoContext.Internal("test")), Is.EqualTo(StorageAppliance.Director.IoStatus.Ok));
        }
        await using var host = new NfsTestHost(new SqliteNamespaceStore(_db), _dir);
        await using var c = host.Connect();
        var root = (await c.MountAsync("/data")).Handle;
        var (_, f) = await c.CreateAsync(root, "new");
        var attrs = (await c.GetAttrAsync(f)).Item2!;
        Assert.That(attrs.FileId, Is.GreaterThan(leftover));
        Assert.That(attrs.Size, Is.EqualTo(0UL));
        Assert.That((await c.WriteAsync(f, 0, Bytes(10, 10))).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That(host.FileSystem.FindDataFile(NfsFileSystem.VDiskName(leftover)), Is.Null, "the leftover vDisk is not the new file's");
        Assert.That(host.FileSystem.FindDataFile(NfsFileSystem.VDiskName(attrs.FileId))!.Path, Is.EqualTo("/new"));
    }

    [Test]
    public async Task The_in_memory_store_keeps_the_data_flag_and_finds_entries_like_the_sqlite_one()
    {
        await using var host = new NfsTestHost();
        await using var c = host.Connect();
        var root = (await c.MountAsync("/data")).Handle;
        var (_, f) = await c.CreateAsync(root, "f");
        await c.WriteAsync(f, 0, Bytes(100, 4));
        Assert.That(await c.SetAttrAsync(f, new XdrBuilder().Sattr(mode: 0x180)), Is.EqualTo(Nfsstat3.Ok), "a later put of the node keeps the flag");
        var name = host.Provisioner.List().Single().Name;
        Assert.That(host.FileSystem.Store.FilesWithData(), Has.Count.EqualTo(1));
        Assert.That(host.FileSystem.FindDataFile(name)!.Path, Is.EqualTo("/f"));
        host.Provisioner.Delete(name);
        Assert.That(host.FileSystem.AuditData(Names(host)), Has.Count.EqualTo(1));
    }
}
