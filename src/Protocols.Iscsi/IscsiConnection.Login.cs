using System.Globalization;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Security;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

// Login phase (RFC 7143 6): security negotiation (None, CHAP), operational negotiation, then the
// session is created, reinstated or joined, and the connection enters full feature phase.
public sealed partial class IscsiConnection
{
    private const int MaxLoginText = 64 * 1024;

    private readonly List<byte> _loginText = new();
    private readonly SessionParameters _loginParams = new();
    private OperationalNegotiator? _negotiator;
    private bool _loginStarted;
    private ulong _loginIsid;
    private ushort _loginTsih;
    private uint _loginCmdSN;
    private LoginStage _loginStage;
    private IscsiTargetNode? _loginTarget;
    private bool _authRequired;
    private bool _authDone;
    private bool _authMethodAgreed;
    private ChapAuthenticator? _chap;
    private bool _declaredTpgt;
    private bool _declaredMrdsl;

    private bool OnLoginRequest(in PduFrame frame)
    {
        var req = new LoginRequest(frame.Header);

        if (!_loginStarted)
        {
            _loginStarted = true;
            _loginIsid = req.Isid;
            _loginTsih = req.Tsih;
            _cid = req.Cid;
            _loginCmdSN = req.CmdSN;
            _loginStage = req.CurrentStage;
            _negotiator = new OperationalNegotiator(_server.Options.Limits, _loginParams);
            // RFC 7143 11.12.4: the target supports only version 0; Version-min above it cannot be met.
            if (req.VersionMin > 0)
                return LoginFail(in req, LoginStatus.UnsupportedVersion, $"unsupported version range {req.VersionMin}..{req.VersionMax}");
        }
        else if (req.Isid != _loginIsid || req.Tsih != _loginTsih || req.Cid != _cid)
        {
            return LoginFail(in req, LoginStatus.InitiatorError, "ISID, TSIH or CID changed during login");
        }

        // RFC 7143 11.12.2: "If the C bit is set to 1, the T bit MUST be 0."
        if (req.Transit && req.Continue)
            return LoginFail(in req, LoginStatus.InitiatorError, "login request with both T and C bits set");
        if (req.CurrentStage is not (LoginStage.SecurityNegotiation or LoginStage.LoginOperationalNegotiation))
            return LoginFail(in req, LoginStatus.InitiatorError, $"invalid current stage {(int)req.CurrentStage}");
        if (req.CurrentStage < _loginStage)
            return LoginFail(in req, LoginStatus.InitiatorError, "login went back to an earlier stage");
        _loginStage = req.CurrentStage;
        if (req.Transit && (req.NextStage <= req.CurrentStage || (int)req.NextStage == 2))
            return LoginFail(in req, LoginStatus.InitiatorError, $"invalid next stage {(int)req.NextStage} from stage {(int)req.CurrentStage}");

        foreach (var segment in frame.Data)
            _loginText.AddRange(segment.Span);
        if (_loginText.Count > MaxLoginText)
            return LoginFail(in req, LoginStatus.InitiatorError, "login text too long");
        if (req.Continue)
        {
            // RFC 7143 6.2: the text continues in the next PDU; answer with an empty response.
            SendLoginResponse(in req, transit: false, LoginStage.SecurityNegotiation, [], LoginStatus.Success, tsih: 0);
            return true;
        }

        var pairs = new List<KeyValuePair<string, string>>();
        if (!TextParameters.TryParse(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_loginText), pairs, out var parseError))
            return LoginFail(in req, LoginStatus.InitiatorError, "malformed login text: " + parseError);
        _loginText.Clear();

        var response = new List<byte>();
        var chapKeys = new Dictionary<string, string>(StringComparer.Ordinal);

        // Who is logging in, and to what, comes first: the security answer depends on the target.
        foreach (var (key, value) in pairs)
        {
            switch (key)
            {
                case "InitiatorName":
                    if (_loginParams.InitiatorName.Length > 0 && _loginParams.InitiatorName != value)
                        return LoginFail(in req, LoginStatus.InitiatorError, "InitiatorName changed during login");
                    if (!IscsiNames.IsValid(value))
                        return LoginFail(in req, LoginStatus.InitiatorError, $"InitiatorName '{value}' is not a valid iSCSI name");
                    _loginParams.InitiatorName = value;
                    break;
                case "SessionType":
                    if (value == "Discovery")
                        _loginParams.SessionType = SessionType.Discovery;
                    else if (value == "Normal")
                        _loginParams.SessionType = SessionType.Normal;
                    else
                        return LoginFail(in req, LoginStatus.SessionTypeNotSupported, $"SessionType '{value}'");
                    break;
                case "TargetName":
                    if (_loginParams.TargetName is not null && _loginParams.TargetName != value)
                        return LoginFail(in req, LoginStatus.InitiatorError, "TargetName changed during login");
                    _loginParams.TargetName = value;
                    break;
            }
        }

        // The leading PDU must say who is logging in and where (RFC 7143 13.4, 13.5).
        if (_loginParams.InitiatorName.Length == 0)
            return LoginFail(in req, LoginStatus.MissingParameter, "InitiatorName missing");
        if (_loginTarget is null && _loginParams.SessionType == SessionType.Normal)
        {
            if (string.IsNullOrEmpty(_loginParams.TargetName))
                return LoginFail(in req, LoginStatus.MissingParameter, "TargetName missing in a normal session");
            _loginTarget = _server.FindTarget(_loginParams.TargetName);
            if (_loginTarget is null)
                return LoginFail(in req, LoginStatus.NotFound, $"no target named '{_loginParams.TargetName}'");
            if (!_loginTarget.IsInitiatorAllowed(_loginParams.InitiatorName))
                return LoginFail(in req, LoginStatus.AuthorizationFailure, $"initiator '{_loginParams.InitiatorName}' is not allowed on {_loginTarget.Name}");
        }
        _authRequired = _loginParams.SessionType == SessionType.Discovery ? _server.Options.DiscoveryChap is not null : _loginTarget?.Chap is not null;

        foreach (var (key, value) in pairs)
        {
            switch (key)
            {
                case "InitiatorName":
                case "SessionType":
                case "TargetName":
                    break;
                case "AuthMethod":
                    if (req.CurrentStage != LoginStage.SecurityNegotiation)
                        return LoginFail(in req, LoginStatus.InitiatorError, "AuthMethod outside the security stage");
                    if (!ChooseAuthMethod(value, response))
                        return LoginFail(in req, LoginStatus.AuthenticationFailure, $"no acceptable AuthMethod in '{value}'");
                    break;
                default:
                    if (key.StartsWith("CHAP_", StringComparison.Ordinal))
                    {
                        if (req.CurrentStage != LoginStage.SecurityNegotiation || _chap is null)
                            return LoginFail(in req, LoginStatus.InitiatorError, $"{key} without CHAP being negotiated");
                        chapKeys[key] = value;
                        break;
                    }
                    if (!_negotiator!.Answer(key, value, fullFeature: false, response, out var err))
                        return LoginFail(in req, LoginStatus.InitiatorError, $"negotiation error on {key}: {err}");
                    break;
            }
        }

        if (!_declaredTpgt && _loginParams.SessionType == SessionType.Normal)
        {
            // RFC 7143 13.9: the target sends TargetPortalGroupTag in the first login response of a normal session.
            _declaredTpgt = true;
            TextParameters.Append(response, "TargetPortalGroupTag", _server.Options.PortalGroupTag.ToString(CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(_loginTarget?.Alias))
                TextParameters.Append(response, "TargetAlias", _loginTarget.Alias);
        }

        if (_chap is not null && !_authDone && (chapKeys.Count > 0 || req.CurrentStage == LoginStage.SecurityNegotiation))
        {
            var step = _chap.Process(chapKeys, response);
            if (step == ChapStep.Failed)
                return LoginFail(in req, LoginStatus.AuthenticationFailure, "CHAP: " + _chap.FailureReason);
            if (step == ChapStep.Authenticated)
                _authDone = true;
        }

        if (req.CurrentStage == LoginStage.LoginOperationalNegotiation && _authRequired && !_authDone)
        {
            // RFC 7143 6.3: a target that requires authentication refuses to skip the security stage.
            return LoginFail(in req, LoginStatus.AuthenticationFailure, "authentication required but the initiator skipped it");
        }

        bool canTransit = req.Transit;
        if (req.CurrentStage == LoginStage.SecurityNegotiation)
        {
            if (_authRequired && !_authDone)
                canTransit = false; // stay in the security stage until CHAP completes
            else if (!_authRequired && !_authMethodAgreed && _chap is null)
                _authDone = true;
        }

        if (canTransit && req.NextStage == LoginStage.FullFeaturePhase)
        {
            if (_loginParams.SessionType == SessionType.Normal && !_declaredMrdsl && !_negotiator!.HasSeen("MaxRecvDataSegmentLength"))
            {
                // Declare what we accept even when the initiator did not ask (declarative, RFC 7143 13.12).
                TextParameters.Append(response, "MaxRecvDataSegmentLength", _server.Options.Limits.MaxRecvDataSegmentLength.ToString(CultureInfo.InvariantCulture));
                _loginParams.TargetMaxRecvDataSegmentLength = _server.Options.Limits.MaxRecvDataSegmentLength;
            }
            _declaredMrdsl = true;
            return CompleteLogin(in req, response);
        }

        SendLoginResponse(in req, canTransit, canTransit ? req.NextStage : LoginStage.SecurityNegotiation, response, LoginStatus.Success, tsih: 0);
        if (canTransit)
            _loginStage = req.NextStage;
        return true;
    }

    private bool ChooseAuthMethod(string offered, List<byte> response)
    {
        var creds = _loginParams.SessionType == SessionType.Discovery
            ? _server.Options.DiscoveryChap
            : _loginTarget?.Chap;
        var mutual = _loginParams.SessionType == SessionType.Discovery
            ? _server.Options.DiscoveryMutualChap
            : _loginTarget?.MutualChap;
        var methods = offered.Split(',');
        // RFC 7143 6.2.1: answer with the first offered method this target accepts.
        foreach (var m in methods)
        {
            if (m == "CHAP" && creds is not null)
            {
                _chap = new ChapAuthenticator(creds, mutual);
                _authMethodAgreed = true;
                TextParameters.Append(response, "AuthMethod", "CHAP");
                return true;
            }
            if (m == "None" && creds is null && !_authRequired)
            {
                _authMethodAgreed = true;
                _authDone = true;
                TextParameters.Append(response, "AuthMethod", "None");
                return true;
            }
        }
        TextParameters.Append(response, "AuthMethod", "Reject");
        return false;
    }

    /// <summary>The final login response: create, reinstate or join the session, then enter full feature phase.</summary>
    private bool CompleteLogin(in LoginRequest req, List<byte> response)
    {
        var p = _loginParams;
        var options = _server.Options;
        IscsiSession session;
        if (req.Tsih == 0)
        {
            // Leading login. RFC 7143 6.3.5: an existing session with the same initiator name, ISID and
            // target is reinstated: the old one is closed and its tasks terminated.
            var old = _server.Sessions.FindByKey(IscsiSession.Key(p.InitiatorName, req.Isid, _loginTarget?.Name));
            if (old is not null)
            {
                IscsiLog.SessionReinstated(_log, old.Tsih, p.InitiatorName, req.Isid);
                _server.EndSession(old);
                old.Connection?.Abort("session reinstatement");
            }
            session = new IscsiSession(_server.Sessions.AllocateTsih(), req.Isid, p, _loginTarget, req.CmdSN, options.QueueDepth);
            if (_loginTarget is not null)
            {
                string initiatorPort = $"{p.InitiatorName},i,0x{req.Isid:x12}";
                string targetPort = $"{_loginTarget.Name},t,0x{options.PortalGroupTag:x4}";
                session.Nexus = new ITNexus(p.InitiatorName, initiatorPort, targetPort, options.PortalGroupTag);
            }
            _server.Sessions.Add(session);
        }
        else
        {
            var existing = _server.Sessions.FindByTsih(req.Tsih);
            if (existing is null || existing.Isid != req.Isid || !string.Equals(existing.InitiatorName, p.InitiatorName, StringComparison.OrdinalIgnoreCase))
                return LoginFail(in req, LoginStatus.SessionDoesNotExist, $"no session with TSIH {req.Tsih} for this initiator");
            var current = existing.Connection;
            if (current is not null && current.Cid != req.Cid && existing.Parameters.MaxConnections <= 1)
                return LoginFail(in req, LoginStatus.TooManyConnections, "the session already has its one connection");
            if (current is not null)
            {
                // Connection reinstatement (RFC 7143 6.3.4): at ErrorRecoveryLevel 0 the old connection's tasks end.
                current.Abort("connection reinstatement");
            }
            session = existing;
        }

        _session = session;
        session.Connection = this;
        SendLoginResponse(in req, transit: true, LoginStage.FullFeaturePhase, response, LoginStatus.Success, session.Tsih);

        // Negotiated values take effect with the first PDU after the final login response (RFC 7143 6.3.6).
        _framing.HeaderDigest = p.HeaderDigest;
        _framing.DataDigest = p.DataDigest;
        _framing.MaxRecvDataSegmentLength = p.TargetMaxRecvDataSegmentLength;
        _phase = ConnectionPhase.FullFeature;
        if (session.Nexus is not null && req.Tsih == 0)
            _loginTarget!.Scsi.AddNexus(session.Nexus);
        IscsiLog.LoggedIn(_log, Id, Peer, p.InitiatorName, p.SessionType.ToString(), _loginTarget?.Name ?? "-", session.Tsih, p.ToString());
        return true;
    }

    private void SendLoginResponse(in LoginRequest req, bool transit, LoginStage nextStage, List<byte> text, LoginStatus status, ushort tsih)
    {
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        LoginResponse.WriteHeader(bhs, transit, @continue: false, req.CurrentStage, nextStage, req.Isid, tsih, req.InitiatorTaskTag, status, text.Count);
        EnqueuePrebuilt(bhs, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(text), StatSNUse.Advance, noDigests: true);
    }

    /// <summary>Answers the login with an error status and ends the connection once the answer is sent.</summary>
    private bool LoginFail(in LoginRequest req, LoginStatus status, string reason)
    {
        IscsiLog.LoginFailed(_log, Id, Peer, _loginParams.InitiatorName.Length > 0 ? _loginParams.InitiatorName : "?", status, reason);
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        // RFC 7143 11.13.5: on failure the response carries no text and T=0.
        LoginResponse.WriteHeader(bhs, transit: false, @continue: false, req.CurrentStage, LoginStage.SecurityNegotiation, req.Isid, 0, req.InitiatorTaskTag, status, 0);
        EnqueuePrebuilt(bhs, default, StatSNUse.Advance, noDigests: true);
        _closeReason ??= $"login failed: {reason}";
        return false; // the receive loop sends what is queued, then closes
    }
}

/// <summary>iSCSI name rules (RFC 7143 4.2.7, RFC 3722): iqn., eui. and naa. formats.</summary>
public static class IscsiNames
{
    public static bool IsValid(string name)
    {
        if (string.IsNullOrEmpty(name) || System.Text.Encoding.UTF8.GetByteCount(name) > 223)
            return false;
        // After the stringprep profile of RFC 3722 an ASCII name holds only letters, digits, '-', '.'
        // and ':'; letters are accepted in either case since initiators differ. No spaces or controls.
        foreach (char c in name)
        {
            bool ok = char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or ':' || (c > 0x7F && !char.IsControl(c) && !char.IsWhiteSpace(c));
            if (!ok)
                return false;
        }
        if (name.StartsWith("iqn.", StringComparison.OrdinalIgnoreCase))
        {
            // iqn.yyyy-mm.reversed-domain[:...]
            if (name.Length < 12 || !char.IsAsciiDigit(name[4]) || !char.IsAsciiDigit(name[5]) || !char.IsAsciiDigit(name[6])
                || !char.IsAsciiDigit(name[7]) || name[8] != '-' || !char.IsAsciiDigit(name[9]) || !char.IsAsciiDigit(name[10]))
                return false;
            return name.Length == 11 || name[11] == '.' || name[11] == ':';
        }
        if (name.StartsWith("eui.", StringComparison.OrdinalIgnoreCase))
            return name.Length == 20 && IsHex(name.AsSpan(4));
        if (name.StartsWith("naa.", StringComparison.OrdinalIgnoreCase))
            return (name.Length == 20 || name.Length == 36) && IsHex(name.AsSpan(4));
        return false;
    }

    private static bool IsHex(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
            if (!char.IsAsciiHexDigit(c))
                return false;
        return true;
    }
}
