using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>LOOKUP, CREATE, MKDIR, SYMLINK, READLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK.</summary>
public class NamespaceProcedureTests : NfsTestBase
{
    [Test]
    public async Task Lookup_finds_names_dot_and_dotdot()
    {
        var (_, dir) = await Client.MkDirAsync(Root, "d");
        var (_, f) = await Client.CreateAsync(dir, "f");
        var (st, found) = await Client.LookupAsync(dir, "f");
        Assert.That((st, found), Is.EqualTo((Nfsstat3.Ok, f)));
        Assert.That((await Client.LookupAsync(dir, "nope")).Item1, Is.EqualTo(Nfsstat3.NoEnt));
        Assert.That((await Client.LookupAsync(dir, ".")).Item2, Is.EqualTo(dir));
        Assert.That((await Client.LookupAsync(dir, "..")).Item2, Is.EqualTo(Root));
        Assert.That((await Client.LookupAsync(Root, "..")).Item2, Is.EqualTo(Root), "the root is its own parent");
        Assert.That((await Client.LookupAsync(f, "x")).Item1, Is.EqualTo(Nfsstat3.NotDir));
        Assert.That((await Client.LookupAsync(dir, new string('n', 256))).Item1, Is.EqualTo(Nfsstat3.NameTooLong));
    }

    [Test]
    public async Task Lookup_failure_still_returns_the_directory_attributes()
    {
        var (st, body) = await Client.NfsAsync(3, new XdrBuilder().Opaque(Root).Str("missing"));
        Assert.That(st, Is.EqualTo(Nfsstat3.NoEnt));
        var r = new XdrReader(body);
        Assert.That(Nfs3Client.ReadPostOpAttr(ref r)!.Type, Is.EqualTo(Ftype3.Dir));
    }

    [Test]
    public async Task Create_modes_unchecked_guarded_exclusive()
    {
        var (st, a) = await Client.CreateAsync(Root, "f", CreateMode.Guarded);
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        await Client.WriteAsync(a, 0, Bytes(100, 1));
        Assert.That((await Client.CreateAsync(Root, "f", CreateMode.Guarded)).Item1, Is.EqualTo(Nfsstat3.Exist));
        var (st2, b) = await Client.CreateAsync(Root, "f", CreateMode.Unchecked);
        Assert.That((st2, b), Is.EqualTo((Nfsstat3.Ok, a)), "UNCHECKED on an existing file returns it");
        Assert.That((await Client.GetAttrAsync(a)).Item2!.Size, Is.EqualTo(100ul), "without a size attribute the data stays");
        var (st3, _) = await Client.CreateAsync(Root, "f", CreateMode.Unchecked, size: 0);
        Assert.That(st3, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.GetAttrAsync(a)).Item2!.Size, Is.EqualTo(0ul), "UNCHECKED with size 0 truncates");

        var (e1, x1) = await Client.CreateAsync(Root, "x", CreateMode.Exclusive, verifier: 0x1122334455667788);
        var (e2, x2) = await Client.CreateAsync(Root, "x", CreateMode.Exclusive, verifier: 0x1122334455667788);
        var (e3, _) = await Client.CreateAsync(Root, "x", CreateMode.Exclusive, verifier: 0x99);
        Assert.That((e1, e2, e3), Is.EqualTo((Nfsstat3.Ok, Nfsstat3.Ok, Nfsstat3.Exist)));
        Assert.That(x2, Is.EqualTo(x1), "a retransmitted EXCLUSIVE create gets the same file");
    }

    [Test]
    public async Task Create_checks_names()
    {
        Assert.That((await Client.CreateAsync(Root, "a/b")).Item1, Is.EqualTo(Nfsstat3.Inval));
        Assert.That((await Client.CreateAsync(Root, "")).Item1, Is.EqualTo(Nfsstat3.Inval));
        Assert.That((await Client.CreateAsync(Root, ".")).Item1, Is.EqualTo(Nfsstat3.Exist));
        Assert.That((await Client.CreateAsync(Root, new string('x', 256))).Item1, Is.EqualTo(Nfsstat3.NameTooLong));
        Assert.That((await Client.CreateAsync(Root, new string('x', 255))).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.CreateAsync(Root, "héllo wörld ✓")).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.LookupAsync(Root, "héllo wörld ✓")).Item1, Is.EqualTo(Nfsstat3.Ok));
    }

    [Test]
    public async Task Create_reply_carries_handle_attributes_and_directory_wcc()
    {
        var before = (await Client.GetAttrAsync(Root)).Item2!;
        var (st, body) = await Client.NfsAsync(8, new XdrBuilder().Opaque(Root).Str("f").U32(1).Sattr(mode: 0x180));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Assert.That(r.TryReadBool(out bool hasFh) && hasFh);
        Assert.That(r.TryReadOpaque(64, out var fh) && fh.Length == FileHandle.Size);
        var attrs = Nfs3Client.ReadPostOpAttr(ref r)!;
        Assert.That((attrs.Type, attrs.Mode, attrs.Size), Is.EqualTo((Ftype3.Reg, 0x180u, 0ul)));
        var (dirBefore, dirAfter) = Nfs3Client.ReadWcc(ref r);
        Assert.That(dirBefore, Is.Not.Null);
        Assert.That(dirAfter!.MtimeNs, Is.GreaterThanOrEqualTo(before.MtimeNs));
    }

    [Test]
    public async Task Mkdir_counts_links_and_rmdir_needs_an_empty_directory()
    {
        var (_, d) = await Client.MkDirAsync(Root, "d");
        Assert.That((await Client.GetAttrAsync(Root)).Item2!.Nlink, Is.EqualTo(3u));
        Assert.That((await Client.MkDirAsync(Root, "d")).Item1, Is.EqualTo(Nfsstat3.Exist));
        await Client.CreateAsync(d, "f");
        Assert.That(await Client.RmDirAsync(Root, "d"), Is.EqualTo(Nfsstat3.NotEmpty));
        Assert.That(await Client.RemoveAsync(Root, "d"), Is.EqualTo(Nfsstat3.IsDir));
        Assert.That(await Client.RmDirAsync(d, "f"), Is.EqualTo(Nfsstat3.NotDir));
        Assert.That(await Client.RemoveAsync(d, "f"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await Client.RmDirAsync(Root, "d"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.GetAttrAsync(Root)).Item2!.Nlink, Is.EqualTo(2u));
        Assert.That((await Client.GetAttrAsync(d)).Item1, Is.EqualTo(Nfsstat3.Stale));
    }

    [Test]
    public async Task Symlink_and_readlink()
    {
        var (st, body) = await Client.NfsAsync(10, new XdrBuilder().Opaque(Root).Str("l").Sattr().Str("../some/target"));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        r.TryReadBool(out _);
        r.TryReadOpaque(64, out var fhSpan);
        var fh = fhSpan.ToArray();
        var attrs = Nfs3Client.ReadPostOpAttr(ref r)!;
        Assert.That((attrs.Type, attrs.Size), Is.EqualTo((Ftype3.Lnk, 14ul)));
        (st, body) = await Client.NfsAsync(5, new XdrBuilder().Opaque(fh));
        r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        r.TryReadString(1024, out string target);
        Assert.That((st, target), Is.EqualTo((Nfsstat3.Ok, "../some/target")));
        Assert.That((await Client.NfsAsync(5, new XdrBuilder().Opaque(Root))).Status, Is.EqualTo(Nfsstat3.Inval));
    }

    [Test]
    public async Task Mknod_makes_fifos_and_devices_but_not_regular_files()
    {
        var (st, body) = await Client.NfsAsync(11, new XdrBuilder().Opaque(Root).Str("fifo").U32((uint)Ftype3.Fifo).Sattr(mode: 0x1b6));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        (st, body) = await Client.NfsAsync(11, new XdrBuilder().Opaque(Root).Str("dev").U32((uint)Ftype3.Chr).Sattr().U32(4).U32(64));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        r.TryReadBool(out _);
        r.TryReadOpaque(64, out _);
        r.TryReadBool(out _);
        r.TryReadUInt32(out uint type);
        Assert.That(type, Is.EqualTo((uint)Ftype3.Chr));
        (st, _) = await Client.NfsAsync(11, new XdrBuilder().Opaque(Root).Str("reg").U32((uint)Ftype3.Reg));
        Assert.That(st, Is.EqualTo(Nfsstat3.BadType));
    }

    [Test]
    public async Task Remove_makes_the_handle_stale_and_deletes_the_vdisk()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        await Client.WriteAsync(fh, 0, Bytes(4096, 1));
        string vdisk = NfsFileSystem.VDiskName(FileHandle.TryParse(fh, out var h) ? h.FileId : 0);
        Assert.That(Host.Provisioner.Exists(vdisk), Is.True);
        Assert.That(await Client.RemoveAsync(Root, "f"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.GetAttrAsync(fh)).Item1, Is.EqualTo(Nfsstat3.Stale));
        Assert.That((await Client.ReadAsync(fh, 0, 10)).Item1, Is.EqualTo(Nfsstat3.Stale));
        Assert.That((await Client.WriteAsync(fh, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.Stale));
        Assert.That(Host.Provisioner.Exists(vdisk), Is.False);
        Assert.That(await Client.RemoveAsync(Root, "f"), Is.EqualTo(Nfsstat3.NoEnt));
        var (_, again) = await Client.CreateAsync(Root, "f");
        Assert.That(again, Is.Not.EqualTo(fh), "a new file of the same name is a new object");
        Assert.That((await Client.GetAttrAsync(fh)).Item1, Is.EqualTo(Nfsstat3.Stale));
    }

    [Test]
    public async Task Rename_moves_replaces_and_refuses_loops()
    {
        var (_, a) = await Client.MkDirAsync(Root, "a");
        var (_, b) = await Client.MkDirAsync(a, "b");
        var (_, f) = await Client.CreateAsync(Root, "f");
        await Client.WriteAsync(f, 0, Bytes(10, 1));
        var (_, g) = await Client.CreateAsync(b, "g");
        await Client.WriteAsync(g, 0, Bytes(10, 2));

        Assert.That(await Client.RenameAsync(Root, "f", b, "g"), Is.EqualTo(Nfsstat3.Ok), "a file replaces a file");
        Assert.That((await Client.LookupAsync(b, "g")).Item2, Is.EqualTo(f));
        Assert.That((await Client.GetAttrAsync(g)).Item1, Is.EqualTo(Nfsstat3.Stale), "the replaced file is gone");
        Assert.That((await Client.LookupAsync(Root, "f")).Item1, Is.EqualTo(Nfsstat3.NoEnt));
        Assert.That((await Client.ReadAsync(f, 0, 10)).Data, Is.EqualTo(Bytes(10, 1)), "the handle follows the file");

        Assert.That(await Client.RenameAsync(Root, "a", b, "a2"), Is.EqualTo(Nfsstat3.Inval), "a directory cannot move under itself");
        Assert.That(await Client.RenameAsync(a, "b", Root, "b"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.LookupAsync(b, "..")).Item2, Is.EqualTo(Root), "'..' follows a moved directory");
        Assert.That((await Client.GetAttrAsync(a)).Item2!.Nlink, Is.EqualTo(2u));
        Assert.That((await Client.GetAttrAsync(Root)).Item2!.Nlink, Is.EqualTo(4u));

        await Client.CreateAsync(Root, "file");
        Assert.That(await Client.RenameAsync(Root, "a", Root, "file"), Is.EqualTo(Nfsstat3.NotDir));
        Assert.That(await Client.RenameAsync(Root, "file", Root, "a"), Is.EqualTo(Nfsstat3.IsDir));
        Assert.That(await Client.RenameAsync(Root, "a", Root, "b"), Is.EqualTo(Nfsstat3.NotEmpty));
        Assert.That(await Client.RenameAsync(Root, "missing", Root, "x"), Is.EqualTo(Nfsstat3.NoEnt));
        Assert.That(await Client.RenameAsync(Root, "file", Root, "file"), Is.EqualTo(Nfsstat3.Ok));
    }

    [Test]
    public async Task Rename_across_exports_is_xdev()
    {
        var (_, other) = await Client.MountAsync("/squash");
        await Client.CreateAsync(Root, "f");
        Assert.That(await Client.RenameAsync(Root, "f", other, "f"), Is.EqualTo(Nfsstat3.XDev));
    }

    [Test]
    public async Task Link_adds_a_name_and_the_data_lives_until_the_last_one_goes()
    {
        var (_, f) = await Client.CreateAsync(Root, "f");
        await Client.WriteAsync(f, 0, Bytes(100, 9));
        var (st, body) = await Client.NfsAsync(15, new XdrBuilder().Opaque(f).Opaque(Root).Str("g"));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Assert.That(Nfs3Client.ReadPostOpAttr(ref r)!.Nlink, Is.EqualTo(2u));
        Assert.That((await Client.NfsAsync(15, new XdrBuilder().Opaque(f).Opaque(Root).Str("g"))).Status, Is.EqualTo(Nfsstat3.Exist));
        Assert.That((await Client.NfsAsync(15, new XdrBuilder().Opaque(Root).Opaque(Root).Str("h"))).Status, Is.EqualTo(Nfsstat3.IsDir));
        Assert.That(await Client.RemoveAsync(Root, "f"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.ReadAsync(f, 0, 100)).Data, Is.EqualTo(Bytes(100, 9)));
        Assert.That((await Client.GetAttrAsync(f)).Item2!.Nlink, Is.EqualTo(1u));
        Assert.That(await Client.RemoveAsync(Root, "g"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.GetAttrAsync(f)).Item1, Is.EqualTo(Nfsstat3.Stale));
    }

    [Test]
    public async Task Root_squash_maps_uid_0_to_the_anonymous_ids()
    {
        var (_, sq) = await Client.MountAsync("/squash");
        var (_, f) = await Client.CreateAsync(sq, "f");
        var a = (await Client.GetAttrAsync(f)).Item2!;
        Assert.That((a.Uid, a.Gid), Is.EqualTo((65534u, 65533u)));
        var (_, g) = await Client.CreateAsync(Root, "g");
        a = (await Client.GetAttrAsync(g)).Item2!;
        Assert.That((a.Uid, a.Gid), Is.EqualTo((0u, 0u)), "no_root_squash keeps root");
    }

    [Test]
    public async Task Permissions_are_enforced_for_other_users()
    {
        var (_, d) = await Client.MkDirAsync(Root, "private", mode: 0x1c0);
        await Client.CreateAsync(d, "f");
        await using var user = Host.Connect(uid: 1000, gid: 1000);
        Assert.That((await user.LookupAsync(d, "f")).Item1, Is.EqualTo(Nfsstat3.Acces));
        Assert.That((await user.CreateAsync(d, "g")).Item1, Is.EqualTo(Nfsstat3.Acces));
        var (_, f) = await Client.CreateAsync(Root, "rootfile", fileMode: 0x180);
        Assert.That((await user.ReadAsync(f, 0, 1)).Item1, Is.EqualTo(Nfsstat3.Acces));
        Assert.That((await user.WriteAsync(f, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.Acces));
    }
}
