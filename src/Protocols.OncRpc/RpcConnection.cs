using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// One RPC connection. The receive loop frames records (RFC 5531 section 11), copies each into a pooled
/// buffer and dispatches it at once, so many calls (XIDs) are in progress together; replies go out in
/// completion order, which RPC over TCP allows. Replies produced while one read buffer is handled are
/// written and flushed together. Only broken framing or transport errors end the connection, and only
/// this one (STYLE.md 6).
/// </summary>
public sealed class RpcConnection
{
    private static long s_nextId;

    private readonly RpcServer _server;
    private readonly IDuplexPipe _transport;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stack<RpcCall> _pool = new();
    private readonly object _outLock = new();
    private Queue<RpcCall> _outQueue = new(64);
    private Queue<RpcCall> _outWork = new(64);
    private bool _draining;
    private bool _batching;
    private bool _closed;
    private int _outstanding;
    private TaskCompletionSource? _slotWaiter;
    private TaskCompletionSource? _idleWaiter;
    private readonly IPAddress? _clientAddress;
    private readonly string _peer;

    /// <summary>Replies at least this large go straight to the stream when the transport allows it.</summary>
    private const int DirectSendThreshold = 128 * 1024;

    private readonly Func<ReadOnlyMemory<byte>, ValueTask>? _directSend;

    internal RpcConnection(RpcServer server, IDuplexPipe transport, EndPoint? local, EndPoint? remote, Func<ReadOnlyMemory<byte>, ValueTask>? directSend = null)
    {
        _directSend = directSend;
        _server = server;
        _transport = transport;
        LocalEndPoint = local;
        RemoteEndPoint = remote;
        Id = Interlocked.Increment(ref s_nextId);
        _log = server.LoggerFactory.CreateLogger("StorageAppliance.OncRpc.Connection");
        if (remote is IPEndPoint ip)
            _clientAddress = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        _peer = remote?.ToString() ?? "in-memory";
    }

    public long Id { get; }

    public EndPoint? LocalEndPoint { get; }

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>The client's address as text (for the I/O context and logs).</summary>
    public string Peer => _peer;

    public Task Completion => _done.Task;

    internal void Abort() => _closing.Cancel();

    internal async Task RunAsync()
    {
        OncRpcLog.ConnectionOpened(_log, Id, _peer);
        var input = _transport.Input;
        string reason = "the client closed the connection";
        int maxRecord = _server.Options.MaxRecordSize;
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                if (Volatile.Read(ref _outstanding) >= _server.Options.MaxOutstandingCalls)
                {
                    await WaitForSlotAsync().ConfigureAwait(false);
                    continue;
                }
                ReadResult result = await input.ReadAsync(_closing.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                lock (_outLock)
                    _batching = true;
                bool throttled = false;
                try
                {
                    while (true)
                    {
                        if (Volatile.Read(ref _outstanding) >= _server.Options.MaxOutstandingCalls)
                        {
                            throttled = true;
                            break;
                        }
                        if (!RecordMarking.TryRead(ref buffer, maxRecord, ArrayPool<byte>.Shared, out byte[] record, out int length))
                            break;
                        Dispatch(record, length);
                    }
                }
                finally
                {
                    // Throttled: records may remain in the buffer, so do not mark it examined (the next read returns at once).
                    input.AdvanceTo(buffer.Start, throttled ? buffer.Start : buffer.End);
                }
                await EndBatchAsync().ConfigureAwait(false);
                if (result.IsCompleted && !throttled)
                {
                    if (buffer.Length > 0)
                        reason = "the client closed the connection in the middle of a record";
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            reason = "closed by the server";
        }
        catch (InvalidDataException e)
        {
            OncRpcLog.BrokenFraming(_log, Id, _peer, e.Message);
            reason = "broken framing: " + e.Message;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
        {
            reason = "transport error: " + e.Message;
        }
        finally
        {
            await CloseAsync(reason).ConfigureAwait(false);
        }
    }

    private async Task CloseAsync(string reason)
    {
        // Let calls in progress finish and their replies go out, within bounds.
        Task idle;
        lock (_outLock)
        {
            _batching = false;
            if (_outstanding == 0)
                idle = Task.CompletedTask;
            else
            {
                _idleWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                idle = _idleWaiter.Task;
            }
        }
        await Task.WhenAny(idle, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        lock (_outLock)
            _closed = true;
        try
        {
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        _server.Ended(this);
        OncRpcLog.ConnectionClosed(_log, Id, _peer, reason);
        _done.TrySetResult();
    }

    private Task WaitForSlotAsync()
    {
        lock (_outLock)
        {
            if (_outstanding < _server.Options.MaxOutstandingCalls)
                return Task.CompletedTask;
            _slotWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _slotWaiter.Task;
        }
    }

    private RpcCall RentCall()
    {
        lock (_pool)
            return _pool.Count > 0 ? _pool.Pop() : new RpcCall();
    }

    private void ReturnCall(RpcCall call)
    {
        call.Reset();
        lock (_pool)
            _pool.Push(call);
    }

    private void Dispatch(byte[] record, int length)
    {
        Interlocked.Increment(ref _outstanding);
        var call = RentCall();
        call.SetRequest(record, length);
        call.Connection = this;
        call.ClientAddress = _clientAddress;

        if (!RpcCallHeader.TryRead(call.Record, out var h, out uint? xid))
        {
            if (xid is null)
            {
                Finish(call, sendReply: false);
                return;
            }
            // The header itself is garbage: the best answer the client can use is GARBAGE_ARGS for its xid.
            call.Xid = xid.Value;
            call.BuildAccepted(AcceptStat.GarbageArgs);
            Refused(call, "GARBAGE_ARGS (header)");
            Finish(call, sendReply: true);
            return;
        }
        if (h.Type != MessageType.Call)
        {
            Finish(call, sendReply: false);
            return;
        }
        call.Xid = h.Xid;
        call.Program = h.Program;
        call.Version = h.Version;
        call.Procedure = h.Procedure;
        call.ArgumentsOffset = h.ArgumentsOffset;

        // RFC 5531 section 9: "rpcvers ... MUST be equal to 2".
        if (h.RpcVersion != 2)
        {
            call.WriteRpcMismatch();
            Refused(call, "RPC_MISMATCH");
            Finish(call, sendReply: true);
            return;
        }
        switch (h.CredentialFlavor)
        {
            case AuthFlavor.None:
                call.Credential.SetNone();
                break;
            case AuthFlavor.Sys:
                if (!call.Credential.TryParseSys(call.Record.Slice(h.CredentialOffset, h.CredentialLength)))
                {
                    call.WriteDenied(AuthStat.BadCred);
                    Refused(call, "AUTH_BADCRED");
                    Finish(call, sendReply: true);
                    return;
                }
                break;
            default:
                call.WriteDenied(AuthStat.TooWeak);
                Refused(call, "AUTH_TOOWEAK");
                Finish(call, sendReply: true);
                return;
        }
        if (!_server.TryFind(h.Program, out var program))
        {
            call.BuildAccepted(AcceptStat.ProgUnavail);
            Refused(call, "PROG_UNAVAIL");
            Finish(call, sendReply: true);
            return;
        }
        if (h.Version < program.LowVersion || h.Version > program.HighVersion)
        {
            call.BuildProgMismatch(program.LowVersion, program.HighVersion);
            Refused(call, "PROG_MISMATCH");
            Finish(call, sendReply: true);
            return;
        }

        if (program.RunOffLoop(call))
        {
            call.Handler = program;
            ThreadPool.UnsafeQueueUserWorkItem(call, preferLocal: false);
            return;
        }
        Invoke(call, program);
    }

    /// <summary>Runs a call's handler and completes it (inline, or on the thread pool for off-loop calls).</summary>
    internal void Invoke(RpcCall call, IRpcProgram program)
    {
        ValueTask<RpcOutcome> pending;
        try
        {
            pending = program.HandleAsync(call);
        }
        catch (Exception e)
        {
            OncRpcLog.HandlerFault(_log, Id, _peer, program.Name, call.Procedure, e);
            call.BuildReply(RpcOutcome.SystemErr);
            Finish(call, sendReply: true);
            return;
        }
        if (pending.IsCompletedSuccessfully)
            Complete(call, pending.Result);
        else
            _ = AwaitCallAsync(pending, call, program);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitCallAsync(ValueTask<RpcOutcome> pending, RpcCall call, IRpcProgram program)
    {
        RpcOutcome outcome;
        try
        {
            outcome = await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            OncRpcLog.HandlerFault(_log, Id, _peer, program.Name, call.Procedure, e);
            outcome = RpcOutcome.SystemErr;
        }
        Complete(call, outcome);
    }

    private void Complete(RpcCall call, RpcOutcome outcome)
    {
        call.BuildReply(outcome);
        if (outcome != RpcOutcome.Success && outcome != RpcOutcome.NoReply)
            Refused(call, outcome.ToString());
        Finish(call, sendReply: outcome != RpcOutcome.NoReply);
    }

    private void Refused(RpcCall call, string what)
    {
        if (_log.IsEnabled(LogLevel.Debug))
            OncRpcLog.CallRefused(_log, Id, _peer, call.Xid, call.Program, call.Version, call.Procedure, what);
    }

    /// <summary>Queues the reply (or drops the call) and frees the request bytes.</summary>
    private void Finish(RpcCall call, bool sendReply)
    {
        call.ReleaseRequest();
        bool start = false;
        lock (_outLock)
        {
            if (!sendReply || _closed)
            {
                ReleaseLocked(call);
                return;
            }
            _outQueue.Enqueue(call);
            if (!_draining && !_batching)
            {
                _draining = true;
                start = true;
            }
        }
        if (start)
            _ = DrainAsync();
    }

    /// <summary>Returns a call to the pool and wakes a receive loop waiting for a slot. Holds _outLock.</summary>
    private void ReleaseLocked(RpcCall call)
    {
        ReturnCall(call);
        _outstanding--;
        var s = _slotWaiter;
        if (s is not null && _outstanding < _server.Options.MaxOutstandingCalls)
        {
            _slotWaiter = null;
            s.TrySetResult();
        }
        if (_outstanding == 0 && _idleWaiter is not null)
        {
            _idleWaiter.TrySetResult();
            _idleWaiter = null;
        }
    }

    private ValueTask EndBatchAsync()
    {
        lock (_outLock)
        {
            _batching = false;
            if (_draining || _outQueue.Count == 0)
                return default;
            _draining = true;
        }
        return DrainAsync();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DrainAsync()
    {
        var output = _transport.Output;
        try
        {
            while (true)
            {
                Queue<RpcCall> work;
                lock (_outLock)
                {
                    if (_outQueue.Count == 0)
                    {
                        _draining = false;
                        return;
                    }
                    work = _outQueue;
                    _outQueue = _outWork;
                    _outWork = work;
                }
                while (work.TryDequeue(out var call))
                {
                    if (_directSend is not null && call.ReplyLength >= DirectSendThreshold)
                    {
                        // Keep the order: what is buffered goes first, then the large reply without a copy.
                        var pending = await output.FlushAsync().ConfigureAwait(false);
                        if (pending.IsCompleted || pending.IsCanceled)
                            throw new IOException("the client stopped reading");
                        await _directSend(call.ReplyMemory).ConfigureAwait(false);
                    }
                    else
                    {
                        output.Write(call.Reply);
                    }
                    lock (_outLock)
                        ReleaseLocked(call);
                }
                var flush = await output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                    throw new IOException("the client stopped reading");
            }
        }
        catch (Exception e)
        {
            lock (_outLock)
            {
                _draining = false;
                _closed = true;
                while (_outWork.TryDequeue(out var dropped))
                    ReleaseLocked(dropped);
                while (_outQueue.TryDequeue(out var dropped))
                    ReleaseLocked(dropped);
            }
            OncRpcLog.ConnectionClosed(_log, Id, _peer, "send failed: " + e.Message);
            _closing.Cancel();
        }
    }
}
