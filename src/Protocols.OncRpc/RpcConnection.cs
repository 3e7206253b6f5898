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
/// <remarks>
/// What a connection may hold is bounded: calls in progress (<see cref="RpcServerOptions.MaxOutstandingCalls"/>),
/// the bytes of large record buffers (its own limit and the server's <see cref="ReceiveBudget"/>), the
/// fragments of one record, and time: the server's sweeper closes a connection that is idle, whose
/// record does not complete, or whose client stops taking replies (<see cref="CheckTimeouts"/>).
/// The count of calls in progress changes only under <c>_outLock</c>, so it is exact.
/// </remarks>
public sealed class RpcConnection : IRecordBudget
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
    private readonly RecordAssembler _assembler;
    private int _peakOutstanding;
    private long _buffered;
    private string? _abortReason;
    private volatile bool _awaitingBudget;

    // Environment.TickCount64 stamps read by the sweeper; 0 means "not now".
    private long _lastActivity;
    private long _recordStartedAt;
    private long _sendStartedAt;

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
        _assembler = new RecordAssembler(server.Options.MaxRecordSize, server.Options.MaxFragmentsPerRecord, this);
        _lastActivity = Environment.TickCount64;
    }

    /// <summary>What the sweeper found wrong with a connection.</summary>
    internal enum Timeout : byte
    {
        None,
        Idle,
        Record,
        Send,
    }

    public long Id { get; }

    public EndPoint? LocalEndPoint { get; }

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>The client's address as text (for the I/O context and logs).</summary>
    public string Peer => _peer;

    public Task Completion => _done.Task;

    /// <summary>Calls in progress now (tests).</summary>
    internal int Outstanding
    {
        get
        {
            lock (_outLock)
                return _outstanding;
        }
    }

    /// <summary>The most calls that were ever in progress at once (tests).</summary>
    internal int PeakOutstanding
    {
        get
        {
            lock (_outLock)
                return _peakOutstanding;
        }
    }

    /// <summary>Bytes of large record buffers this connection holds now.</summary>
    internal long BufferedBytes => Interlocked.Read(ref _buffered);

    internal void Abort(string reason = "closed by the server")
    {
        Interlocked.CompareExchange(ref _abortReason, reason, null);
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>The sweeper's test: which timeout, if any, this connection is past at <paramref name="now"/>.</summary>
    internal Timeout CheckTimeouts(long now, out long seconds)
    {
        var options = _server.Options;
        long recordMs = (long)options.RecordTimeout.TotalMilliseconds;
        long started = Volatile.Read(ref _recordStartedAt);
        if (started != 0 && now - started > recordMs)
        {
            seconds = (now - started) / 1000;
            return Timeout.Record;
        }
        long sending = Volatile.Read(ref _sendStartedAt);
        if (sending != 0 && now - sending > recordMs)
        {
            seconds = (now - sending) / 1000;
            return Timeout.Send;
        }
        long idleMs = (long)options.IdleTimeout.TotalMilliseconds;
        long last = Volatile.Read(ref _lastActivity);
        if (idleMs > 0 && started == 0 && sending == 0 && !_awaitingBudget && now - last > idleMs)
        {
            lock (_outLock)
            {
                // A call in progress (a slow COMMIT, a WRITE waiting for space) is not idleness.
                if (_outstanding == 0)
                {
                    seconds = (now - last) / 1000;
                    return Timeout.Idle;
                }
            }
        }
        seconds = 0;
        return Timeout.None;
    }

    bool IRecordBudget.TryReserve(int bytes)
    {
        // Per connection first: one client's calls in progress plus its partial record.
        if (Interlocked.Add(ref _buffered, bytes) > _server.Options.MaxBufferedBytesPerConnection)
        {
            Interlocked.Add(ref _buffered, -bytes);
            return false;
        }
        if (!_server.Budget.TryReserve(bytes))
        {
            Interlocked.Add(ref _buffered, -bytes);
            return false;
        }
        return true;
    }

    void IRecordBudget.Release(int bytes)
    {
        Interlocked.Add(ref _buffered, -bytes);
        _server.Budget.Release(bytes);
    }

    internal async Task RunAsync()
    {
        OncRpcLog.ConnectionOpened(_log, Id, _peer);
        var input = _transport.Input;
        string reason = "the client closed the connection";
        int maxOutstanding = _server.Options.MaxOutstandingCalls;
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                if (Volatile.Read(ref _outstanding) >= maxOutstanding)
                {
                    await WaitForSlotAsync().ConfigureAwait(false);
                    continue;
                }
                ReadResult result = await input.ReadAsync(_closing.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                lock (_outLock)
                    _batching = true;
                var progress = RecordProgress.NeedMore;
                bool throttled = false;
                try
                {
                    while (!buffer.IsEmpty)
                    {
                        if (Volatile.Read(ref _outstanding) >= maxOutstanding)
                        {
                            throttled = true;
                            break;
                        }
                        progress = _assembler.TryRead(ref buffer, out byte[] record, out int length, out int charge);
                        if (progress != RecordProgress.Complete)
                            break;
                        long now = Environment.TickCount64;
                        Volatile.Write(ref _recordStartedAt, 0);
                        Volatile.Write(ref _lastActivity, now);
                        Dispatch(record, length, charge);
                    }
                    if (_assembler.InRecord && Volatile.Read(ref _recordStartedAt) == 0)
                        Volatile.Write(ref _recordStartedAt, Environment.TickCount64);
                }
                finally
                {
                    // The assembler keeps its place between reads, so what it took is consumed for good and
                    // nothing is scanned twice. Bytes left over (throttled, or waiting for budget) are not
                    // marked examined, so the next read returns them at once.
                    input.AdvanceTo(buffer.Start);
                }
                await EndBatchAsync().ConfigureAwait(false);
                if (progress == RecordProgress.NeedBudget)
                {
                    // A connection that holds budget and wants more keeps its record clock running: if every
                    // holder waited with its clock stopped, half-sent records could hold the budget for ever.
                    // One that holds none (at most a small buffer) is waiting for others through no fault of
                    // its own: its clock starts again when it gets room.
                    bool holdsBudget = _assembler.ChargedBytes > 0;
                    _awaitingBudget = true;
                    if (!holdsBudget)
                        Volatile.Write(ref _recordStartedAt, 0);
                    // A short poll as well: a release may have come between the refusal and the wait.
                    var released = _server.Budget.WaitForReleaseAsync();
                    await Task.WhenAny(released, Task.Delay(100, _closing.Token)).ConfigureAwait(false);
                    _awaitingBudget = false;
                    _closing.Token.ThrowIfCancellationRequested();
                    if (!holdsBudget)
                        Volatile.Write(ref _recordStartedAt, Environment.TickCount64);
                    continue;
                }
                if (result.IsCompleted && !throttled && buffer.IsEmpty)
                {
                    if (_assembler.InRecord)
                        reason = "the client closed the connection in the middle of a record";
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            reason = Volatile.Read(ref _abortReason) ?? "closed by the server";
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
        // Replies queued while the last read was batching go out first: broken framing after a call in the
        // same read (or a cancelled read) leaves the loop before its EndBatchAsync, and that call would
        // otherwise be neither answered nor released until the grace period below ran out.
        try
        {
            await EndBatchAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The transport is gone; the calls are released below when the connection closes.
        }
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
        // An unfinished record's buffer and budget go back now, not when the GC finds the connection.
        _assembler.Dispose();
        Volatile.Write(ref _recordStartedAt, 0);
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

    private void Dispatch(byte[] record, int length, int charge)
    {
        lock (_outLock)
        {
            _outstanding++;
            if (_outstanding > _peakOutstanding)
                _peakOutstanding = _outstanding;
        }
        var call = RentCall();
        call.SetRequest(record, length, charge);
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
        if (h.AuthProblem is { } authProblem)
        {
            call.WriteDenied(authProblem);
            Refused(call, authProblem == AuthStat.BadCred ? "AUTH_BADCRED (credential over 400 bytes)" : "AUTH_BADVERF (verifier over 400 bytes)");
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
        int charge = call.ReleaseRequest();
        if (charge > 0)
            ((IRecordBudget)this).Release(charge);
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
        Volatile.Write(ref _lastActivity, Environment.TickCount64);
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
                Volatile.Write(ref _sendStartedAt, Environment.TickCount64);
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
                        // Ask for the whole reply at once: a stream pipe writer then starts a new buffer when the
                        // reply does not fit in what is left of the current one, and each buffer goes out in one
                        // write, so a reply is never split across two sends (PipeWriter.Write would fill the
                        // tail of one buffer and continue in the next). Some clients (libnfs 4.0) mishandle a
                        // reply split across TCP segments; legal framing, but cheap to avoid.
                        var reply = call.Reply;
                        reply.CopyTo(output.GetSpan(reply.Length));
                        output.Advance(reply.Length);
                    }
                    lock (_outLock)
                        ReleaseLocked(call);
                }
                var flush = await output.FlushAsync().ConfigureAwait(false);
                Volatile.Write(ref _sendStartedAt, 0);
                if (flush.IsCompleted || flush.IsCanceled)
                    throw new IOException("the client stopped reading");
            }
        }
        catch (Exception e)
        {
            Volatile.Write(ref _sendStartedAt, 0);
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
