using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>READ, WRITE, COMMIT.</summary>
public class DataProcedureTests : NfsTestBase
{
    [Test]
    public async Task Write_then_read_back_at_odd_offsets()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        var a = Bytes(3333, 1);
        var b = Bytes(1 << 20, 2);
        Assert.That((await Client.WriteAsync(fh, 7, a)).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.WriteAsync(fh, 100_001, b)).Item1, Is.EqualTo(Nfsstat3.Ok));
        var (st, read, eof) = await Client.ReadAsync(fh, 7, 3333);
        Assert.That((st, eof), Is.EqualTo((Nfsstat3.Ok, false)));
        Assert.That(read, Is.EqualTo(a));
        (_, read, eof) = await Client.ReadAsync(fh, 100_001, 1 << 20);
        Assert.That(read, Is.EqualTo(b));
        Assert.That(eof, Is.True, "the read ended at the end of the file");
        (_, read, _) = await Client.ReadAsync(fh, 0, 7);
        Assert.That(read, Is.EqualTo(new byte[7]), "never written reads as zeros");
        Assert.That((await Client.GetAttrAsync(fh)).Item2!.Size, Is.EqualTo(100_001ul + (1 << 20)));
    }

    [Test]
    public async Task Read_past_the_end_returns_no_data_and_eof()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        await Client.WriteAsync(fh, 0, Bytes(100, 3));
        var (st, data, eof) = await Client.ReadAsync(fh, 100, 50);
        Assert.That((st, data.Length, eof), Is.EqualTo((Nfsstat3.Ok, 0, true)));
        (st, data, eof) = await Client.ReadAsync(fh, 90, 50);
        Assert.That((st, data.Length, eof), Is.EqualTo((Nfsstat3.Ok, 10, true)));
        var (_, empty) = await Client.CreateAsync(Root, "empty");
        (st, data, eof) = await Client.ReadAsync(empty, 0, 4096);
        Assert.That((st, data.Length, eof), Is.EqualTo((Nfsstat3.Ok, 0, true)));
        Assert.That(Host.Provisioner.Created, Is.EqualTo(1), "an empty file has no vDisk");
    }

    [Test]
    public async Task Read_and_write_on_a_directory_are_isdir()
    {
        Assert.That((await Client.ReadAsync(Root, 0, 10)).Item1, Is.EqualTo(Nfsstat3.IsDir));
        Assert.That((await Client.WriteAsync(Root, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.IsDir));
    }

    [Test]
    public async Task Write_reports_the_stability_achieved_and_a_constant_verifier()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        var w1 = await Client.WriteAsync(fh, 0, Bytes(10, 1), StableHow.Unstable);
        var w2 = await Client.WriteAsync(fh, 10, Bytes(10, 2), StableHow.FileSync);
        var w3 = await Client.WriteAsync(fh, 20, Bytes(10, 2), StableHow.DataSync);
        Assert.That((w1.Committed, w2.Committed, w3.Committed), Is.EqualTo((StableHow.Unstable, StableHow.FileSync, StableHow.DataSync)));
        Assert.That(w1.Verifier, Is.EqualTo(Host.Verifier));
        Assert.That(w2.Verifier, Is.EqualTo(Host.Verifier));
        Assert.That(w1.Count, Is.EqualTo(10u));
    }

    [Test]
    public async Task Write_wcc_data_shows_the_size_before_and_after()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        await Client.WriteAsync(fh, 0, Bytes(100, 1));
        var (st, body) = await Client.NfsAsync(7, new XdrBuilder().Opaque(fh).U64(100).U32(50).U32(0).Opaque(Bytes(50, 2)));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        var (before, after) = Nfs3Client.ReadWcc(ref r);
        Assert.That(before, Is.EqualTo(100ul));
        Assert.That(after!.Size, Is.EqualTo(150ul));
    }

    [Test]
    public async Task Write_count_larger_than_the_data_is_inval()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        var (st, _) = await Client.NfsAsync(7, new XdrBuilder().Opaque(fh).U64(0).U32(100).U32(0).Opaque(new byte[10]));
        Assert.That(st, Is.EqualTo(Nfsstat3.Inval));
    }

    [Test]
    public async Task Write_beyond_the_maximum_file_size_is_fbig()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        var (st, _, _, _) = await Client.WriteAsync(fh, (ulong)Host.Options.MaxFileSize - 2, new byte[10]);
        Assert.That(st, Is.EqualTo(Nfsstat3.FBig));
    }

    [Test]
    public async Task Commit_returns_the_verifier_and_persists_the_size()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        await Client.WriteAsync(fh, 0, Bytes(12345, 1));
        var (st, body) = await Client.NfsAsync(21, new XdrBuilder().Opaque(fh).U64(0).U32(0));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Nfs3Client.ReadWcc(ref r);
        r.TryReadUInt64(out ulong verf);
        Assert.That(verf, Is.EqualTo(Host.Verifier));
        Host.FileSystem.Store.TryLoad(FileHandle.TryParse(fh, out var h) ? h.FileId : 0, out var rec);
        Assert.That(rec.Size, Is.EqualTo(12345ul), "COMMIT wrote the size to the namespace");
    }

    [Test]
    public async Task Read_only_export_refuses_writes_with_rofs()
    {
        // Make a file through the rw export, then reach the same namespace read-only? Exports are separate
        // trees, so use the ro export's root: every mutating procedure must answer ROFS.
        var (_, ro) = await Client.MountAsync("/ro");
        Assert.That((await Client.CreateAsync(ro, "x")).Item1, Is.EqualTo(Nfsstat3.RoFs));
        Assert.That((await Client.MkDirAsync(ro, "d")).Item1, Is.EqualTo(Nfsstat3.RoFs));
        Assert.That(await Client.RemoveAsync(ro, "x"), Is.EqualTo(Nfsstat3.RoFs));
        Assert.That(await Client.RenameAsync(ro, "a", ro, "b"), Is.EqualTo(Nfsstat3.RoFs));
        Assert.That(await Client.SetAttrAsync(ro, new XdrBuilder().Sattr(mode: 0x1ff)), Is.EqualTo(Nfsstat3.RoFs));
        Assert.That((await Client.NfsAsync(10, new XdrBuilder().Opaque(ro).Str("l").Sattr().Str("t"))).Status, Is.EqualTo(Nfsstat3.RoFs));
    }

    [Test]
    public async Task Write_to_a_read_only_export_file_is_rofs()
    {
        // A file that exists in a read-only export: create it through the file system directly.
        var export = Host.FileSystem.FindExport("/ro")!;
        var root = Host.FileSystem.GetNode(export.RootId)!;
        var writable = new Export(new ExportOptions { Path = "/ro", Container = "c1", RootSquash = false }, export.RootId);
        Host.FileSystem.Create(writable, root, "f"u8, new Caller(0, 0, null), Ftype3.Reg, default, CreateMode.Guarded, 0, null, 0, 0, out var node, out _);
        var fh = Host.FileSystem.HandleOf(node!).ToArray();
        var (st, _, _, _) = await Client.WriteAsync(fh, 0, new byte[10], StableHow.FileSync);
        Assert.That(st, Is.EqualTo(Nfsstat3.RoFs));
        Assert.That((await Client.ReadAsync(fh, 0, 10)).Item1, Is.EqualTo(Nfsstat3.Ok), "reads still work");
    }

    [Test]
    public async Task Concurrent_writes_to_many_offsets_all_land()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        var tasks = new List<Task>();
        var clients = new List<Nfs3Client>();
        for (int c = 0; c < 4; c++)
        {
            var cl = Host.Connect();
            clients.Add(cl);
            int cc = c;
            tasks.Add(Task.Run(async () =>
            {
                for (int i = 0; i < 50; i++)
                    await cl.WriteAsync(fh, (ulong)((cc * 50 + i) * 4096), Bytes(4096, cc * 1000 + i));
            }));
        }
        await Task.WhenAll(tasks);
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 50; i += 7)
                Assert.That((await Client.ReadAsync(fh, (ulong)((c * 50 + i) * 4096), 4096)).Data, Is.EqualTo(Bytes(4096, c * 1000 + i)));
        Assert.That((await Client.GetAttrAsync(fh)).Item2!.Size, Is.EqualTo(200ul * 4096));
        foreach (var cl in clients)
            await cl.DisposeAsync();
    }
}
