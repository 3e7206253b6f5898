using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.OncRpc.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc.Tests;

/// <summary>
/// What one connection may hold and for how long: calls in progress (exact count), record fragments,
/// buffered bytes, idle and partial-record timeouts, replies kept whole per send, and the reply-status
/// cases of RFC 5531 (auth errors, version mismatches).
/// </summary>
public class RpcTransportLimitsTests
{
    /// <summary>Program 0x20000009 v1-3: proc 0 null, 1 answers after a random short await off the receive thread, 2 answers N bytes, 3 sleeps N ms.</summary>
    private sealed class LimitsProgram : IRpcProgram
    {
        public uint Program => 0x20000009;

        public uint LowVersion => 1;

        public uint HighVersion => 3;

        public string Name => "limits";

        public async ValueTask<RpcOutcome> HandleAsync(RpcCall call)
        {
            switch (call.Procedure)
            {
                case 0:
                    call.EndResults(0);
                    return RpcOutcome.Success;
                case 1:
                    // Complete on another thread at a random moment, racing the receive loop's next dispatch.
                    if (Random.Shared.Next(3) == 0)
                        await Task.Yield();
                    else
                        await Task.Delay(Random.Shared.Next(2));
                    call.EndResults(0);
                    return RpcOutcome.Success;
                case 2:
                    {
                        int n = (int)BinaryPrimitives.ReadUInt32BigEndian(call.Arguments);
                        var w = call.BeginResults(n + 4);
                        w.WriteOpaque(new byte[n]);
                        call.EndResults(w);
                        return RpcOutcome.Success;
                    }
                case 3:
                    await Task.Delay((int)BinaryPrimitives.ReadUInt32BigEndian(call.Arguments));
                    call.EndResults(0);
                    return RpcOutcome.Success;
                default:
                    return RpcOutcome.ProcUnavail;
            }
        }
    }

    private static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }

    private static RpcServer Server(RpcServerOptions options) => PipeRpcClient.NewServer(options, new LimitsProgram());

    private static async Task<byte[]?> NextOrClosedAsync(PipeRpcClient c, int seconds = 30)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        return await c.ReceiveAnyAsync(cts.Token);
    }

    [Test]
    public async Task Calls_in_progress_are_counted_exactly_under_many_pipelined_calls()
    {
        const int bound = 8;
        var server = Server(new RpcServerOptions { MaxOutstandingCalls = bound });
        await using var c = new PipeRpcClient(server);
        var connection = server.Connections.Single();
        for (int round = 0; round < 5; round++)
        {
            // 4000 calls in one burst: the receive loop dispatches while handlers finish on the thread pool.
            var burst = new MemoryStream();
            for (uint i = 0; i < 4000; i++)
            {
                var record = c.BuildCall(0x10000 + i, 0x20000009, 1, 1, default);
                burst.Write(U32(RecordMarking.LastFragment | (uint)record.Length));
                burst.Write(record);
            }
            // Read while sending, as a real client does: the pipes hold only 64 KiB each way.
            var receiving = Task.Run(async () =>
            {
                var seen = new HashSet<uint>();
                while (seen.Count < 4000)
                {
                    var reply = await NextOrClosedAsync(c) ?? throw new AssertionException("connection closed");
                    seen.Add(BinaryPrimitives.ReadUInt32BigEndian(reply));
                }
            });
            await c.SendRawAsync(burst.ToArray());
            await receiving.WaitAsync(TimeSpan.FromSeconds(120));
            // The reply is queued before the count drops; give the drain a moment to release the last calls.
            for (int i = 0; i < 200 && connection.Outstanding != 0; i++)
                await Task.Delay(10);
            Assert.That(connection.Outstanding, Is.Zero, $"round {round}: no call is in progress once every reply is in");
            Assert.That(connection.PeakOutstanding, Is.InRange(1, bound), $"round {round}: the bound held");
        }
    }

    [Test]
    public async Task A_record_of_too_many_fragments_closes_the_connection()
    {
        var server = Server(new RpcServerOptions { MaxFragmentsPerRecord = 1024 });
        await using var c = new PipeRpcClient(server);
        // 2000 empty non-final fragments: never a record, only work.
        await c.SendRawAsync(new byte[2000 * 4]);
        Assert.That(await NextOrClosedAsync(c), Is.Null);
        await c.ServerTask.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task A_record_in_many_fragments_within_the_bound_is_served()
    {
        var server = Server(new RpcServerOptions { MaxFragmentsPerRecord = 1024 });
        await using var c = new PipeRpcClient(server);
        var record = c.BuildCall(0x77, 0x20000009, 1, 0, default);
        await c.SendRecordAsync(record, fragmentSize: 1);
        var reply = RpcTcpClient.Parse(await c.ReceiveAsync(0x77), out _);
        Assert.That(reply.AcceptStat, Is.EqualTo(AcceptStat.Success));
    }

    [Test]
    public async Task An_idle_connection_is_closed_and_a_busy_one_is_not()
    {
        var options = new RpcServerOptions { IdleTimeout = TimeSpan.FromSeconds(1), SweepInterval = TimeSpan.FromMilliseconds(100) };
        var server = Server(options);
        await using var idle = new PipeRpcClient(server);
        await using var busy = new PipeRpcClient(server);
        // A call that takes three idle timeouts: the connection waits for it, it is not idle.
        var record = busy.BuildCall(0x55, 0x20000009, 1, 3, U32(3000));
        await busy.SendRecordAsync(record);
        Assert.That(await NextOrClosedAsync(idle), Is.Null, "the idle connection was closed");
        await idle.ServerTask.WaitAsync(TimeSpan.FromSeconds(10));
        var reply = RpcTcpClient.Parse(await busy.ReceiveAsync(0x55), out _);
        Assert.That(reply.AcceptStat, Is.EqualTo(AcceptStat.Success), "the busy connection got its reply");
    }

    [Test]
    public async Task A_record_that_does_not_complete_in_time_closes_the_connection_and_frees_its_buffer()
    {
        var options = new RpcServerOptions { RecordTimeout = TimeSpan.FromSeconds(1), SweepInterval = TimeSpan.FromMilliseconds(100), IdleTimeout = TimeSpan.Zero };
        var server = Server(options);
        await using var c = new PipeRpcClient(server);
        // Promise 4 MiB, send 1 MiB of it, then stall.
        await c.SendRawAsync(U32(RecordMarking.LastFragment | (4u << 20)));
        await c.SendRawAsync(new byte[1 << 20]);
        for (int i = 0; i < 100 && server.Budget.Used == 0; i++)
            await Task.Delay(10);
        Assert.That(server.Budget.Used, Is.GreaterThanOrEqualTo(1 << 20), "the partial record is charged");
        Assert.That(await NextOrClosedAsync(c), Is.Null, "closed by the record timeout");
        await c.ServerTask.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(server.Budget.Used, Is.Zero, "the partial record's buffer went back");
        Assert.That(server.ConnectionCount, Is.Zero);
    }

    [Test]
    public async Task A_trickling_sender_is_closed_by_the_record_timeout()
    {
        var options = new RpcServerOptions { RecordTimeout = TimeSpan.FromSeconds(1), SweepInterval = TimeSpan.FromMilliseconds(100) };
        var server = Server(options);
        await using var c = new PipeRpcClient(server);
        var record = c.BuildCall(0x66, 0x20000009, 1, 0, default);
        var wire = U32(RecordMarking.LastFragment | (uint)record.Length).Concat(record).ToArray();
        var closed = NextOrClosedAsync(c);
        // A byte every 200 ms: every read makes progress, but the record takes far longer than its timeout.
        for (int i = 0; i < wire.Length - 1 && !closed.IsCompleted; i++)
        {
            await c.SendRawAsync(wire.AsMemory(i, 1));
            await Task.Delay(200);
        }
        Assert.That(await closed, Is.Null);
    }

    [Test]
    public async Task The_global_budget_makes_a_connection_wait_not_fail_and_partial_records_release_it()
    {
        // Room for one large partial record at a time.
        var options = new RpcServerOptions
        {
            MaxRecordSize = 2 << 20,
            MaxBufferedBytesPerConnection = 2 << 20,
            MaxBufferedBytes = 2 << 20,
            RecordTimeout = TimeSpan.FromSeconds(2),
            SweepInterval = TimeSpan.FromMilliseconds(100),
        };
        var server = Server(options);
        await using var hog = new PipeRpcClient(server);
        await using var other = new PipeRpcClient(server);
        // The hog holds 1.5 MiB of a 2 MiB record (a 2 MiB buffer: the whole budget) and stalls.
        await hog.SendRawAsync(U32(RecordMarking.LastFragment | (2u << 20) - 64));
        await hog.SendRawAsync(new byte[(3 << 20) / 2]);
        for (int i = 0; i < 100 && server.Budget.Used < (2 << 20); i++)
            await Task.Delay(10);
        Assert.That(server.Budget.Used, Is.EqualTo(2 << 20));

        // Small calls on another connection need no budget and go through at once.
        var small = RpcTcpClient.Parse(await other.CallRawAsync(0x20000009, 1, 0, default), out _);
        Assert.That(small.AcceptStat, Is.EqualTo(AcceptStat.Success));

        // A large call waits for room, which comes when the hog's record times out.
        var large = other.BuildCall(0x88, 0x20000009, 1, 0, new byte[300_000]);
        await other.SendRecordAsync(large);
        Assert.That(await NextOrClosedAsync(hog), Is.Null, "the stalled hog was closed");
        var reply = RpcTcpClient.Parse(await other.ReceiveAsync(0x88), out _);
        Assert.That(reply.AcceptStat, Is.EqualTo(AcceptStat.Success));
        for (int i = 0; i < 200 && server.Budget.Used != 0; i++)
            await Task.Delay(10);
        Assert.That(server.Budget.Used, Is.Zero);
    }

    [Test]
    public async Task Replies_are_never_split_across_writes_to_the_stream()
    {
        var server = Server(new RpcServerOptions());
        var stream = new RecordingStream();
        var toServer = new Pipe();
        // The listener's writer: a stream pipe writer with 64 KiB buffers.
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
        var run = server.RunConnectionAsync(new Duplex(toServer.Reader, writer), null, null);
        var builder = new PipeRpcClient(Server(new RpcServerOptions()));
        // 200 READ-sized (4 KiB + header) replies asked for in one burst, so they are written together.
        var burst = new MemoryStream();
        for (uint i = 0; i < 200; i++)
        {
            var record = builder.BuildCall(i + 1, 0x20000009, 1, 2, U32(4096 + 116));
            burst.Write(U32(RecordMarking.LastFragment | (uint)record.Length));
            burst.Write(record);
        }
        await toServer.Writer.WriteAsync(burst.ToArray());
        for (int i = 0; i < 500 && stream.RecordsSeen < 200; i++)
            await Task.Delay(10);
        await toServer.Writer.CompleteAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(stream.RecordsSeen, Is.EqualTo(200));
        Assert.That(stream.Writes, Is.GreaterThan(1), "more than one write was needed (the test shows something)");
        Assert.That(stream.SplitWrites, Is.Zero, "every write began and ended at a record boundary");
    }

    [Test]
    public async Task An_auth_sys_credential_over_400_bytes_is_auth_badcred()
    {
        await using var c = new PipeRpcClient(Server(new RpcServerOptions()));
        // RFC 5531 8.2: opaque_auth body<400>. A 404-byte AUTH_SYS body (a long machine name).
        var buffer = new byte[1024];
        var w = new XdrWriter(buffer);
        w.WriteUInt32(0xbc);
        w.WriteUInt32(0);
        w.WriteUInt32(2);
        w.WriteUInt32(0x20000009);
        w.WriteUInt32(1);
        w.WriteUInt32(0);
        w.WriteUInt32((uint)AuthFlavor.Sys);
        w.WriteUInt32(404);
        w.WriteUInt32(0);
        w.WriteOpaque(new byte[384]);
        w.WriteUInt32(0);
        w.WriteUInt32(0);
        w.WriteUInt32(0);
        w.WriteUInt32(0);
        w.WriteUInt32(0);
        var record = buffer.AsSpan(0, w.Position).ToArray();
        await c.SendRecordAsync(record);
        var reply = RpcTcpClient.Parse(await c.ReceiveAsync(0xbc), out _);
        Assert.That((reply.Stat, reply.RejectStat, reply.AuthStat), Is.EqualTo((ReplyStat.Denied, RejectStat.AuthError, AuthStat.BadCred)));

        // A verifier body over 400 bytes is AUTH_BADVERF.
        buffer = new byte[1024];
        var v = new XdrWriter(buffer);
        v.WriteUInt32(0xbd);
        v.WriteUInt32(0);
        v.WriteUInt32(2);
        v.WriteUInt32(0x20000009);
        v.WriteUInt32(1);
        v.WriteUInt32(0);
        v.WriteUInt32(0);
        v.WriteUInt32(0);
        v.WriteUInt32(0);
        v.WriteOpaque(new byte[500]);
        await c.SendRecordAsync(buffer.AsSpan(0, v.Position).ToArray());
        reply = RpcTcpClient.Parse(await c.ReceiveAsync(0xbd), out _);
        Assert.That((reply.Stat, reply.RejectStat, reply.AuthStat), Is.EqualTo((ReplyStat.Denied, RejectStat.AuthError, AuthStat.BadVerf)));

        // The connection lives on.
        Assert.That((await c.CallAsync(0x20000009, 1, 0, default)).AcceptStat, Is.EqualTo(AcceptStat.Success));
    }

    [Test]
    public async Task Reply_status_cases_of_rfc_5531()
    {
        await using var c = new PipeRpcClient(Server(new RpcServerOptions()));
        // rpcvers 3: MSG_DENIED / RPC_MISMATCH with low = high = 2.
        await c.SendRecordAsync(Convert.FromHexString("00000070" + "00000000" + "00000003" + "20000009" + "00000001" + "00000000" + "0000000000000000" + "0000000000000000"));
        Assert.That(Convert.ToHexString(await c.ReceiveAsync(0x70)), Is.EqualTo("00000070" + "00000001" + "00000001" + "00000000" + "00000002" + "00000002"));
        // No such program: PROG_UNAVAIL.
        Assert.That((await c.CallAsync(0x2000000a, 1, 0, default)).AcceptStat, Is.EqualTo(AcceptStat.ProgUnavail));
        // Version out of range on either side: PROG_MISMATCH with the supported low and high.
        foreach (uint version in new uint[] { 0, 4 })
        {
            var mismatch = await c.CallAsync(0x20000009, version, 0, default);
            Assert.That(mismatch.AcceptStat, Is.EqualTo(AcceptStat.ProgMismatch));
            Assert.That(Convert.ToHexString(mismatch.Results), Is.EqualTo("00000001" + "00000003"));
        }
        // No such procedure: PROC_UNAVAIL.
        Assert.That((await c.CallAsync(0x20000009, 2, 42, default)).AcceptStat, Is.EqualTo(AcceptStat.ProcUnavail));
        // Arguments too short for the procedure: GARBAGE_ARGS from the header parse (truncated before the verifier).
        await c.SendRecordAsync(Convert.FromHexString("00000071" + "00000000" + "00000002" + "20000009" + "00000001" + "00000000" + "00000000"));
        Assert.That(RpcTcpClient.Parse(await c.ReceiveAsync(0x71), out _).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        // A reply message sent to the server is dropped without an answer; the next call still works.
        await c.SendRecordAsync(Convert.FromHexString("00000072" + "00000001" + "00000000"));
        Assert.That((await c.CallAsync(0x20000009, 1, 0, default)).AcceptStat, Is.EqualTo(AcceptStat.Success));
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>A write-only stream that checks each write holds whole records (by their record marks).</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly object _lock = new();

        public int Writes;

        public int SplitWrites;

        public int RecordsSeen;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (_lock)
            {
                Writes++;
                int at = 0;
                while (at < buffer.Length)
                {
                    if (buffer.Length - at < 4)
                    {
                        SplitWrites++;
                        return;
                    }
                    int length = (int)(BinaryPrimitives.ReadUInt32BigEndian(buffer[at..]) & ~RecordMarking.LastFragment);
                    if (buffer.Length - at - 4 < length)
                    {
                        SplitWrites++;
                        return;
                    }
                    at += 4 + length;
                    RecordsSeen++;
                }
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
