using StorageAppliance.Metadata.Tests;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;

namespace StorageAppliance.Protocols.Nfs.Tests.Namespace;

/// <summary>
/// The namespace database on a real full file system (a small tmpfs filled to the last block): every procedure that
/// changes the namespace answers NFS3ERR_NOSPC and changes nothing, where an uncaught SQLite "database or disk is
/// full" used to reach the client as RPC SYSTEM_ERR (issue 13); once space is freed the same calls succeed, with no
/// restart.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class FullDiskTests
{
    [Test]
    public async Task Namespace_changes_on_a_full_disk_answer_nospc_and_succeed_once_space_is_freed()
    {
        string parent = Path.Combine(Path.GetTempPath(), "nfs-full-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(parent);
        using var tmpfs = TmpfsMount.CreateOrIgnore(parent, "4m");
        var host = new NfsTestHost(new SqliteNamespaceStore(Path.Combine(tmpfs.Path, "nfs-namespace.db")), Path.Combine(parent, "host"));
        var client = host.Connect();
        try
        {
            var (mst, root) = await client.MountAsync("/data");
            Assert.That(mst, Is.EqualTo(0u));
            var (st, file) = await client.CreateAsync(root, "a");
            Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
            (st, _) = await client.MkDirAsync(root, "d");
            Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
            var (_, before) = await client.GetAttrAsync(file);

            string filler = Path.Combine(tmpfs.Path, "filler");
            Fill(filler);

            // NfsAsync asserts accept_stat SUCCESS: an RPC SYSTEM_ERR fails the test here.
            Assert.That((await client.CreateAsync(root, "new")).Item1, Is.EqualTo(Nfsstat3.NoSpc), "CREATE");
            Assert.That((await client.MkDirAsync(root, "newdir")).Item1, Is.EqualTo(Nfsstat3.NoSpc), "MKDIR");
            Assert.That((await client.NfsAsync(10, new XdrBuilder().Opaque(root).Str("l").Sattr().Str("target"))).Status, Is.EqualTo(Nfsstat3.NoSpc), "SYMLINK");
            Assert.That((await client.NfsAsync(11, new XdrBuilder().Opaque(root).Str("fifo").U32((uint)Ftype3.Fifo).Sattr(mode: 0x1b6))).Status, Is.EqualTo(Nfsstat3.NoSpc), "MKNOD");
            Assert.That((await client.NfsAsync(15, new XdrBuilder().Opaque(file).Opaque(root).Str("hard"))).Status, Is.EqualTo(Nfsstat3.NoSpc), "LINK");
            Assert.That(await client.RenameAsync(root, "a", root, "b"), Is.EqualTo(Nfsstat3.NoSpc), "RENAME");
            Assert.That(await client.SetAttrAsync(file, new XdrBuilder().Sattr(mode: 0x180)), Is.EqualTo(Nfsstat3.NoSpc), "SETATTR");
            Assert.That(await client.RmDirAsync(root, "d"), Is.EqualTo(Nfsstat3.NoSpc), "RMDIR");

            // Nothing changed, in memory or on disk.
            Assert.That((await client.LookupAsync(root, "new")).Item1, Is.EqualTo(Nfsstat3.NoEnt));
            Assert.That((await client.LookupAsync(root, "hard")).Item1, Is.EqualTo(Nfsstat3.NoEnt));
            Assert.That((await client.LookupAsync(root, "a")).Item1, Is.EqualTo(Nfsstat3.Ok));
            Assert.That((await client.LookupAsync(root, "d")).Item1, Is.EqualTo(Nfsstat3.Ok));
            var (_, after) = await client.GetAttrAsync(file);
            Assert.That(after!.Mode & 0xfff, Is.EqualTo(before!.Mode & 0xfff), "a refused SETATTR changed the mode");
            Assert.That(after.Nlink, Is.EqualTo(1u), "a refused LINK changed the link count");

            // Space returns: the same calls succeed, on the same store, without a restart.
            File.Delete(filler);
            Assert.That((await client.CreateAsync(root, "new")).Item1, Is.EqualTo(Nfsstat3.Ok), "CREATE after space was freed");
            Assert.That((await client.MkDirAsync(root, "newdir")).Item1, Is.EqualTo(Nfsstat3.Ok), "MKDIR after space was freed");
            Assert.That((await client.NfsAsync(15, new XdrBuilder().Opaque(file).Opaque(root).Str("hard"))).Status, Is.EqualTo(Nfsstat3.Ok), "LINK after space was freed");
            Assert.That(await client.RenameAsync(root, "a", root, "b"), Is.EqualTo(Nfsstat3.Ok), "RENAME after space was freed");
            Assert.That(await client.SetAttrAsync(file, new XdrBuilder().Sattr(mode: 0x180)), Is.EqualTo(Nfsstat3.Ok), "SETATTR after space was freed");
            Assert.That(await client.RmDirAsync(root, "d"), Is.EqualTo(Nfsstat3.Ok), "RMDIR after space was freed");
            (_, after) = await client.GetAttrAsync(file);
            Assert.That(after!.Mode & 0xfff, Is.EqualTo(0x180u));
            Assert.That(after.Nlink, Is.EqualTo(2u));
        }
        finally
        {
            await client.DisposeAsync();
            await host.DisposeAsync();
            tmpfs.Dispose();
            Directory.Delete(parent, true);
        }
    }

    /// <summary>Writes a file until the file system has no block left.</summary>
    private static void Fill(string path)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1);
        foreach (int chunk in new[] { 1 << 20, 4096, 512 })
        {
            var data = new byte[chunk];
            Random.Shared.NextBytes(data);
            try
            {
                while (true)
                    f.Write(data);
            }
            catch (IOException)
            {
            }
        }
    }
}
