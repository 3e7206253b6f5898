using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>NULL, GETATTR, SETATTR, ACCESS, FSSTAT, FSINFO, PATHCONF.</summary>
public class AttributeProcedureTests : NfsTestBase
{
    [Test]
    public async Task Null_returns_no_results()
    {
        var r = await Client.CallAsync(0, default);
        Assert.That(r.Results, Is.Empty);
    }

    [Test]
    public async Task Getattr_of_the_export_root_is_a_directory()
    {
        var (st, a) = await Client.GetAttrAsync(Root);
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        Assert.That(a!.Type, Is.EqualTo(Ftype3.Dir));
        Assert.That(a.Nlink, Is.EqualTo(2u));
        Assert.That(a.Fsid, Is.EqualTo((ulong)new ExportOptions { Path = "/data" }.ExportId));
    }

    [Test]
    public async Task Getattr_reply_has_the_exact_fattr3_layout()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f", fileMode: 0x1a4);
        await Client.WriteAsync(fh, 0, Bytes(5000, 1));
        var reply = await Client.CallAsync(1, new XdrBuilder().Opaque(fh));
        var b = reply.Results;
        Assert.That(b.Length, Is.EqualTo(4 + 84));
        Assert.That(Convert.ToHexString(b, 0, 24), Is.EqualTo("00000000" + "00000001" + "000001A4" + "00000001" + "00000000" + "00000000"));
        Assert.That(Convert.ToHexString(b, 24, 16), Is.EqualTo("0000000000001388" + "0000000000002000"), "size 5000, used 8 KiB");
    }

    [Test]
    public async Task Bad_and_stale_handles()
    {
        var (st, _) = await Client.GetAttrAsync(new byte[] { 1, 2, 3 });
        Assert.That(st, Is.EqualTo(Nfsstat3.BadHandle));
        var fake = new FileHandle(new ExportOptions { Path = "/data" }.ExportId, 999999, 1).ToArray();
        (st, _) = await Client.GetAttrAsync(fake);
        Assert.That(st, Is.EqualTo(Nfsstat3.Stale));
    }

    [Test]
    public async Task Setattr_changes_mode_and_times_and_the_guard_protects_them()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        var (_, a) = await Client.GetAttrAsync(fh);
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(mode: 0x180), guardCtimeNs: a!.CtimeNs + 1), Is.EqualTo(Nfsstat3.NotSync));
        Assert.That((await Client.GetAttrAsync(fh)).Item2!.Mode, Is.EqualTo(0x1a4u));
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(mode: 0x180, mtimeHow: 2, mtimeSeconds: 1000), guardCtimeNs: a.CtimeNs), Is.EqualTo(Nfsstat3.Ok));
        var after = (await Client.GetAttrAsync(fh)).Item2!;
        Assert.That(after.Mode, Is.EqualTo(0x180u));
        Assert.That(after.MtimeNs, Is.EqualTo(1000L * 1_000_000_000));
        Assert.That(after.CtimeNs, Is.GreaterThan(a.CtimeNs));
    }

    [Test]
    public async Task Setattr_size_truncation_releases_data_and_reads_zeros_after_extension()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        var data = Bytes(64 * 1024, 2);
        await Client.WriteAsync(fh, 0, data);
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(size: 10000)), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(Host.Provisioner.Unmaps, Has.Count.EqualTo(1));
        Assert.That(Host.Provisioner.Unmaps[0].Offset, Is.EqualTo(12288), "whole blocks past the new end");
        Assert.That((await Client.GetAttrAsync(fh)).Item2!.Size, Is.EqualTo(10000ul));
        var (st, read, eof) = await Client.ReadAsync(fh, 0, 100000);
        Assert.That((st, read.Length, eof), Is.EqualTo((Nfsstat3.Ok, 10000, true)));
        Assert.That(read, Is.EqualTo(data.AsSpan(0, 10000).ToArray()));
        // Growing again must show zeros where the old data was.
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(size: 65536)), Is.EqualTo(Nfsstat3.Ok));
        (st, read, _) = await Client.ReadAsync(fh, 0, 65536);
        Assert.That(read.AsSpan(0, 10000).ToArray(), Is.EqualTo(data.AsSpan(0, 10000).ToArray()));
        Assert.That(read.AsSpan(10000).ToArray().All(b => b == 0), Is.True);
    }

    [Test]
    public async Task Setattr_size_on_a_directory_is_isdir_and_beyond_the_maximum_is_fbig()
    {
        Assert.That(await Client.SetAttrAsync(Root, new XdrBuilder().Sattr(size: 0)), Is.EqualTo(Nfsstat3.IsDir));
        var (_, fh) = await Client.CreateAsync(Root, "f");
        Assert.That(await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(size: (ulong)Host.Options.MaxFileSize + 1)), Is.EqualTo(Nfsstat3.FBig));
    }

    [Test]
    public async Task Setattr_chown_needs_root()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        await Client.SetAttrAsync(fh, new XdrBuilder().Sattr(uid: 1000, gid: 1000));
        await using var user = Host.Connect(uid: 1000, gid: 1000);
        Assert.That(await user.SetAttrAsync(fh, new XdrBuilder().Sattr(uid: 0)), Is.EqualTo(Nfsstat3.Perm));
        Assert.That(await user.SetAttrAsync(fh, new XdrBuilder().Sattr(mode: 0x1c0)), Is.EqualTo(Nfsstat3.Ok), "the owner may chmod");
        await using var other = Host.Connect(uid: 1001, gid: 1001);
        Assert.That(await other.SetAttrAsync(fh, new XdrBuilder().Sattr(mode: 0x1ff)), Is.EqualTo(Nfsstat3.Perm));
    }

    [Test]
    public async Task Access_reflects_mode_bits_and_read_only_exports()
    {
        var (_, fh) = await Client.CreateAsync(Root, "f", fileMode: 0x1a4);
        await using var other = Host.Connect(uid: 1001, gid: 1001);
        var (st, body) = await other.NfsAsync(4, new XdrBuilder().Opaque(fh).U32(0x3f));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        r.TryReadUInt32(out uint granted);
        Assert.That(granted, Is.EqualTo((uint)AccessBits.Read), "0644 for someone else: read only");

        var (_, ro) = await Client.MountAsync("/ro");
        (st, body) = await Client.NfsAsync(4, new XdrBuilder().Opaque(ro).U32(0x3f));
        r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        r.TryReadUInt32(out granted);
        Assert.That(granted & (uint)(AccessBits.Modify | AccessBits.Extend | AccessBits.Delete), Is.EqualTo(0u));
        Assert.That(granted & (uint)AccessBits.Lookup, Is.Not.EqualTo(0u));
    }

    [Test]
    public async Task Fsinfo_advertises_1_MiB_transfers_and_16_TiB_files()
    {
        var (st, body) = await Client.NfsAsync(19, new XdrBuilder().Opaque(Root));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        r.TryReadUInt32(out uint rtmax);
        r.TryReadUInt32(out _);
        r.TryReadUInt32(out _);
        r.TryReadUInt32(out uint wtmax);
        r.TryReadUInt32(out _);
        r.TryReadUInt32(out _);
        r.TryReadUInt32(out _);
        r.TryReadUInt64(out ulong maxFile);
        r.TryReadUInt64(out _);
        r.TryReadUInt32(out uint props);
        Assert.That(rtmax, Is.GreaterThanOrEqualTo(1u << 20));
        Assert.That(wtmax, Is.GreaterThanOrEqualTo(1u << 20));
        Assert.That(maxFile, Is.GreaterThanOrEqualTo(16UL << 40));
        Assert.That(props, Is.EqualTo(0x1bu));
    }

    [Test]
    public async Task Fsstat_and_pathconf()
    {
        var (st, body) = await Client.NfsAsync(18, new XdrBuilder().Opaque(Root));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        r.TryReadUInt64(out ulong tbytes);
        Assert.That(tbytes, Is.EqualTo((ulong)Host.Options.ReportedCapacityBytes));

        (st, body) = await Client.NfsAsync(20, new XdrBuilder().Opaque(Root));
        r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        r.TryReadUInt32(out _);
        r.TryReadUInt32(out uint nameMax);
        r.TryReadBool(out bool noTrunc);
        Assert.That((st, nameMax, noTrunc), Is.EqualTo((Nfsstat3.Ok, 255u, true)));
    }
}
