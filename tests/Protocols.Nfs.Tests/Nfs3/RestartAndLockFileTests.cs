using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

public class RestartAndLockFileTests
{
    private static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Test]
    public async Task Handles_names_sizes_and_data_survive_a_restart_and_the_verifier_changes()
    {
        string dir = Path.Combine(Path.GetTempPath(), "nfs-restart-" + Guid.NewGuid().ToString("n"));
        string db = Path.Combine(dir, "nfs-namespace.db");
        byte[] root, sub, file;
        var data = Bytes(300_000, 5);
        ulong verifier1;
        {
            var host = new NfsTestHost(new SqliteNamespaceStore(db), dir);
            await using var c = host.Connect();
            root = (await c.MountAsync("/data")).Handle;
            sub = (await c.MkDirAsync(root, "vm1")).Handle;
            file = (await c.CreateAsync(sub, "disk.vmdk")).Handle;
            var w = await c.WriteAsync(file, 1000, data, StableHow.Unstable);
            verifier1 = w.Verifier;
            // No COMMIT: the attribute flush at stop must still record the size.
            await host.DisposeAsync();
        }
        {
            var host = new NfsTestHost(new SqliteNamespaceStore(db), dir);
            await using var c = host.Connect();
            Assert.That((await c.MountAsync("/data")).Handle, Is.EqualTo(root), "the root handle is the same after a restart");
            Assert.That((await c.LookupAsync(root, "vm1")).Handle, Is.EqualTo(sub));
            Assert.That((await c.LookupAsync(sub, "disk.vmdk")).Handle, Is.EqualTo(file));
            var (st, attrs) = await c.GetAttrAsync(file);
            Assert.That((st, attrs!.Size), Is.EqualTo((Nfsstat3.Ok, 301_000ul)));
            Assert.That((await c.ReadAsync(file, 1000, 300_000)).Data, Is.EqualTo(data));
            var w = await c.WriteAsync(file, 0, new byte[1]);
            Assert.That(w.Verifier, Is.Not.EqualTo(verifier1), "a new verifier tells clients to resend uncommitted writes");
            Assert.That(await c.RemoveAsync(sub, "disk.vmdk"), Is.EqualTo(Nfsstat3.Ok));
            await host.DisposeAsync();
        }
        {
            var host = new NfsTestHost(new SqliteNamespaceStore(db), dir);
            await using var c = host.Connect();
            Assert.That((await c.GetAttrAsync(file)).Item1, Is.EqualTo(Nfsstat3.Stale), "deleted stays deleted");
            Assert.That((await c.GetAttrAsync(sub)).Item1, Is.EqualTo(Nfsstat3.Ok));
            await host.DisposeAsync();
            host.DeleteFiles();
        }
    }

    [Test]
    public async Task Esxi_style_lock_files_create_rewrite_remove_loop()
    {
        var host = new NfsTestHost(new SqliteNamespaceStore(Path.Combine(Path.GetTempPath(), "lck-" + Guid.NewGuid().ToString("n"), "nfs-namespace.db")));
        await using var c = host.Connect();
        var root = (await c.MountAsync("/data")).Handle;
        var vm = (await c.MkDirAsync(root, "vm")).Handle;
        byte[]? previous = null;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 200; i++)
        {
            string name = $".lck-{i % 3:x16}";
            var (st, fh) = await c.CreateAsync(vm, name, CreateMode.Guarded, fileMode: 0x1b6);
            Assert.That(st, Is.EqualTo(Nfsstat3.Ok), $"create {i}");
            var content = Bytes(84, i);
            Assert.That((await c.WriteAsync(fh, 0, content, StableHow.FileSync)).Item1, Is.EqualTo(Nfsstat3.Ok));
            var rewrite = Bytes(84, i + 1000);
            Assert.That((await c.WriteAsync(fh, 0, rewrite, StableHow.FileSync)).Item1, Is.EqualTo(Nfsstat3.Ok));
            var (_, read, eof) = await c.ReadAsync(fh, 0, 4096);
            Assert.That(read, Is.EqualTo(rewrite));
            Assert.That(eof, Is.True);
            Assert.That(await c.RemoveAsync(vm, name), Is.EqualTo(Nfsstat3.Ok));
            Assert.That((await c.GetAttrAsync(fh)).Item1, Is.EqualTo(Nfsstat3.Stale));
            if (previous is not null)
                Assert.That((await c.GetAttrAsync(previous)).Item1, Is.EqualTo(Nfsstat3.Stale));
            previous = fh;
        }
        sw.Stop();
        Assert.That((await c.ReadDirAllAsync(vm)).Count, Is.EqualTo(2), "only . and .. are left");
        Assert.That(host.Provisioner.Created, Is.EqualTo(host.Provisioner.Deleted), "every lock file's vDisk was deleted");
        TestContext.Out.WriteLine($"200 lock-file cycles in {sw.ElapsedMilliseconds} ms");
        await host.DisposeAsync();
        host.DeleteFiles();
    }
}
