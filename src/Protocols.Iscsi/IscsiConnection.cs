using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

internal enum ConnectionPhase : byte
{
    Login,
    FullFeature,
    LoggingOut,
    Closed,
}

/// <summary>
/// One iSCSI connection: reads PDUs off a duplex pipe, runs the login phase, then full feature phase
/// for its session. The receive loop handles each PDU synchronously (copying payloads it keeps) and
/// all output goes through one ordered queue (IscsiConnection.Output.cs), so StatSN follows send order.
/// Protocol errors become Reject PDUs or SCSI sense; only a broken stream ends the connection, which
/// affects nothing else (STYLE.md 6).
/// </summary>
/// <remarks>Split by phase: Login, Commands (SCSI command, Data-Out, R2T), TaskManagement, Misc (Text, Logout, NOP).</remarks>
public sealed partial class IscsiConnection
{
    private static long s_nextId;

    private readonly IscsiServer _server;
    private readonly IDuplexPipe _transport;
    private readonly ILogger _log;
    private readonly FramingOptions _framing = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly object _taskLock = new();
    private readonly Dictionary<uint, IscsiTask> _tasks = new();
    private readonly Stack<IscsiTask> _taskPool = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ConnectionPhase _phase = ConnectionPhase.Login;
    private IscsiSession? _session;
    private ushort _cid;
    private long _skipBytes;
    private long _lastReceiveTicks = Environment.TickCount64;
    private uint _nextTtt = (uint)Random.Shared.Next();
    private string? _closeReason;

    public IscsiConnection(IscsiServer server, IDuplexPipe transport, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
    {
        _server = server;
        _transport = transport;
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;
        Id = Interlocked.Increment(ref s_nextId);
        _log = server.LoggerFactory.CreateLogger("StorageAppliance.Iscsi.Connection");
        _framing.MaxRecvDataSegmentLength = LoginMaxDataSegment;
    }

    /// <summary>During login the data segment limit is 8192 (RFC 7143 13.12: the default before negotiation).</summary>
    internal const int LoginMaxDataSegment = 8192;

    public long Id { get; }

    public EndPoint? LocalEndPoint { get; }

    public EndPoint? RemoteEndPoint { get; }

    internal IscsiSession? Session => _session;

    internal ushort Cid => _cid;

    internal ConnectionPhase Phase => _phase;

    /// <summary>Completes when the connection has closed and cleaned up.</summary>
    public Task Completion => _done.Task;

    private string Peer => RemoteEndPoint?.ToString() ?? "in-memory";

    /// <summary>Runs the connection until the peer closes it, it logs out, or it is aborted.</summary>
    public async Task RunAsync()
    {
        var loginTimer = StartLoginTimer();
        Task? pinger = null;
        var input = _transport.Input;
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                ReadResult result = await input.ReadAsync(_closing.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                SequencePosition examined = buffer.End;
                bool keepGoing = true;

                BeginBatch();
                try
                {
                    if (_skipBytes > 0)
                    {
                        long n = Math.Min(_skipBytes, buffer.Length);
                        buffer = buffer.Slice(n);
                        _skipBytes -= n;
                    }
                    while (keepGoing && _skipBytes == 0)
                    {
                        FrameResult fr = PduReader.TryRead(ref buffer, _framing, out PduFrame frame, out long needed);
                        if (fr == FrameResult.Incomplete)
                            break;
                        Volatile.Write(ref _lastReceiveTicks, Environment.TickCount64);
                        keepGoing = OnFrame(fr, in frame, ref buffer);
                    }
                }
                finally
                {
                    input.AdvanceTo(buffer.Start, examined);
                }

                var phaseBefore = _phase;
                await EndBatchAsync().ConfigureAwait(false);
                if (phaseBefore == ConnectionPhase.FullFeature && pinger is null && _server.Options.NopInInterval > TimeSpan.Zero)
                    pinger = PingLoopAsync();

                if (!keepGoing)
                    break;
                if (result.IsCompleted)
                {
                    if (_phase != ConnectionPhase.Closed)
                        _closeReason ??= buffer.Length > 0 ? "the initiator closed the connection in the middle of a PDU" : "the initiator closed the connection";
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
        {
            _closeReason ??= "transport error: " + e.Message;
        }
        catch (Exception e)
        {
            // A bug in a handler must cost this connection only.
            IscsiLog.ConnectionFault(_log, Id, Peer, e);
            _closeReason ??= "internal error: " + e.Message;
        }
        finally
        {
            loginTimer?.Dispose();
            await CloseAsync().ConfigureAwait(false);
            if (pinger is not null)
                await pinger.ConfigureAwait(false);
        }
    }

    /// <summary>Handles one framed PDU (or framing error); false ends the connection.</summary>
    private bool OnFrame(FrameResult result, in PduFrame frame, ref ReadOnlySequence<byte> buffer)
    {
        switch (result)
        {
            case FrameResult.HeaderDigestError:
                // RFC 7143 7.8: the header cannot be trusted, so neither can the PDU boundary: close.
                return Fail("header digest error");
            case FrameResult.DataSegmentTooLong:
                {
                    IscsiLog.DataSegmentTooLong(_log, Id, Peer, frame.Header.Opcode, frame.Header.DataSegmentLength, _framing.MaxRecvDataSegmentLength);
                    if (_phase == ConnectionPhase.Login)
                        return Fail($"login PDU data segment of {frame.Header.DataSegmentLength} bytes exceeds {LoginMaxDataSegment}");
                    // Reject it and skip its bytes, so the rest of the stream stays framed.
                    EnqueueReject(RejectReason.ProtocolError, in frame);
                    OnDataSegmentRejected(in frame);
                    long skip = frame.WireLength;
                    long now = Math.Min(skip, buffer.Length);
                    buffer = buffer.Slice(now);
                    _skipBytes = skip - now;
                    return true;
                }
            case FrameResult.DataDigestError:
                IscsiLog.DataDigestError(_log, Id, Peer, frame.Header.Opcode, frame.Header.InitiatorTaskTag);
                if (_phase == ConnectionPhase.Login)
                    return Fail("data digest error during login");
                // RFC 7143 7.8: "answer with a Reject ... Data-Digest-Error and discard the PDU".
                EnqueueReject(RejectReason.DataDigestError, in frame);
                OnDataSegmentRejected(in frame);
                return true;
        }

        var opcode = frame.Header.Opcode;
        if (_phase == ConnectionPhase.Login)
        {
            if (opcode != IscsiOpcode.LoginRequest)
                return Fail($"{opcode} PDU during login");
            return OnLoginRequest(in frame);
        }

        if (_phase != ConnectionPhase.FullFeature)
        {
            // After a logout request only the logout's own completion is expected (RFC 7143 11.17.1 reason 0x0c).
            EnqueueReject(RejectReason.WaitingForLogout, in frame);
            return true;
        }

        switch (opcode)
        {
            case IscsiOpcode.ScsiCommand:
                OnScsiCommand(in frame);
                return true;
            case IscsiOpcode.DataOut:
                OnDataOut(in frame);
                return true;
            case IscsiOpcode.NopOut:
                OnNopOut(in frame);
                return true;
            case IscsiOpcode.TaskManagementRequest:
                OnTaskManagement(in frame);
                return true;
            case IscsiOpcode.TextRequest:
                OnTextRequest(in frame);
                return true;
            case IscsiOpcode.LogoutRequest:
                OnLogoutRequest(in frame);
                return true;
            case IscsiOpcode.LoginRequest:
                // RFC 7143 6.3: a login request in full feature phase is a protocol error.
                EnqueueReject(RejectReason.ProtocolError, in frame);
                return true;
            case IscsiOpcode.Snack:
                // SNACK needs ErrorRecoveryLevel > 0; this target negotiates 0 (RFC 7143 11.16).
                EnqueueReject(RejectReason.ProtocolError, in frame);
                return true;
            default:
                EnqueueReject(RejectReason.CommandNotSupported, in frame);
                return true;
        }
    }

    /// <summary>A data segment was thrown away (digest error or too long): a command or Data-Out it belonged to fails.</summary>
    private void OnDataSegmentRejected(in PduFrame frame)
    {
        var h = frame.Header;
        if (h.Opcode == IscsiOpcode.DataOut)
            OnDataOutDiscarded(in frame);
        else if (h.Opcode == IscsiOpcode.ScsiCommand)
            OnScsiCommand(in frame, dataDiscarded: true);
        else if (!h.Immediate && h.Opcode is IscsiOpcode.NopOut or IscsiOpcode.TextRequest && _session is not null)
        {
            // The request is gone but its CmdSN was sent: keep the window moving.
            uint cmdSN = h.UInt32(24);
            if (_session.Check(cmdSN) is CmdSNCheck.Expected or CmdSNCheck.AheadInWindow)
            {
                _session.Accept(cmdSN);
                _session.Retire();
            }
        }
    }

    /// <summary>Logs why, and ends the connection after whatever is queued has been sent.</summary>
    private bool Fail(string reason)
    {
        _closeReason ??= reason;
        IscsiLog.ProtocolViolation(_log, Id, Peer, reason);
        return false;
    }

    /// <summary>Ends the connection from outside (session reinstatement, target cold reset, shutdown).</summary>
    internal void Abort(string reason)
    {
        _closeReason ??= reason;
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private uint NewTargetTransferTag()
    {
        uint t;
        do
            t = Interlocked.Increment(ref _nextTtt);
        while (t == BasicHeaderSegment.ReservedTag);
        return t;
    }

    private Timer? StartLoginTimer()
    {
        var timeout = _server.Options.LoginTimeout;
        if (timeout <= TimeSpan.Zero)
            return null;
        return new Timer(static s =>
        {
            var c = (IscsiConnection)s!;
            if (c._phase == ConnectionPhase.Login)
            {
                IscsiLog.ProtocolViolation(c._log, c.Id, c.Peer, "login did not complete in time");
                c.Abort("login timeout");
            }
        }, this, timeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Pings an idle initiator with NOP-In and drops the connection if the ping goes unanswered (RFC 7143 11.19).</summary>
    private async Task PingLoopAsync()
    {
        var interval = _server.Options.NopInInterval;
        var timeout = _server.Options.NopInTimeout;
        var period = TimeSpan.FromMilliseconds(Math.Max(50, Math.Min(interval.TotalMilliseconds, timeout.TotalMilliseconds) / 4));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_closing.Token).ConfigureAwait(false))
            {
                if (_phase != ConnectionPhase.FullFeature)
                    continue;
                long now = Environment.TickCount64;
                long idle = now - Volatile.Read(ref _lastReceiveTicks);
                uint pending = Volatile.Read(ref _pendingPingTtt);
                if (pending != BasicHeaderSegment.ReservedTag)
                {
                    if (now - Volatile.Read(ref _pingSentTicks) > (long)timeout.TotalMilliseconds)
                    {
                        IscsiLog.PingTimeout(_log, Id, Peer, (int)timeout.TotalSeconds);
                        Abort("NOP-In ping not answered");
                        return;
                    }
                }
                else if (idle >= (long)interval.TotalMilliseconds)
                {
                    SendPing();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task CloseAsync()
    {
        if (_phase == ConnectionPhase.Closed)
            return;
        var wasFullFeature = _phase is ConnectionPhase.FullFeature or ConnectionPhase.LoggingOut;
        _phase = ConnectionPhase.Closed;

        // Let queued output (a login reject, a logout response) reach the initiator first.
        try
        {
            await WaitForOutputIdleAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception)
        {
        }

        AbortAllTasks();
        var session = _session;
        if (session is not null && ReferenceEquals(session.Connection, this))
        {
            session.Connection = null;
            _server.EndSession(session);
        }

        try
        {
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        try
        {
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        _closing.Cancel();
        if (wasFullFeature || _closeReason is not null)
            IscsiLog.ConnectionClosed(_log, Id, Peer, session?.InitiatorName ?? "-", _closeReason ?? "closed");
        _server.ConnectionEnded(this);
        _done.TrySetResult();
    }

    // ---------------------------------------------------------------- task pool

    private IscsiTask RentTask()
    {
        lock (_taskLock)
        {
            if (_taskPool.TryPop(out var t))
                return t;
        }
        return new IscsiTask();
    }

    private void ReturnTask(IscsiTask t)
    {
        t.Reset();
        lock (_taskLock)
        {
            if (_taskPool.Count < 256)
                _taskPool.Push(t);
        }
    }
}
