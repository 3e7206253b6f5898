using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>One spelling per handle; procedures given a handle of the wrong type of object; renames and links that would break the tree or cross exports.</summary>
public class HandleAndObjectTypeTests : NfsTestBase
{
    [Test]
    public void A_handle_parses_only_with_zero_reserved_bytes_and_its_exact_length()
    {
        var good = new FileHandle(7, 42, 0x1234567890abcdefUL).ToArray();
        Assert.That(FileHandle.TryParse(good, out var fh), Is.True);
        Assert.That((fh.ExportId, fh.FileId, fh.Generation), Is.EqualTo((7u, 42UL, 0x1234567890abcdefUL)));
        for (int i = 2; i <= 3; i++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                var bad = (byte[])good.Clone();
                bad[i] ^= (byte)(1 << bit);
                Assert.That(FileHandle.TryParse(bad, out _), Is.False, $"reserved byte {i}, bit {bit}");
            }
        }
        Assert.That(FileHandle.TryParse(good.AsSpan(0, 23), out _), Is.False);
        Assert.That(FileHandle.TryParse([.. good, 0], out _), Is.False);
        Assert.That(FileHandle.TryParse([], out _), Is.False);
    }

    [Test]
    public async Task Every_procedure_answers_badhandle_to_a_handle_with_reserved_bytes_set()
    {
        var (_, f) = await Client.CreateAsync(Root, "f");
        await Client.WriteAsync(f, 0, Bytes(10, 1));
        var bad = (byte[])f.Clone();
        bad[3] = 1;
        Assert.That((await Client.GetAttrAsync(bad)).Item1, Is.EqualTo(Nfsstat3.BadHandle));
        Assert.That((await Client.ReadAsync(bad, 0, 10)).Item1, Is.EqualTo(Nfsstat3.BadHandle));
        Assert.That((await Client.WriteAsync(bad, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.BadHandle));
        Assert.That(await Client.SetAttrAsync(bad, new XdrBuilder().Sattr(mode: 0)), Is.EqualTo(Nfsstat3.BadHandle));
        var badRoot = (byte[])Root.Clone();
        badRoot[2] = 0x80;
        Assert.That((await Client.LookupAsync(badRoot, "f")).Item1, Is.EqualTo(Nfsstat3.BadHandle));
        Assert.That((await Client.CreateAsync(badRoot, "g")).Item1, Is.EqualTo(Nfsstat3.BadHandle));
        Assert.That(await Client.RemoveAsync(badRoot, "f"), Is.EqualTo(Nfsstat3.BadHandle));
        Assert.That((await Client.NfsAsync(16, new XdrBuilder().Opaque(badRoot).U64(0).U64(0).U32(4096))).Status, Is.EqualTo(Nfsstat3.BadHandle));
        Assert.That((await Client.GetAttrAsync(f)).Item1, Is.EqualTo(Nfsstat3.Ok), "the real handle still works");
        Assert.That((await Client.GetAttrAsync(f.AsSpan(0, 23).ToArray())).Item1, Is.EqualTo(Nfsstat3.BadHandle));
        Assert.That((await Client.GetAttrAsync([.. f, 0, 0, 0, 0])).Item1, Is.EqualTo(Nfsstat3.BadHandle));
    }

    [Test]
    public async Task Read_write_and_commit_of_a_directory_are_isdir_and_of_a_symlink_inval()
    {
        var (_, d) = await Client.MkDirAsync(Root, "d");
        Assert.That((await Client.ReadAsync(d, 0, 10)).Item1, Is.EqualTo(Nfsstat3.IsDir));
        Assert.That((await Client.WriteAsync(d, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.IsDir));
        Assert.That((await Client.NfsAsync(21, new XdrBuilder().Opaque(d).U64(0).U32(0))).Status, Is.EqualTo(Nfsstat3.IsDir));
        Assert.That(await Client.SetAttrAsync(d, new XdrBuilder().Sattr(size: 0)), Is.EqualTo(Nfsstat3.IsDir));
        var (st, body) = await Client.NfsAsync(10, new XdrBuilder().Opaque(Root).Str("l").Sattr().Str("target"));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var (_, l) = await Client.LookupAsync(Root, "l");
        Assert.That((await Client.ReadAsync(l, 0, 10)).Item1, Is.EqualTo(Nfsstat3.Inval));
        Assert.That((await Client.WriteAsync(l, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.Inval));
        Assert.That((await Client.NfsAsync(21, new XdrBuilder().Opaque(l).U64(0).U32(0))).Status, Is.EqualTo(Nfsstat3.Inval));
        Assert.That(Host.Provisioner.Created, Is.EqualTo(0), "no data vDisk for either");
    }

    [Test]
    public async Task A_directory_cannot_move_into_itself_or_below_itself()
    {
        var (_, a) = await Client.MkDirAsync(Root, "a");
        var (_, b) = await Client.MkDirAsync(a, "b");
        var (_, c) = await Client.MkDirAsync(b, "c");
        Assert.That(await Client.RenameAsync(Root, "a", a, "a2"), Is.EqualTo(Nfsstat3.Inval));
        Assert.That(await Client.RenameAsync(Root, "a", c, "a"), Is.EqualTo(Nfsstat3.Inval));
        Assert.That(await Client.RenameAsync(a, "b", c, "b"), Is.EqualTo(Nfsstat3.Inval));
        Assert.That(await Client.RenameAsync(b, "c", Root, "c"), Is.EqualTo(Nfsstat3.Ok), "upwards is fine");
        Assert.That(await Client.RenameAsync(Root, "c", Root, "a"), Is.EqualTo(Nfsstat3.NotEmpty), "replacing a directory needs it empty");
        Assert.That((await Client.LookupAsync(a, "b")).Item1, Is.EqualTo(Nfsstat3.Ok));
    }

    [Test]
    public async Task Links_and_renames_do_not_cross_exports()
    {
        var (_, squash) = await Client.MountAsync("/squash");
        var (_, f) = await Client.CreateAsync(Root, "f");
        Assert.That((await Client.NfsAsync(15, new XdrBuilder().Opaque(f).Opaque(squash).Str("l"))).Status, Is.EqualTo(Nfsstat3.XDev));
        Assert.That(await Client.RenameAsync(Root, "f", squash, "f"), Is.EqualTo(Nfsstat3.XDev));
        var (_, ro) = await Client.MountAsync("/ro");
        Assert.That((await Client.NfsAsync(15, new XdrBuilder().Opaque(f).Opaque(ro).Str("l"))).Status, Is.AnyOf(Nfsstat3.XDev, Nfsstat3.RoFs));
        Assert.That((await Client.LookupAsync(squash, "l")).Item1, Is.EqualTo(Nfsstat3.NoEnt));
        Assert.That((await Client.LookupAsync(squash, "f")).Item1, Is.EqualTo(Nfsstat3.NoEnt));
    }
}
