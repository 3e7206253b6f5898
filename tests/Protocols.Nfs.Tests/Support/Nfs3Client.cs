using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests.Support;

/// <summary>fattr3 as parsed by the tests.</summary>
public sealed record Fattr(Ftype3 Type, uint Mode, uint Nlink, uint Uid, uint Gid, ulong Size, ulong Used, ulong Fsid, ulong FileId, long AtimeNs, long MtimeNs, long CtimeNs);

/// <summary>A minimal NFSv3/MOUNT client for the tests, over in-memory pipes.</summary>
public sealed class Nfs3Client : IAsyncDisposable
{
    public const uint Nfs = 100003;
    public const uint MountProg = 100005;

    public Nfs3Client(PipeRpcClient rpc)
    {
        Rpc = rpc;
    }

    public PipeRpcClient Rpc { get; }

    public async Task<RpcReply> CallAsync(uint proc, ReadOnlyMemory<byte> args)
    {
        var reply = await Rpc.CallAsync(Nfs, 3, proc, args);
        return reply;
    }

    /// <summary>Calls and returns the nfsstat3 and a reader positioned after it (as a byte array + offset).</summary>
    public async Task<(Nfsstat3 Status, byte[] Body)> NfsAsync(uint proc, ReadOnlyMemory<byte> args)
    {
        var reply = await CallAsync(proc, args);
        Assert.That(reply.AcceptStat, Is.EqualTo(AcceptStat.Success), $"procedure {proc} accept_stat");
        var r = new XdrReader(reply.Results);
        Assert.That(r.TryReadUInt32(out uint st));
        return ((Nfsstat3)st, reply.Results.AsSpan(4).ToArray());
    }

    public async Task<(uint Status, byte[] Handle)> MountAsync(string path)
    {
        var reply = await Rpc.CallAsync(MountProg, 3, 1, new XdrBuilder().Str(path));
        Assert.That(reply.AcceptStat, Is.EqualTo(AcceptStat.Success));
        var r = new XdrReader(reply.Results);
        r.TryReadUInt32(out uint st);
        if (st != 0)
            return (st, Array.Empty<byte>());
        r.TryReadOpaque(64, out var fh);
        return (st, fh.ToArray());
    }

    public static Fattr ReadFattr(ref XdrReader r)
    {
        Assert.That(r.TryReadUInt32(out uint type) & r.TryReadUInt32(out uint mode) & r.TryReadUInt32(out uint nlink) & r.TryReadUInt32(out uint uid) & r.TryReadUInt32(out uint gid)
            & r.TryReadUInt64(out ulong size) & r.TryReadUInt64(out ulong used) & r.TryReadUInt64(out _) & r.TryReadUInt64(out ulong fsid) & r.TryReadUInt64(out ulong fileid)
            & Nfs3Xdr.TryReadTime(ref r, out long at) & Nfs3Xdr.TryReadTime(ref r, out long mt) & Nfs3Xdr.TryReadTime(ref r, out long ct));
        return new Fattr((Ftype3)type, mode, nlink, uid, gid, size, used, fsid, fileid, at, mt, ct);
    }

    public static Fattr? ReadPostOpAttr(ref XdrReader r)
    {
        Assert.That(r.TryReadBool(out bool follows));
        return follows ? ReadFattr(ref r) : null;
    }

    /// <summary>wcc_data: (before size, mtime) and after.</summary>
    public static (ulong? BeforeSize, Fattr? After) ReadWcc(ref XdrReader r)
    {
        Assert.That(r.TryReadBool(out bool pre));
        ulong? size = null;
        if (pre)
        {
            r.TryReadUInt64(out ulong s);
            r.TryReadUInt64(out _);
            r.TryReadUInt64(out _);
            size = s;
        }
        return (size, ReadPostOpAttr(ref r));
    }

    public async Task<(Nfsstat3, Fattr?)> GetAttrAsync(byte[] fh)
    {
        var (st, body) = await NfsAsync(1, new XdrBuilder().Opaque(fh));
        if (st != Nfsstat3.Ok)
            return (st, null);
        var r = new XdrReader(body);
        return (st, ReadFattr(ref r));
    }

    public async Task<(Nfsstat3, byte[] Handle)> LookupAsync(byte[] dir, string name)
    {
        var (st, body) = await NfsAsync(3, new XdrBuilder().Opaque(dir).Str(name));
        if (st != Nfsstat3.Ok)
            return (st, Array.Empty<byte>());
        var r = new XdrReader(body);
        r.TryReadOpaque(64, out var fh);
        return (st, fh.ToArray());
    }

    /// <summary>CREATE; returns the new handle.</summary>
    public async Task<(Nfsstat3, byte[] Handle)> CreateAsync(byte[] dir, string name, CreateMode mode = CreateMode.Unchecked, uint fileMode = 0x1a4, ulong verifier = 0, ulong? size = null)
    {
        var b = new XdrBuilder().Opaque(dir).Str(name).U32((uint)mode);
        if (mode == CreateMode.Exclusive)
            b.U64(verifier);
        else
            b.Sattr(mode: fileMode, size: size);
        var (st, body) = await NfsAsync(8, b);
        return (st, st == Nfsstat3.Ok ? ReadPostOpFh(body) : Array.Empty<byte>());
    }

    public async Task<(Nfsstat3, byte[] Handle)> MkDirAsync(byte[] dir, string name, uint mode = 0x1ed)
    {
        var (st, body) = await NfsAsync(9, new XdrBuilder().Opaque(dir).Str(name).Sattr(mode: mode));
        return (st, st == Nfsstat3.Ok ? ReadPostOpFh(body) : Array.Empty<byte>());
    }

    private static byte[] ReadPostOpFh(byte[] body)
    {
        var r = new XdrReader(body);
        Assert.That(r.TryReadBool(out bool follows) && follows);
        r.TryReadOpaque(64, out var fh);
        return fh.ToArray();
    }

    public async Task<(Nfsstat3, uint Count, StableHow Committed, ulong Verifier)> WriteAsync(byte[] fh, ulong offset, byte[] data, StableHow stable = StableHow.Unstable)
    {
        var (st, body) = await NfsAsync(7, new XdrBuilder().Opaque(fh).U64(offset).U32((uint)data.Length).U32((uint)stable).Opaque(data));
        if (st != Nfsstat3.Ok)
            return (st, 0, 0, 0);
        var r = new XdrReader(body);
        ReadWcc(ref r);
        r.TryReadUInt32(out uint count);
        r.TryReadUInt32(out uint committed);
        r.TryReadUInt64(out ulong verf);
        return (st, count, (StableHow)committed, verf);
    }

    public async Task<(Nfsstat3, byte[] Data, bool Eof)> ReadAsync(byte[] fh, ulong offset, uint count)
    {
        var (st, body) = await NfsAsync(6, new XdrBuilder().Opaque(fh).U64(offset).U32(count));
        if (st != Nfsstat3.Ok)
            return (st, Array.Empty<byte>(), false);
        var r = new XdrReader(body);
        ReadPostOpAttr(ref r);
        r.TryReadUInt32(out uint n);
        r.TryReadBool(out bool eof);
        r.TryReadOpaque(int.MaxValue, out var data);
        Assert.That(data.Length, Is.EqualTo((int)n));
        return (st, data.ToArray(), eof);
    }

    public async Task<Nfsstat3> RemoveAsync(byte[] dir, string name) => (await NfsAsync(12, new XdrBuilder().Opaque(dir).Str(name))).Status;

    public async Task<Nfsstat3> RmDirAsync(byte[] dir, string name) => (await NfsAsync(13, new XdrBuilder().Opaque(dir).Str(name))).Status;

    public async Task<Nfsstat3> RenameAsync(byte[] fromDir, string from, byte[] toDir, string to) =>
        (await NfsAsync(14, new XdrBuilder().Opaque(fromDir).Str(from).Opaque(toDir).Str(to))).Status;

    public async Task<Nfsstat3> SetAttrAsync(byte[] fh, XdrBuilder sattr, long? guardCtimeNs = null)
    {
        var b = new XdrBuilder().Opaque(fh).Fixed(sattr.ToArray()).Bool(guardCtimeNs.HasValue);
        if (guardCtimeNs is long g)
            b.U32((uint)(g / 1_000_000_000)).U32((uint)(g % 1_000_000_000));
        return (await NfsAsync(2, b)).Status;
    }

    /// <summary>Lists a whole directory with READDIR pages of <paramref name="count"/> bytes; returns (name, fileid, cookie).</summary>
    public async Task<List<(string Name, ulong FileId, ulong Cookie)>> ReadDirAllAsync(byte[] dir, uint count = 4096, Func<int, Task>? betweenPages = null)
    {
        var all = new List<(string, ulong, ulong)>();
        ulong cookie = 0;
        ulong verf = 0;
        int page = 0;
        while (true)
        {
            var (st, body) = await NfsAsync(16, new XdrBuilder().Opaque(dir).U64(cookie).U64(verf).U32(count));
            Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
            var r = new XdrReader(body);
            ReadPostOpAttr(ref r);
            r.TryReadUInt64(out verf);
            while (r.TryReadBool(out bool more) && more)
            {
                r.TryReadUInt64(out ulong id);
                r.TryReadString(255, out string name);
                r.TryReadUInt64(out cookie);
                all.Add((name, id, cookie));
            }
            Assert.That(r.TryReadBool(out bool eof));
            if (eof)
                return all;
            if (betweenPages is not null)
                await betweenPages(page);
            page++;
        }
    }

    public ValueTask DisposeAsync() => Rpc.DisposeAsync();
}
