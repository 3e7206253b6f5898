using System.Buffers.Binary;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Fuzz.Support;

/// <summary>Builds RPC calls and records for seeds, as the OncRpc and Nfs tests' clients do.</summary>
public static class RpcSeeds
{
    public static byte[] Call(uint xid, uint program, uint version, uint procedure, ReadOnlySpan<byte> args, bool authSys = true, uint uid = 0, uint gid = 0)
    {
        var buffer = new byte[128 + args.Length];
        var w = new XdrWriter(buffer);
        RpcCallHeader.WriteCall(ref w, xid, program, version, procedure, uid, gid, authSys);
        w.WriteFixedOpaque(args);
        return buffer.AsSpan(0, w.Position).ToArray();
    }

    /// <summary>One record in one fragment.</summary>
    public static byte[] Record(ReadOnlySpan<byte> payload)
    {
        var r = new byte[4 + payload.Length];
        RecordMarking.WriteMark(r, payload.Length);
        payload.CopyTo(r.AsSpan(4));
        return r;
    }

    /// <summary>One record cut into fragments of <paramref name="size"/> bytes.</summary>
    public static byte[] Fragments(ReadOnlySpan<byte> payload, int size)
    {
        var all = new List<byte>();
        for (int at = 0; at < payload.Length; at += size)
        {
            int n = Math.Min(size, payload.Length - at);
            var mark = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(mark, (uint)n | (at + n >= payload.Length ? RecordMarking.LastFragment : 0));
            all.AddRange(mark);
            all.AddRange(payload.Slice(at, n).ToArray());
        }
        return all.ToArray();
    }

    /// <summary>An XDR string.</summary>
    public static byte[] Str(string s)
    {
        var b = new byte[XdrWriter.StringSize(System.Text.Encoding.UTF8.GetByteCount(s))];
        var w = new XdrWriter(b);
        w.WriteString(s);
        return b;
    }
}
