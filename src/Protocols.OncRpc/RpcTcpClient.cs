using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>The reply to a call made with <see cref="RpcTcpClient"/>.</summary>
public sealed record RpcReply(ReplyStat Stat, AcceptStat AcceptStat, RejectStat RejectStat, AuthStat AuthStat, byte[] Results);

/// <summary>
/// A small synchronous-in-spirit RPC client over TCP: one call at a time. For registering with a
/// system rpcbind and for tests; not a data-path component.
/// </summary>
public sealed class RpcTcpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private uint _xid = (uint)Random.Shared.Next();

    private RpcTcpClient(Socket socket)
    {
        _socket = socket;
    }

    public static async Task<RpcTcpClient> ConnectAsync(IPEndPoint endPoint, TimeSpan timeout)
    {
        var s = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await s.ConnectAsync(endPoint, cts.Token).ConfigureAwait(false);
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return new RpcTcpClient(s);
    }

    public uint Uid { get; set; }

    public uint Gid { get; set; }

    public bool AuthSys { get; set; } = true;

    /// <summary>Sends one call and waits for its reply.</summary>
    public async Task<RpcReply> CallAsync(uint program, uint version, uint procedure, ReadOnlyMemory<byte> arguments, TimeSpan? timeout = null)
    {
        uint xid = ++_xid;
        var buffer = new byte[4 + 128 + arguments.Length];
        var w = new XdrWriter(buffer.AsSpan(4));
        RpcCallHeader.WriteCall(ref w, xid, program, version, procedure, Uid, Gid, AuthSys);
        arguments.Span.CopyTo(buffer.AsSpan(4 + w.Position));
        int length = w.Position + arguments.Length;
        RecordMarking.WriteMark(buffer, length);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        await _socket.SendAsync(buffer.AsMemory(0, 4 + length), SocketFlags.None, cts.Token).ConfigureAwait(false);
        while (true)
        {
            byte[] record = await ReceiveRecordAsync(cts.Token).ConfigureAwait(false);
            var reply = Parse(record, out uint replyXid);
            if (replyXid == xid)
                return reply;
        }
    }

    /// <summary>Sends raw bytes (tests of malformed input).</summary>
    public Task SendRawAsync(ReadOnlyMemory<byte> bytes) => _socket.SendAsync(bytes, SocketFlags.None).AsTask();

    public async Task<byte[]> ReceiveRecordAsync(CancellationToken cancel)
    {
        var ms = new MemoryStream();
        var header = new byte[4];
        while (true)
        {
            await ReceiveExactlyAsync(header, cancel).ConfigureAwait(false);
            uint mark = BinaryPrimitives.ReadUInt32BigEndian(header);
            var frag = new byte[mark & ~RecordMarking.LastFragment];
            await ReceiveExactlyAsync(frag, cancel).ConfigureAwait(false);
            ms.Write(frag);
            if ((mark & RecordMarking.LastFragment) != 0)
                return ms.ToArray();
        }
    }

    private async Task ReceiveExactlyAsync(Memory<byte> destination, CancellationToken cancel)
    {
        int got = 0;
        while (got < destination.Length)
        {
            int n = await _socket.ReceiveAsync(destination[got..], SocketFlags.None, cancel).ConfigureAwait(false);
            if (n == 0)
                throw new IOException("connection closed by the server");
            got += n;
        }
    }

    public static RpcReply Parse(byte[] record, out uint xid)
    {
        var r = new XdrReader(record);
        if (!r.TryReadUInt32(out xid) || !r.TryReadUInt32(out uint mtype) || mtype != (uint)MessageType.Reply || !r.TryReadUInt32(out uint stat))
            throw new InvalidDataException("not an RPC reply");
        if (stat == (uint)ReplyStat.Denied)
        {
            r.TryReadUInt32(out uint reject);
            uint auth = 0;
            if (reject == (uint)RejectStat.AuthError)
                r.TryReadUInt32(out auth);
            return new RpcReply(ReplyStat.Denied, AcceptStat.Success, (RejectStat)reject, (AuthStat)auth, Array.Empty<byte>());
        }
        if (!r.TryReadUInt32(out _) || !r.TryReadOpaque(400, out _) || !r.TryReadUInt32(out uint accept))
            throw new InvalidDataException("truncated accepted reply");
        return new RpcReply(ReplyStat.Accepted, (AcceptStat)accept, default, default, record.AsSpan(r.Position).ToArray());
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
