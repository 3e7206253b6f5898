using System.Buffers.Binary;
using StorageAppliance.Fuzz.Support;

namespace StorageAppliance.Fuzz.Targets;

/// <summary>
/// Every NFSv3 (RFC 1813) or MOUNT v3 (RFC 1813 appendix I) procedure's argument decoder, and what the
/// procedure then does with what it decoded: the input is a list of calls whose arguments are taken
/// raw; the harness frames each as a well-formed RPC call so the fuzzer spends its time past the RPC
/// header. Each call in the input:
/// <code>
///   byte 0      procedure (0-31: NFSv3 has 0-21, MOUNT 0-5; the rest are PROC_UNAVAIL)
///   byte 1      bit 0: uid/gid 1000 instead of root; bit 1: AUTH_NONE
///   byte 2-3    length of the arguments (big-endian)
///   arguments   raw XDR; an opaque of length 24 starting "PH" and an index is replaced by a real file
///               handle (0 /data, 1 /data/f, 2 /data/d, 3 /data/l, 4 /ro, 5 /squash), so a fuzzed
///               call can reach past the handle lookup
/// </code>
/// Documented outcomes: GARBAGE_ARGS for arguments that do not decode, an nfsstat3 / mountstat3 for
/// the rest; a defect is a logged or escaping exception or a call that never completes.
/// </summary>
public sealed class NfsCallsTarget(NfsCallsTarget.Kind kind) : IFuzzTarget
{
    public enum Kind
    {
        Nfs3,
        Mount,
    }

    private const int MaxCalls = 16;

    public string Name => kind == Kind.Nfs3 ? "nfs3-args" : "mount-args";

    private uint Program => kind == Kind.Nfs3 ? 100003u : 100005u;

    public void Run(ReadOnlySpan<byte> input)
    {
        using var host = new NfsHost();
        host.RunConnection(Frame(input, host));
    }

    /// <summary>The calls of the input as the RPC byte stream a client would send.</summary>
    public byte[] Frame(ReadOnlySpan<byte> input, NfsHost host)
    {
        var stream = new List<byte>();
        for (uint n = 0; n < MaxCalls && input.Length >= 4; n++)
        {
            byte proc = (byte)(input[0] & 0x1F);
            byte flags = input[1];
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input[2..]), input.Length - 4);
            byte[] args = input.Slice(4, length).ToArray();
            input = input[(4 + length)..];
            PlaceHandles(args, host.Handles);
            uint id = (flags & 1) != 0 ? 1000u : 0u;
            stream.AddRange(RpcSeeds.Record(RpcSeeds.Call(0x100 + n, Program, 3, proc, args, authSys: (flags & 2) == 0, uid: id, gid: id)));
        }
        return stream.ToArray();
    }

    /// <summary>Replaces each 4-byte-aligned placeholder handle (length 24, "PH", index) by a real one.</summary>
    private static void PlaceHandles(byte[] args, IReadOnlyList<byte[]> handles)
    {
        for (int i = 0; i + 28 <= args.Length; i += 4)
        {
            if (args[i] == 0 && args[i + 1] == 0 && args[i + 2] == 0 && args[i + 3] == 24 && args[i + 4] == (byte)'P' && args[i + 5] == (byte)'H')
            {
                handles[args[i + 6] % handles.Count].CopyTo(args, i + 4);
                i += 24;
            }
        }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds() => kind == Kind.Nfs3 ? NfsSeeds() : MountSeeds();

    private static IEnumerable<(string, byte[])> MountSeeds()
    {
        yield return ("null", Call(0, new X()));
        yield return ("mnt-data", Call(1, new X().S("/data")));
        yield return ("mnt-ro-squash", IscsiPduTarget.Concat(Call(1, new X().S("/ro")), Call(1, new X().S("/squash"), 1), Call(1, new X().S("/nope"))));
        yield return ("dump", Call(2, new X()));
        yield return ("umnt", IscsiPduTarget.Concat(Call(1, new X().S("/data")), Call(3, new X().S("/data"))));
        yield return ("umntall-export", IscsiPduTarget.Concat(Call(4, new X()), Call(5, new X())));
        yield return ("mnt-auth-none", Call(1, new X().S("/data"), 2));
    }

    private static IEnumerable<(string, byte[])> NfsSeeds()
    {
        yield return ("00-null", Call(0, new X()));
        yield return ("01-getattr", IscsiPduTarget.Concat(Call(1, new X().H(0)), Call(1, new X().H(1)), Call(1, new X().O(new byte[24]))));
        yield return ("02-setattr", IscsiPduTarget.Concat(Call(2, new X().H(1).Sattr(mode: 0600, size: 4096).U(0)), Call(2, new X().H(1).Sattr(uid: 1000, times: 2).U(1).U(1).U(2), 1)));
        yield return ("03-lookup", IscsiPduTarget.Concat(Call(3, new X().H(0).S("f")), Call(3, new X().H(0).S("..")), Call(3, new X().H(2).S("missing"))));
        yield return ("04-access", IscsiPduTarget.Concat(Call(4, new X().H(1).U(0x3F)), Call(4, new X().H(2).U(0x1F), 1)));
        yield return ("05-readlink", Call(5, new X().H(3)));
        yield return ("06-read", IscsiPduTarget.Concat(Call(6, new X().H(1).L(0).U(4096)), Call(6, new X().H(1).L(1UL << 40).U(65536))));
        yield return ("07-write", IscsiPduTarget.Concat(Call(7, new X().H(1).L(0).U(16).U(2).O(new byte[16])), Call(7, new X().H(1).L(4096).U(8).U(0).O(new byte[8]), 1)));
        yield return ("08-create", IscsiPduTarget.Concat(Call(8, new X().H(0).S("new").U(0).Sattr(mode: 0644)), Call(8, new X().H(0).S("g").U(1).Sattr()), Call(8, new X().H(0).S("x").U(2).L(0x1122334455667788))));
        yield return ("09-mkdir", Call(9, new X().H(0).S("sub").Sattr(mode: 0755)));
        yield return ("10-symlink", Call(10, new X().H(0).S("link").Sattr().S("target/path")));
        yield return ("11-mknod", IscsiPduTarget.Concat(Call(11, new X().H(0).S("fifo").U(7).Sattr()), Call(11, new X().H(0).S("chr").U(4).Sattr().U(1).U(3))));
        yield return ("12-remove", Call(12, new X().H(0).S("f")));
        yield return ("13-rmdir", Call(13, new X().H(0).S("d")));
        yield return ("14-rename", IscsiPduTarget.Concat(Call(14, new X().H(0).S("f").H(2).S("moved")), Call(14, new X().H(0).S("d").H(2).S("loop"))));
        yield return ("15-link", Call(15, new X().H(1).H(2).S("hard")));
        yield return ("16-readdir", Call(16, new X().H(0).L(0).L(0).U(4096)));
        yield return ("17-readdirplus", Call(17, new X().H(0).L(0).L(0).U(1024).U(8192)));
        yield return ("18-fsstat", Call(18, new X().H(0)));
        yield return ("19-fsinfo", Call(19, new X().H(4)));
        yield return ("20-pathconf", Call(20, new X().H(5)));
        yield return ("21-commit", IscsiPduTarget.Concat(Call(7, new X().H(1).L(0).U(4).U(0).O([1, 2, 3, 4])), Call(21, new X().H(1).L(0).U(0))));
        yield return ("ro-and-squash", IscsiPduTarget.Concat(Call(8, new X().H(4).S("no").U(0).Sattr()), Call(9, new X().H(5).S("squashed").Sattr(uid: 0))));
        yield return ("bad-handles", IscsiPduTarget.Concat(Call(1, new X().O([(byte)'S', 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0])), Call(1, new X().O(new byte[64]))));
    }

    private static byte[] Call(byte proc, X args, byte flags = 0)
    {
        var a = args.ToArray();
        var h = new byte[4];
        h[0] = proc;
        h[1] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)a.Length);
        return IscsiPduTarget.Concat(h, a);
    }

    /// <summary>A small XDR builder for the seeds.</summary>
    private sealed class X
    {
        private readonly List<byte> _b = new();

        public X U(uint v)
        {
            _b.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
            return this;
        }

        public X L(ulong v) => U((uint)(v >> 32)).U((uint)v);

        public X O(byte[] bytes)
        {
            U((uint)bytes.Length);
            _b.AddRange(bytes);
            _b.AddRange(new byte[((bytes.Length + 3) & ~3) - bytes.Length]);
            return this;
        }

        public X S(string s) => O(System.Text.Encoding.UTF8.GetBytes(s));

        /// <summary>The placeholder for handle <paramref name="index"/>.</summary>
        public X H(byte index)
        {
            var ph = new byte[24];
            ph[0] = (byte)'P';
            ph[1] = (byte)'H';
            ph[2] = index;
            return O(ph);
        }

        public X Sattr(uint? mode = null, uint? uid = null, ulong? size = null, uint times = 0)
        {
            if (mode is null) U(0); else U(1).U(mode.Value);
            if (uid is null) U(0); else U(1).U(uid.Value);
            U(0); // gid
            if (size is null) U(0); else U(1).L(size.Value);
            U(times);
            if (times == 2) U(1_700_000_000).U(5);
            U(times);
            if (times == 2) U(1_700_000_000).U(6);
            return this;
        }

        public byte[] ToArray() => _b.ToArray();
    }
}
