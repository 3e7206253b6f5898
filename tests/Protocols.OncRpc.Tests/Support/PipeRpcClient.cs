using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc.Tests.Support;

/// <summary>
/// Drives an <see cref="RpcServer"/> over in-memory pipes (no sockets): sends records, reads reply
/// records, parses them. Several calls may be outstanding; replies are matched by xid.
/// </summary>
public sealed class PipeRpcClient : IAsyncDisposable
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();
    private readonly Task _serverTask;
    private readonly Dictionary<uint, byte[]> _early = new();
    private readonly RecordAssembler _replies = new(64 << 20, int.MaxValue);
    private uint _xid = 0x1000;

    public PipeRpcClient(RpcServer server, System.Net.EndPoint? remote = null)
    {
        _serverTask = server.RunConnectionAsync(new Duplex(_toServer.Reader, _toClient.Writer), null, remote);
    }

    public static RpcServer NewServer(params IRpcProgram[] programs) =>
        NewServer(new RpcServerOptions { MaxRecordSize = 8 << 20, MaxBufferedBytesPerConnection = 64 << 20 }, programs);

    public static RpcServer NewServer(RpcServerOptions options, params IRpcProgram[] programs)
    {
        var s = new RpcServer(options, NullLoggerFactory.Instance);
        foreach (var p in programs)
            s.Register(p);
        return s;
    }

    public Task ServerTask => _serverTask;

    public uint Uid { get; set; }

    public uint Gid { get; set; }

    public AuthFlavor Flavor { get; set; } = AuthFlavor.Sys;

    /// <summary>A call record (without record mark) with the client's credential.</summary>
    public byte[] BuildCall(uint xid, uint program, uint version, uint procedure, ReadOnlySpan<byte> args)
    {
        var buffer = new byte[256 + args.Length];
        var w = new XdrWriter(buffer);
        if (Flavor is AuthFlavor.Sys or AuthFlavor.None)
        {
            RpcCallHeader.WriteCall(ref w, xid, program, version, procedure, Uid, Gid, Flavor == AuthFlavor.Sys);
        }
        else
        {
            w.WriteUInt32(xid);
            w.WriteUInt32(0);
            w.WriteUInt32(2);
            w.WriteUInt32(program);
            w.WriteUInt32(version);
            w.WriteUInt32(procedure);
            w.WriteUInt32((uint)Flavor);
            w.WriteUInt32(0);
            w.WriteUInt32(0);
            w.WriteUInt32(0);
        }
        args.CopyTo(buffer.AsSpan(w.Position));
        return buffer.AsSpan(0, w.Position + args.Length).ToArray();
    }

    public async Task SendRecordAsync(ReadOnlyMemory<byte> record, int fragmentSize = int.MaxValue)
    {
        int offset = 0;
        do
        {
            int n = Math.Min(fragmentSize, record.Length - offset);
            var mark = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(mark, (offset + n == record.Length ? RecordMarking.LastFragment : 0) | (uint)n);
            await _toServer.Writer.WriteAsync(mark);
            await _toServer.Writer.WriteAsync(record.Slice(offset, n));
            offset += n;
        }
        while (offset < record.Length);
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes) => await _toServer.Writer.WriteAsync(bytes);

    public void CloseSend() => _toServer.Writer.Complete();

    /// <summary>Sends a call and returns its reply record (whole, after the record mark).</summary>
    public async Task<byte[]> CallRawAsync(uint program, uint version, uint procedure, ReadOnlyMemory<byte> args)
    {
        uint xid = ++_xid;
        await SendRecordAsync(BuildCall(xid, program, version, procedure, args.Span));
        return await ReceiveAsync(xid);
    }

    public async Task<RpcReply> CallAsync(uint program, uint version, uint procedure, ReadOnlyMemory<byte> args)
    {
        var record = await CallRawAsync(program, version, procedure, args);
        return RpcTcpClient.Parse(record, out _);
    }

    public async Task<byte[]> ReceiveAsync(uint xid)
    {
        if (_early.Remove(xid, out var early))
            return early;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var record = await ReceiveAnyAsync(cts.Token) ?? throw new IOException("server closed the connection");
            uint got = BinaryPrimitives.ReadUInt32BigEndian(record);
            if (got == xid)
                return record;
            _early[got] = record;
        }
    }

    /// <summary>The next reply record, or null when the server closed the connection.</summary>
    public async Task<byte[]?> ReceiveAnyAsync(CancellationToken cancel)
    {
        var reader = _toClient.Reader;
        while (true)
        {
            var result = await reader.ReadAsync(cancel);
            var buffer = result.Buffer;
            var progress = _replies.TryRead(ref buffer, out byte[] pooled, out int length, out _);
            reader.AdvanceTo(buffer.Start);
            if (progress == RecordProgress.Complete)
            {
                var record = pooled.AsSpan(0, length).ToArray();
                RecordBuffers.Return(pooled);
                return record;
            }
            if (result.IsCompleted)
                return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _toServer.Writer.CompleteAsync();
        await Task.WhenAny(_serverTask, Task.Delay(5000));
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
