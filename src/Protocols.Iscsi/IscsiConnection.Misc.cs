using System.Buffers;
using System.Globalization;
using System.Net;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi;

// Text (RFC 7143 11.10-11.11, SendTargets in 4.3), Logout (11.14-11.15) and NOP (11.18-11.19).
public sealed partial class IscsiConnection
{
    private readonly List<byte> _textIn = new();
    private byte[]? _textOut;
    private int _textOutOffset;
    private uint _textOutTtt = BasicHeaderSegment.ReservedTag;
    private uint _textOutItt;
    private bool _textCollecting;

    private uint _pendingPingTtt = BasicHeaderSegment.ReservedTag;
    private long _pingSentTicks;

    private void OnTextRequest(in PduFrame frame)
    {
        var session = _session!;
        var req = new TextRequest(frame.Header);
        if (!req.Immediate)
        {
            var check = session.Check(req.CmdSN);
            if (check is CmdSNCheck.TooLow or CmdSNCheck.TooHigh)
                return;
            session.Accept(req.CmdSN);
        }

        bool continuesRequest = false;
        if (req.TargetTransferTag != BasicHeaderSegment.ReservedTag)
        {
            if (req.TargetTransferTag != _textOutTtt || req.InitiatorTaskTag != _textOutItt || (_textOut is null && !_textCollecting))
            {
                EnqueueReject(RejectReason.InvalidPduField, in frame);
                if (!req.Immediate)
                    session.Retire();
                return;
            }
            if (!_textCollecting)
            {
                // The initiator asks for the next part of a long response (RFC 7143 11.10.4).
                SendTextPart(req);
                return;
            }
            // The next piece of a request the initiator split with the C bit (RFC 7143 11.10.2).
            continuesRequest = true;
        }

        if (!continuesRequest)
        {
            // A new request cancels a response still in parts and any half-received request.
            _textOut = null;
            _textIn.Clear();
        }
        _textCollecting = false;
        foreach (var segment in frame.Data)
            _textIn.AddRange(segment.Span);
        if (_textIn.Count > 64 * 1024)
        {
            _textIn.Clear();
            EnqueueReject(RejectReason.ProtocolError, in frame);
            if (!req.Immediate)
                session.Retire();
            return;
        }
        if (req.Continue)
        {
            // More text follows; answer with an empty response whose TTT the next piece echoes.
            _textCollecting = true;
            _textOut = null;
            _textOutOffset = 0;
            _textOutItt = req.InitiatorTaskTag;
            _textOutTtt = NewTargetTransferTag();
            Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
            TextResponse.WriteHeader(bhs, final: false, @continue: false, req.Lun, req.InitiatorTaskTag, _textOutTtt, 0);
            if (!req.Immediate)
                session.Retire();
            EnqueuePrebuilt(bhs, default, StatSNUse.Advance);
            return;
        }

        var pairs = new List<KeyValuePair<string, string>>();
        var response = new List<byte>();
        bool parsed = TextParameters.TryParse(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_textIn), pairs, out var error, MaxLoginKeys);
        if (parsed && TextParameters.FindRepeatedKey(pairs) is { } repeated)
        {
            // RFC 7143 6.2: a key is offered once per negotiation.
            parsed = false;
            error = $"{repeated} appears twice";
        }
        if (!parsed)
        {
            _textIn.Clear();
            IscsiLog.ProtocolViolation(_log, Id, Peer, "malformed text request: " + error);
            EnqueueReject(RejectReason.ProtocolError, in frame);
            if (!req.Immediate)
                session.Retire();
            return;
        }
        _textIn.Clear();

        var negotiator = new OperationalNegotiator(_server.Options.Limits, session.Parameters);
        foreach (var (key, value) in pairs)
        {
            if (SessionDeclarations.IsDeclarationKey(key) || key == "AuthMethod" || key.StartsWith("CHAP_", StringComparison.Ordinal))
            {
                // Declared or run once, in the login (RFC 7143 13.4, 13.5: "IO", initialize only; 13.21: "LO",
                // leading only; 12.1: security keys belong to the security stage): full feature phase cannot
                // redeclare who the session is for or authenticate it again. Nothing changes; the answer says so.
                TextParameters.Append(response, key, "Reject");
                continue;
            }
            if (key == "SendTargets")
            {
                AppendSendTargets(value, session, response);
                continue;
            }
            if (key == "MaxRecvDataSegmentLength")
            {
                // Declarative in any phase (RFC 7143 13.12): takes effect for what we send next.
                if (TextParameters.TryParseNumber(value, out ulong n) && n is >= 512 and <= 16777215)
                {
                    session.Parameters.InitiatorMaxRecvDataSegmentLength = (int)n;
                    TextParameters.Append(response, key, _server.Options.Limits.MaxRecvDataSegmentLength.ToString(CultureInfo.InvariantCulture));
                }
                else
                {
                    TextParameters.Append(response, key, "Reject");
                }
                continue;
            }
            negotiator.Answer(key, value, fullFeature: true, response, out _);
        }

        _textOut = response.ToArray();
        _textOutOffset = 0;
        _textOutItt = req.InitiatorTaskTag;
        _textOutTtt = BasicHeaderSegment.ReservedTag;
        SendTextPart(req);
    }

    /// <summary>Sends as much of the pending response as fits in the initiator's MaxRecvDataSegmentLength.</summary>
    private void SendTextPart(TextRequest req)
    {
        var session = _session!;
        byte[] all = _textOut!;
        int max = session.Parameters.InitiatorMaxRecvDataSegmentLength;
        int length = Math.Min(max, all.Length - _textOutOffset);
        bool more = _textOutOffset + length < all.Length;
        uint ttt = more ? NewTargetTransferTag() : BasicHeaderSegment.ReservedTag;
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        // RFC 7143 11.11.1: C=1 (and a TTT) while more follows; F=1 on the final part.
        TextResponse.WriteHeader(bhs, final: !more, @continue: more, req.Lun, req.InitiatorTaskTag, ttt, length);
        var part = all.AsSpan(_textOutOffset, length);
        _textOutOffset += length;
        _textOutTtt = ttt;
        if (!more)
            _textOut = null;
        if (!req.Immediate)
            session.Retire();
        EnqueuePrebuilt(bhs, part, StatSNUse.Advance);
    }

    /// <summary>
    /// SendTargets (RFC 7143 appendix C): "All" lists every target this initiator may use (discovery
    /// sessions); an empty value names the session's own target; a name asks about that target.
    /// </summary>
    private void AppendSendTargets(string value, IscsiSession session, List<byte> response)
    {
        IEnumerable<IscsiTargetNode> targets;
        if (value == "All")
        {
            if (!session.IsDiscovery)
            {
                // "All" belongs to discovery sessions; a normal session gets its own target.
                targets = session.Target is null ? [] : [session.Target];
            }
            else
            {
                targets = _server.Targets;
            }
        }
        else if (value.Length == 0)
        {
            targets = session.Target is null ? [] : [session.Target];
        }
        else
        {
            // RFC 7143 appendix C: operational sessions "will only return path information about the target to
            // which the session is connected"; naming another target there learns nothing about it.
            var t = _server.FindTarget(value);
            targets = t is null || (!session.IsDiscovery && !ReferenceEquals(t, session.Target)) ? [] : [t];
        }

        foreach (var target in targets)
        {
            if (!target.IsInitiatorAllowed(session.InitiatorName))
                continue;
            TextParameters.Append(response, "TargetName", target.Name);
            foreach (var portal in _server.PortalsFor(LocalEndPoint))
                TextParameters.Append(response, "TargetAddress", FormatPortal(portal) + "," + _server.Options.PortalGroupTag.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static string FormatPortal(IPEndPoint ep) =>
        ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"[{ep.Address}]:{ep.Port}"
            : $"{ep.Address}:{ep.Port}";

    private void OnLogoutRequest(in PduFrame frame)
    {
        var session = _session!;
        var req = new LogoutRequest(frame.Header);
        if (!req.Immediate)
        {
            var check = session.Check(req.CmdSN);
            if (check is CmdSNCheck.TooLow or CmdSNCheck.TooHigh)
                return;
            session.Accept(req.CmdSN);
        }

        LogoutResponseCode code;
        bool close;
        switch (req.Reason)
        {
            case LogoutReason.CloseSession:
                code = LogoutResponseCode.Success;
                close = true;
                break;
            case LogoutReason.CloseConnection:
                code = req.Cid == _cid ? LogoutResponseCode.Success : LogoutResponseCode.CidNotFound;
                close = req.Cid == _cid;
                break;
            case LogoutReason.RemoveConnectionForRecovery:
                // Connection recovery needs ErrorRecoveryLevel 2 (RFC 7143 11.15.1).
                code = LogoutResponseCode.RecoveryNotSupported;
                close = false;
                break;
            default:
                EnqueueReject(RejectReason.InvalidPduField, in frame);
                if (!req.Immediate)
                    session.Retire();
                return;
        }

        if (!close)
        {
            RespondLogout(req, code, closeAfter: false);
            return;
        }

        // RFC 7143 11.14: commands still running complete before the logout response; new PDUs are refused.
        _phase = ConnectionPhase.LoggingOut;
        var waits = new List<Task>();
        lock (_taskLock)
        {
            foreach (var t in _tasks.Values)
            {
                if (t.State == IscsiTaskState.Executing)
                {
                    t.Finished ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    waits.Add(t.Finished.Task);
                }
            }
        }
        AbortTasksWhere(t => t.State == IscsiTaskState.ReceivingData, new List<Task>());
        _closeReason ??= req.Reason == LogoutReason.CloseSession ? "logout (close session)" : "logout (close connection)";
        if (waits.Count == 0)
        {
            RespondLogout(req, code, closeAfter: true);
            return;
        }
        _ = Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => RespondLogout(req, code, closeAfter: true), TaskScheduler.Default);
    }

    private void RespondLogout(LogoutRequest req, LogoutResponseCode code, bool closeAfter)
    {
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        var p = _session!.Parameters;
        LogoutResponse.WriteHeader(bhs, req.InitiatorTaskTag, code, (ushort)p.DefaultTime2Wait, (ushort)p.DefaultTime2Retain);
        if (!req.Immediate)
            _session.Retire();
        EnqueuePrebuilt(bhs, default, StatSNUse.Advance, closeAfter: closeAfter);
    }

    private void OnNopOut(in PduFrame frame)
    {
        var session = _session!;
        var nop = new NopOut(frame.Header);
        if (!nop.Immediate)
        {
            var check = session.Check(nop.CmdSN);
            if (check is CmdSNCheck.TooLow or CmdSNCheck.TooHigh)
                return;
            session.Accept(nop.CmdSN);
        }

        if (nop.TargetTransferTag != BasicHeaderSegment.ReservedTag)
        {
            // The answer to our ping (RFC 7143 11.18.3).
            Interlocked.CompareExchange(ref _pendingPingTtt, BasicHeaderSegment.ReservedTag, nop.TargetTransferTag);
        }

        if (nop.InitiatorTaskTag == BasicHeaderSegment.ReservedTag)
        {
            if (!nop.Immediate)
                session.Retire();
            return; // no answer wanted
        }

        // Echo the ping data back (RFC 7143 11.19.2), limited to what the initiator accepts.
        int length = Math.Min(nop.DataSegmentLength, session.Parameters.InitiatorMaxRecvDataSegmentLength);
        byte[] data = new byte[length];
        frame.Data.Slice(0, length).CopyTo(data);
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        NopIn.WriteHeader(bhs, nop.Lun, nop.InitiatorTaskTag, BasicHeaderSegment.ReservedTag, length);
        if (!nop.Immediate)
            session.Retire();
        EnqueuePrebuilt(bhs, data, StatSNUse.Advance);
    }

    /// <summary>Sends a NOP-In that asks for a NOP-Out (ITT 0xffffffff, TTT ours).</summary>
    private void SendPing()
    {
        uint ttt = NewTargetTransferTag();
        Volatile.Write(ref _pingSentTicks, Environment.TickCount64);
        Volatile.Write(ref _pendingPingTtt, ttt);
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        NopIn.WriteHeader(bhs, 0, BasicHeaderSegment.ReservedTag, ttt, 0);
        // RFC 7143 11.19.3: with ITT 0xffffffff the StatSN is not advanced.
        EnqueuePrebuilt(bhs, default, StatSNUse.Stamp);
    }

    /// <summary>Asks the initiator to log out within <paramref name="seconds"/> (Async Message, event 1).</summary>
    internal void RequestLogout(ushort seconds)
    {
        if (_phase != ConnectionPhase.FullFeature)
            return;
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        // RFC 7143 11.9.1: AsyncEvent 1 (logout request); Parameter3 is the time the initiator has to log out.
        AsyncMessage.WriteHeader(bhs, 0, AsyncEvent.LogoutRequest, 0, 0, seconds, 0);
        // It carries status-like information: StatSN advances (as initiators expect: they take
        // ExpStatSN = StatSN + 1 from it).
        EnqueuePrebuilt(bhs, default, StatSNUse.Advance);
    }
}
