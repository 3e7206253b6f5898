using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>
/// The permission logic of every procedure, against RFC 1813 and what the Linux server (knfsd) answers:
/// ACCESS from the mode bits alone, the owner override only for READ, WRITE and COMMIT of a file,
/// directory write+search for entries, sticky directories, root squash (uid and group 0), read-only exports.
/// </summary>
public class PermissionTests : NfsTestBase
{
    private const uint All = 0x3f;
    private const uint Rd = (uint)AccessBits.Read, Lu = (uint)AccessBits.Lookup, Md = (uint)AccessBits.Modify, Ex = (uint)AccessBits.Extend,
        De = (uint)AccessBits.Delete, Xe = (uint)AccessBits.Execute;

    private static async Task<uint> AccessAsync(Nfs3Client client, byte[] fh, uint requested = All)
    {
        var (st, body) = await client.NfsAsync(4, new XdrBuilder().Opaque(fh).U32(requested));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        Assert.That(r.TryReadUInt32(out uint granted), Is.True);
        return granted;
    }

    /// <summary>A file of <paramref name="mode"/> owned by uid/gid 1000 (made by root, then chowned).</summary>
    private async Task<byte[]> FileOf1000Async(string name, uint mode, byte[]? dir = null)
    {
        var (st, fh) = await Client.CreateAsync(dir ?? Root, name, fileMode: mode);
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(uid: 1000, gid: 1000)), Is.EqualTo(Nfsstat3.Ok));
        return fh;
    }

    [TestCase(0x100u, Rd)] // 0400
    [TestCase(0x000u, 0u)] // 0000
    [TestCase(0x180u, Rd | Md | Ex)] // 0600
    [TestCase(0x080u, Md | Ex)] // 0200
    [TestCase(0x140u, Rd | Xe)] // 0500
    [TestCase(0x1c0u, Rd | Md | Ex | Xe)] // 0700
    [TestCase(0x03fu, 0u)] // 0077: the owner's own bits decide, not the group's or others'
    public async Task Access_gives_the_owner_what_the_owner_bits_say(uint mode, uint expected)
    {
        var fh = await FileOf1000Async("f", mode);
        await using var owner = Host.Connect(uid: 1000, gid: 1000);
        Assert.That(await AccessAsync(owner, fh), Is.EqualTo(expected));
    }

    [Test]
    public async Task Access_of_directories_needs_search_with_write_to_modify_extend_and_delete()
    {
        await using var owner = Host.Connect(uid: 1000, gid: 1000);
        var (_, d) = await Client.MkDirAsync(Root, "d", mode: 0x1c0);
        Assert.That(await Client.SetAttrAsync(d, new XdrBuilder().Sattr(uid: 1000, gid: 1000)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await AccessAsync(owner, d), Is.EqualTo(Rd | Lu | Md | Ex | De), "0700");
        Assert.That(await Client.SetAttrAsync(d, new XdrBuilder().Sattr(mode: 0x140)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await AccessAsync(owner, d), Is.EqualTo(Rd | Lu), "0500");
        Assert.That(await Client.SetAttrAsync(d, new XdrBuilder().Sattr(mode: 0x180)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await AccessAsync(owner, d), Is.EqualTo(Rd), "0600: writing entries needs search too");
        Assert.That(await Client.SetAttrAsync(d, new XdrBuilder().Sattr(mode: 0x0c0)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await AccessAsync(owner, d), Is.EqualTo(Lu | Md | Ex | De), "0300");
    }

    [Test]
    public async Task Access_for_root_is_everything_but_execute_without_an_x_bit()
    {
        var (_, none) = await Client.CreateAsync(Root, "none", fileMode: 0);
        Assert.That(await AccessAsync(Client, none), Is.EqualTo(Rd | Md | Ex));
        var (_, x) = await Client.CreateAsync(Root, "x", fileMode: 0x001);
        Assert.That(await AccessAsync(Client, x), Is.EqualTo(Rd | Md | Ex | Xe), "any x bit lets root execute");
        var (_, d) = await Client.MkDirAsync(Root, "d", mode: 0);
        Assert.That(await AccessAsync(Client, d), Is.EqualTo(Rd | Lu | Md | Ex | De));
    }

    [Test]
    public async Task Access_answers_only_the_bits_asked_for()
    {
        var fh = await FileOf1000Async("f", 0x1c0);
        await using var owner = Host.Connect(uid: 1000, gid: 1000);
        Assert.That(await AccessAsync(owner, fh, Md | De | Lu), Is.EqualTo(Md), "DELETE and LOOKUP do not apply to a file");
    }

    [Test]
    public async Task Access_by_group_and_others_and_supplementary_groups()
    {
        var fh = await FileOf1000Async("f", 0x1a0); // 0640
        await using var group = Host.Connect(uid: 1001, gid: 1000);
        await using var other = Host.Connect(uid: 1001, gid: 1001);
        Assert.That(await AccessAsync(group, fh), Is.EqualTo(Rd));
        Assert.That(await AccessAsync(other, fh), Is.EqualTo(0u));
    }

    [Test]
    public async Task Access_on_a_read_only_export_never_grants_modify_extend_or_delete()
    {
        var (_, ro) = await Client.MountAsync("/ro");
        Assert.That(await AccessAsync(Client, ro), Is.EqualTo(Rd | Lu));
    }

    [Test]
    public async Task Access_with_root_squash_answers_for_the_anonymous_user()
    {
        var (_, sq) = await Client.MountAsync("/squash");
        var (_, f) = await Client.CreateAsync(sq, "f", fileMode: 0x100); // 0400, owned by the anonymous uid
        Assert.That(await AccessAsync(Client, f), Is.EqualTo(Rd), "squashed root is the anonymous owner: 0400 reads only");
        Assert.That(await Client.SetAttrAsync(f, new XdrBuilder().Sattr(mode: 0)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await AccessAsync(Client, f), Is.EqualTo(0u), "and no root privilege over mode 0000");
    }

    [Test]
    public async Task The_owner_override_applies_to_read_and_write_of_a_file_not_to_access()
    {
        var fh = await FileOf1000Async("f", 0x100); // 0400
        await using var owner = Host.Connect(uid: 1000, gid: 1000);
        Assert.That(await AccessAsync(owner, fh), Is.EqualTo(Rd));
        // knfsd's NFSD_MAY_OWNER_OVERRIDE: a process keeps writing a file it opened before a chmod.
        Assert.That((await owner.WriteAsync(fh, 0, Bytes(100, 1))).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(mode: 0)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await owner.ReadAsync(fh, 0, 100)).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await owner.NfsAsync(21, new XdrBuilder().Opaque(fh).U64(0).U32(0))).Status, Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await owner.SetAttrAsync(fh, new XdrBuilder().Sattr(size: 10)), Is.EqualTo(Nfsstat3.Ok), "ftruncate of an open file of mode 000");
        await using var other = Host.Connect(uid: 1001, gid: 1000);
        Assert.That((await other.ReadAsync(fh, 0, 10)).Item1, Is.EqualTo(Nfsstat3.Acces));
        Assert.That((await other.WriteAsync(fh, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.Acces));
        Assert.That((await other.NfsAsync(21, new XdrBuilder().Opaque(fh).U64(0).U32(0))).Status, Is.EqualTo(Nfsstat3.Acces));
        Assert.That(await other.SetAttrAsync(fh, new XdrBuilder().Sattr(size: 0)), Is.EqualTo(Nfsstat3.Acces));
    }

    [Test]
    public async Task Read_is_allowed_where_only_execute_is_as_knfsd_does_for_binaries()
    {
        var fh = await FileOf1000Async("bin", 0x049); // 0111
        await Client.WriteAsync(fh, 0, Bytes(10, 2));
        await using var other = Host.Connect(uid: 1001, gid: 1001);
        Assert.That(await AccessAsync(other, fh), Is.EqualTo(Xe));
        Assert.That((await other.ReadAsync(fh, 0, 10)).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await other.WriteAsync(fh, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.Acces));
    }

    [Test]
    public async Task Entries_need_write_and_search_on_the_directory()
    {
        var (_, d) = await Client.MkDirAsync(Root, "d", mode: 0x1ed); // 0755, root's
        var (_, f) = await Client.CreateAsync(d, "f", fileMode: 0x1b6); // 0666
        await using var user = Host.Connect(uid: 1000, gid: 1000);
        Assert.That((await user.LookupAsync(d, "f")).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await user.CreateAsync(d, "g")).Item1, Is.EqualTo(Nfsstat3.Acces));
        Assert.That((await user.MkDirAsync(d, "g")).Item1, Is.EqualTo(Nfsstat3.Acces));
        Assert.That(await user.RemoveAsync(d, "f"), Is.EqualTo(Nfsstat3.Acces), "a writable file in a directory the user cannot write");
        Assert.That(await user.RenameAsync(d, "f", Root, "f2"), Is.EqualTo(Nfsstat3.Acces));
        Assert.That((await user.NfsAsync(15, new XdrBuilder().Opaque(f).Opaque(d).Str("l"))).Status, Is.EqualTo(Nfsstat3.Acces));
        // Write without search is not enough either (0722: others may only write).
        Assert.That(await Client.SetAttrAsync(d, new XdrBuilder().Sattr(mode: 0x1d2)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await user.CreateAsync(d, "g")).Item1, Is.EqualTo(Nfsstat3.Acces));
    }

    [Test]
    public async Task Listing_a_directory_needs_read_permission()
    {
        var (_, d) = await Client.MkDirAsync(Root, "d", mode: 0x1c9); // 0711
        await using var user = Host.Connect(uid: 1000, gid: 1000);
        Assert.That((await user.NfsAsync(16, new XdrBuilder().Opaque(d).U64(0).U64(0).U32(4096))).Status, Is.EqualTo(Nfsstat3.Acces));
        Assert.That((await user.NfsAsync(17, new XdrBuilder().Opaque(d).U64(0).U64(0).U32(4096).U32(65536))).Status, Is.EqualTo(Nfsstat3.Acces));
    }

    [Test]
    public async Task In_a_sticky_directory_only_the_owner_of_the_entry_or_directory_or_root_removes_or_renames_it()
    {
        var (_, tmp) = await Client.MkDirAsync(Root, "tmp", mode: 0x3ff); // 01777, root's
        await using var alice = Host.Connect(uid: 1000, gid: 1000);
        await using var bob = Host.Connect(uid: 1001, gid: 1001);
        Assert.That((await alice.CreateAsync(tmp, "a")).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await bob.CreateAsync(tmp, "b")).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await bob.RemoveAsync(tmp, "a"), Is.EqualTo(Nfsstat3.Acces));
        Assert.That(await bob.RenameAsync(tmp, "a", tmp, "stolen"), Is.EqualTo(Nfsstat3.Acces));
        Assert.That(await bob.RenameAsync(tmp, "b", tmp, "a"), Is.EqualTo(Nfsstat3.Acces), "replacing alice's file is removing it");
        Assert.That((await alice.MkDirAsync(tmp, "ad")).Item1, Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await bob.RmDirAsync(tmp, "ad"), Is.EqualTo(Nfsstat3.Acces));
        Assert.That(await bob.RenameAsync(tmp, "b", tmp, "b2"), Is.EqualTo(Nfsstat3.Ok), "his own");
        Assert.That(await alice.RemoveAsync(tmp, "a"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await Client.RemoveAsync(tmp, "b2"), Is.EqualTo(Nfsstat3.Ok), "root");
        Assert.That(await alice.RmDirAsync(tmp, "ad"), Is.EqualTo(Nfsstat3.Ok));
    }

    [Test]
    public async Task Moving_a_directory_to_another_parent_needs_write_permission_on_it()
    {
        var (_, from) = await Client.MkDirAsync(Root, "from", mode: 0x1ff);
        var (_, to) = await Client.MkDirAsync(Root, "to", mode: 0x1ff);
        var (_, sub) = await Client.MkDirAsync(from, "sub", mode: 0x1ed); // root's 0755
        await using var user = Host.Connect(uid: 1000, gid: 1000);
        Assert.That(await user.RenameAsync(from, "sub", to, "sub"), Is.EqualTo(Nfsstat3.Acces), "its '..' changes");
        Assert.That(await user.RenameAsync(from, "sub", from, "sub2"), Is.EqualTo(Nfsstat3.Ok), "same parent: only the entry changes");
        Assert.That(await Client.SetAttrAsync(sub, new XdrBuilder().Sattr(uid: 1000)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await user.RenameAsync(from, "sub2", to, "sub"), Is.EqualTo(Nfsstat3.Ok));
    }

    [Test]
    public async Task Root_squash_also_squashes_group_0()
    {
        var fs = Host.FileSystem;
        var export = fs.FindExport("/squash")!;
        var root = fs.GetNode(export.RootId)!;
        // A file of group 0, writable by the group, made as root directly (squashed root over NFS cannot).
        var attrs = new SetAttributes { Mode = 0x1b0 }; // 0660
        Assert.That(fs.Create(export, root, "g0"u8, new Caller(0, 0, null), Ftype3.Reg, attrs, CreateMode.Unchecked, 0, null, 0, 0, out _, out _), Is.EqualTo(Nfsstat3.Ok));
        var (_, sq) = await Client.MountAsync("/squash");
        await using var claimsRootGroup = Host.Connect(uid: 1000, gid: 0);
        var (st, f) = await claimsRootGroup.LookupAsync(sq, "g0");
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await AccessAsync(claimsRootGroup, f), Is.EqualTo(0u));
        Assert.That((await claimsRootGroup.WriteAsync(f, 0, new byte[1])).Item1, Is.EqualTo(Nfsstat3.Acces));
        Assert.That((await claimsRootGroup.ReadAsync(f, 0, 1)).Item1, Is.EqualTo(Nfsstat3.Acces));
        // Without root_squash group 0 is a group like any other.
        var data = fs.FindExport("/data")!;
        Assert.That(fs.Create(data, fs.GetNode(data.RootId)!, "g0"u8, new Caller(0, 0, null), Ftype3.Reg, attrs, CreateMode.Unchecked, 0, null, 0, 0, out _, out _), Is.EqualTo(Nfsstat3.Ok));
        (st, f) = await claimsRootGroup.LookupAsync(Root, "g0");
        Assert.That(await AccessAsync(claimsRootGroup, f), Is.EqualTo(Rd | Md | Ex));
    }

    [Test]
    public async Task Only_root_makes_device_nodes_anyone_who_may_write_the_directory_makes_a_fifo()
    {
        await using var user = Host.Connect(uid: 1000, gid: 1000);
        var chr = new XdrBuilder().Opaque(Root).Str("tty").U32((uint)Ftype3.Chr).Sattr(mode: 0x1b6).U32(4).U32(1);
        Assert.That((await user.NfsAsync(11, chr)).Status, Is.EqualTo(Nfsstat3.Perm));
        var blk = new XdrBuilder().Opaque(Root).Str("sda").U32((uint)Ftype3.Blk).Sattr(mode: 0x1b6).U32(8).U32(0);
        Assert.That((await user.NfsAsync(11, blk)).Status, Is.EqualTo(Nfsstat3.Perm));
        var fifo = new XdrBuilder().Opaque(Root).Str("pipe").U32((uint)Ftype3.Fifo).Sattr(mode: 0x1b6);
        Assert.That((await user.NfsAsync(11, fifo)).Status, Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.NfsAsync(11, chr)).Status, Is.EqualTo(Nfsstat3.Ok));
    }

    [Test]
    public async Task Chmod_by_an_owner_outside_the_group_drops_set_group_id()
    {
        var fh = await FileOf1000Async("f", 0x1a4);
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(gid: 2000)), Is.EqualTo(Nfsstat3.Ok));
        await using var owner = Host.Connect(uid: 1000, gid: 1000);
        Assert.That(await owner.SetAttrAsync(fh, new XdrBuilder().Sattr(mode: 0x5ed)), Is.EqualTo(Nfsstat3.Ok)); // 02755
        Assert.That((await Client.GetAttrAsync(fh)).Item2!.Mode, Is.EqualTo(0x1edu));
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(mode: 0x5ed)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That((await Client.GetAttrAsync(fh)).Item2!.Mode, Is.EqualTo(0x5edu), "root keeps it");
    }

    [Test]
    public async Task Setattr_by_someone_else()
    {
        var fh = await FileOf1000Async("f", 0x1b6); // 0666
        await using var other = Host.Connect(uid: 1001, gid: 1001);
        Assert.That(await other.SetAttrAsync(fh, new XdrBuilder().Sattr(mode: 0x1ff)), Is.EqualTo(Nfsstat3.Perm));
        Assert.That(await other.SetAttrAsync(fh, new XdrBuilder().Sattr(uid: 1001)), Is.EqualTo(Nfsstat3.Perm));
        Assert.That(await other.SetAttrAsync(fh, new XdrBuilder().Sattr(mtimeHow: 2, mtimeSeconds: 5)), Is.EqualTo(Nfsstat3.Perm));
        Assert.That(await other.SetAttrAsync(fh, new XdrBuilder().Sattr(mtimeHow: 1)), Is.EqualTo(Nfsstat3.Ok), "touch needs only write permission");
        Assert.That(await other.SetAttrAsync(fh, new XdrBuilder().Sattr(size: 0)), Is.EqualTo(Nfsstat3.Ok));
    }

    [Test]
    public async Task A_read_only_export_refuses_every_change()
    {
        var (_, ro) = await Client.MountAsync("/ro");
        Assert.That((await Client.CreateAsync(ro, "f")).Item1, Is.EqualTo(Nfsstat3.RoFs));
        Assert.That((await Client.MkDirAsync(ro, "d")).Item1, Is.EqualTo(Nfsstat3.RoFs));
        Assert.That(await Client.SetAttrAsync(ro, new XdrBuilder().Sattr(mode: 0x1ff)), Is.EqualTo(Nfsstat3.RoFs));
        Assert.That(await Client.RemoveAsync(ro, "x"), Is.EqualTo(Nfsstat3.RoFs));
        Assert.That(await Client.RmDirAsync(ro, "x"), Is.EqualTo(Nfsstat3.RoFs));
        Assert.That(await Client.RenameAsync(ro, "x", ro, "y"), Is.EqualTo(Nfsstat3.RoFs));
        Assert.That((await Client.NfsAsync(10, new XdrBuilder().Opaque(ro).Str("l").Sattr().Str("t"))).Status, Is.EqualTo(Nfsstat3.RoFs));
        Assert.That((await Client.NfsAsync(21, new XdrBuilder().Opaque(ro).U64(0).U32(0))).Status, Is.EqualTo(Nfsstat3.IsDir));
    }
}
