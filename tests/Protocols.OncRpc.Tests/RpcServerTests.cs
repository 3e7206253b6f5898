using System.Buffers.Binary;
using StorageAppliance.Protocols.OncRpc.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc.Tests;

/// <summary>The RPC layer over in-memory pipes: accept and reject replies, framing, concurrency.</summary>
public class RpcServerTests
{
    /// <summary>Program 0x20000001 v1-2: proc 1 echoes an opaque, proc 2 waits the given ms then echoes its xid-ish argument, proc 3 throws.</summary>
    private sealed class TestProgram : IRpcProgram
    {
        public uint Program => 0x20000001;

        public uint LowVersion => 1;

        public uint HighVersion => 2;

        public string Name => "test";

        public uint LastUid;

        public async ValueTask<RpcOutcome> HandleAsync(RpcCall call)
        {
            LastUid = call.Credential.Uid;
            switch (call.Procedure)
            {
                case 0:
                    call.EndResults(0);
                    return RpcOutcome.Success;
                case 1:
                    {
                        var r = new XdrReader(call.Arguments);
                        if (!r.TryReadOpaque(1 << 20, out var data))
                            return RpcOutcome.GarbageArgs;
                        var w = call.BeginResults(data.Length + 8);
                        w.WriteOpaque(data);
                        call.EndResults(w);
                        return RpcOutcome.Success;
                    }
                case 2:
                    {
                        uint ms = BinaryPrimitives.ReadUInt32BigEndian(call.Arguments);
                        await Task.Delay((int)ms);
                        var w = call.BeginResults(4);
                        w.WriteUInt32(ms);
                        call.EndResults(w);
                        return RpcOutcome.Success;
                    }
                case 3:
                    throw new InvalidOperationException("bug");
                case 4:
                    return call.Credential.IsAuthSys ? RpcOutcome.Success : RpcOutcome.AuthTooWeak;
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

    [Test]
    public async Task Null_call_gets_the_exact_accepted_reply()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        // A NULL call as libnfs sends it (AUTH_NONE), record mark included.
        var call = Convert.FromHexString("80000028" + "12345678" + "00000000" + "00000002" + "20000001" + "00000001" + "00000000" + "00000000" + "00000000" + "00000000" + "00000000");
        await c.SendRawAsync(call);
        var reply = await c.ReceiveAsync(0x12345678);
        Assert.That(Convert.ToHexString(reply), Is.EqualTo("12345678" + "00000001" + "00000000" + "00000000" + "00000000" + "00000000"));
    }

    [Test]
    public async Task Unknown_program_version_and_procedure_get_their_accept_stats()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        Assert.That((await c.CallAsync(0x20000002, 1, 0, default)).AcceptStat, Is.EqualTo(AcceptStat.ProgUnavail));
        var mismatch = await c.CallAsync(0x20000001, 7, 0, default);
        Assert.That(mismatch.AcceptStat, Is.EqualTo(AcceptStat.ProgMismatch));
        Assert.That(Convert.ToHexString(mismatch.Results), Is.EqualTo("0000000100000002"), "low and high version");
        Assert.That((await c.CallAsync(0x20000001, 1, 99, default)).AcceptStat, Is.EqualTo(AcceptStat.ProcUnavail));
    }

    [Test]
    public async Task Malformed_arguments_are_garbage_args_and_the_connection_lives_on()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        var bad = await c.CallAsync(0x20000001, 1, 1, Convert.FromHexString("000000ff0102"));
        Assert.That(bad.AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        var good = await c.CallAsync(0x20000001, 1, 1, Convert.FromHexString("000000020102" + "0000"));
        Assert.That(good.AcceptStat, Is.EqualTo(AcceptStat.Success));
        Assert.That(Convert.ToHexString(good.Results), Is.EqualTo("0000000201020000"));
    }

    [Test]
    public async Task A_truncated_call_header_with_an_xid_is_answered_with_garbage_args()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        await c.SendRecordAsync(Convert.FromHexString("0000abcd" + "00000000" + "00000002"));
        var reply = RpcTcpClient.Parse(await c.ReceiveAsync(0xabcd), out _);
        Assert.That(reply.AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
    }

    [Test]
    public async Task Rpc_version_other_than_2_is_rpc_mismatch()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        await c.SendRecordAsync(Convert.FromHexString("00000077" + "00000000" + "00000003" + "20000001" + "00000001" + "00000000" + "0000000000000000" + "0000000000000000"));
        var raw = await c.ReceiveAsync(0x77);
        Assert.That(Convert.ToHexString(raw), Is.EqualTo("00000077" + "00000001" + "00000001" + "00000000" + "00000002" + "00000002"));
    }

    [Test]
    public async Task Unsupported_flavor_is_auth_too_weak_and_bad_auth_sys_is_bad_cred()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        c.Flavor = AuthFlavor.RpcsecGss;
        var weak = await c.CallAsync(0x20000001, 1, 0, default);
        Assert.That((weak.Stat, weak.RejectStat, weak.AuthStat), Is.EqualTo((ReplyStat.Denied, RejectStat.AuthError, AuthStat.TooWeak)));

        // AUTH_SYS whose body claims 17 gids.
        await c.SendRecordAsync(Convert.FromHexString("00000099" + "00000000" + "00000002" + "20000001" + "00000001" + "00000000"
            + "00000001" + "00000014" + "00000000" + "00000000" + "00000000" + "00000000" + "00000011" + "0000000000000000"));
        var bad = RpcTcpClient.Parse(await c.ReceiveAsync(0x99), out _);
        Assert.That((bad.Stat, bad.AuthStat), Is.EqualTo((ReplyStat.Denied, AuthStat.BadCred)));
    }

    [Test]
    public async Task A_program_may_refuse_auth_none()
    {
        var program = new TestProgram();
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(program));
        c.Flavor = AuthFlavor.None;
        var r = await c.CallAsync(0x20000001, 1, 4, default);
        Assert.That((r.Stat, r.AuthStat), Is.EqualTo((ReplyStat.Denied, AuthStat.TooWeak)));
        c.Flavor = AuthFlavor.Sys;
        c.Uid = 1234;
        Assert.That((await c.CallAsync(0x20000001, 1, 4, default)).AcceptStat, Is.EqualTo(AcceptStat.Success));
        Assert.That(program.LastUid, Is.EqualTo(1234u));
    }

    [Test]
    public async Task A_handler_that_throws_costs_only_its_call()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        Assert.That((await c.CallAsync(0x20000001, 1, 3, default)).AcceptStat, Is.EqualTo(AcceptStat.SystemErr));
        Assert.That((await c.CallAsync(0x20000001, 1, 0, default)).AcceptStat, Is.EqualTo(AcceptStat.Success));
    }

    [Test]
    public async Task Calls_run_concurrently_and_replies_go_out_in_completion_order()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        // xid 1 waits 400 ms, xid 2 waits 10 ms: xid 2's reply must come first.
        await c.SendRecordAsync(c.BuildCall(1, 0x20000001, 1, 2, U32(400)));
        await c.SendRecordAsync(c.BuildCall(2, 0x20000001, 1, 2, U32(10)));
        using var cts = new CancellationTokenSource(5000);
        var first = await c.ReceiveAnyAsync(cts.Token);
        var second = await c.ReceiveAnyAsync(cts.Token);
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(first!), Is.EqualTo(2u));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(second!), Is.EqualTo(1u));
    }

    [Test]
    public async Task Many_outstanding_calls_all_get_answers()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        for (uint i = 1; i <= 300; i++)
            await c.SendRecordAsync(c.BuildCall(i, 0x20000001, 1, 2, U32(i % 7)));
        var seen = new HashSet<uint>();
        using var cts = new CancellationTokenSource(20000);
        while (seen.Count < 300)
        {
            var rec = await c.ReceiveAnyAsync(cts.Token);
            Assert.That(rec, Is.Not.Null);
            Assert.That(seen.Add(BinaryPrimitives.ReadUInt32BigEndian(rec!)), Is.True);
        }
    }

    [Test]
    public async Task A_call_split_into_many_fragments_is_reassembled()
    {
        await using var c = new PipeRpcClient(PipeRpcClient.NewServer(new TestProgram()));
        var payload = new byte[10000];
        Random.Shared.NextBytes(payload);
        var args = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(args, (uint)payload.Length);
        payload.CopyTo(args, 4);
        await c.SendRecordAsync(c.BuildCall(5, 0x20000001, 1, 1, args), fragmentSize: 333);
        var reply = RpcTcpClient.Parse(await c.ReceiveAsync(5), out _);
        Assert.That(reply.Results.AsSpan(4).ToArray(), Is.EqualTo(payload));
    }

    [Test]
    public async Task An_oversized_record_closes_the_connection()
    {
        var server = new RpcServer(new RpcServerOptions { MaxRecordSize = 1024 }, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        server.Register(new TestProgram());
        await using var c = new PipeRpcClient(server);
        await c.SendRawAsync(Convert.FromHexString("80100000"));
        using var cts = new CancellationTokenSource(5000);
        Assert.That(await c.ReceiveAnyAsync(cts.Token), Is.Null);
        await c.ServerTask.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
