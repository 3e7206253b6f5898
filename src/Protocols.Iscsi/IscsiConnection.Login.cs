using System.Globalization;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Security;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

// Login phase (RFC 7143 6): security negotiation (None, CHAP), operational negotiation, then the
// session is created, reinstated or joined, and the connection enters full feature phase.
//
// The login is a state machine whose decisions are all made for one declaration:
//
//   Start --leading request--> [declarations fixed: initiator, session type, target; the session joined
//     |                         (TSIH != 0) checked; the authentication requirement bound to them]
//     +--CSG=0--> Security --T=1, NSG=1, authenticated--> Operational --T=1, NSG=3--> FullFeature
//     |              +--------T=1, NSG=3, authenticated---------------------------------^
//     +--CSG=1 (only when no authentication is required)--> Operational
//   any error --> Failed (Login Response class 1-3, then the connection closes)
//
// A later request may repeat a declaration but never change or add one (SessionDeclarations), so a login
// that starts as a discovery session, or at one target, cannot end at another with the trust it earned there;
// CompleteLogin checks once more that the authentication was for the session actually entered.
public sealed partial class IscsiConnection
{
    private const int MaxLoginText = 64 * 1024;

    /// <summary>
    /// Login requests one connection may send, C-bit pieces included. A CHAP login takes four or five; the
    /// bound stops a peer from keeping the target answering empty continuations until the login timeout.
    /// </summary>
    private const int MaxLoginRequests = 64;

    /// <summary>Keys in one login request's text: well above the ~30 keys RFC 7143 defines.</summary>
    private const int MaxLoginKeys = 128;

    private readonly List<byte> _loginText = new();
    private readonly SessionParameters _loginParams = new();
    private readonly SessionDeclarations _declared = new();
    private OperationalNegotiator? _negotiator;
    private LoginState _loginState;
    private int _loginRequests;
    private ulong _loginIsid;
    private ushort _loginTsih;
    private uint _loginCmdSN;
    private IscsiTargetNode? _loginTarget;
    private LoginAuthentication? _auth;
    private bool _declaredTpgt;
    private bool _declaredMrdsl;

    private enum LoginState : byte
    {
        /// <summary>No request yet: nothing is declared.</summary>
        Start,

        /// <summary>In the security negotiation stage (CSG=0) for the fixed declaration.</summary>
        Security,

        /// <summary>In the operational negotiation stage (CSG=1); authentication is behind.</summary>
        Operational,

        /// <summary>The final response went out.</summary>
        FullFeature,

        /// <summary>A failure answer went out; nothing more is read.</summary>
        Failed,
    }

    private static LoginStage StageOf(LoginState state) =>
        state == LoginState.Operational ? LoginStage.LoginOperationalNegotiation : LoginStage.SecurityNegotiation;

    private bool OnLoginRequest(in PduFrame frame)
    {
        var req = new LoginRequest(frame.Header);
        if (_loginState is LoginState.Failed or LoginState.FullFeature)
            return LoginFail(in req, LoginStatus.InitiatorError, "login request after the login ended");
        if (++_loginRequests > MaxLoginRequests)
            return LoginFail(in req, LoginStatus.InitiatorError, $"more than {MaxLoginRequests} login requests");

        bool leading = _loginState == LoginState.Start;
        if (leading && _loginRequests == 1)
        {
            _loginIsid = req.Isid;
            _loginTsih = req.Tsih;
            _cid = req.Cid;
            _loginCmdSN = req.CmdSN;
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
        if (leading)
        {
            // The leading request opens the stage it names (the security stage may be skipped, RFC 7143 6.3);
            // the pieces of a C-bit sequence must all name it.
            if (_loginRequests > 1 && req.CurrentStage != _pendingStage)
                return LoginFail(in req, LoginStatus.InitiatorError, "the stage changed within a continued login text");
            _pendingStage = req.CurrentStage;
        }
        else if (req.CurrentStage != StageOf(_loginState))
        {
            // RFC 7143 6.3 / 11.13.3: a stage is left only by a transit the target answered with T=1.
            return LoginFail(in req, LoginStatus.InitiatorError,
                $"login request in stage {(int)req.CurrentStage} while the login is in stage {(int)StageOf(_loginState)}");
        }
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
        if (!TextParameters.TryParse(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_loginText), pairs, out var parseError, MaxLoginKeys))
            return LoginFail(in req, LoginStatus.InitiatorError, "malformed login text: " + parseError);
        _loginText.Clear();
        // RFC 7143 6.3: "Neither the initiator nor the target should attempt to declare or negotiate a parameter
        // more than once during login ... If such an attempt is detected by the target, the target MUST respond
        // with Login reject (initiator error)". Within one text that is a repeated key.
        if (TextParameters.FindRepeatedKey(pairs) is { } repeated)
            return LoginFail(in req, LoginStatus.InitiatorError, $"{repeated} appears twice in one login request");

        // Who is logging in, to what kind of session and to which target: fixed by the leading request.
        var declared = _declared.Apply(pairs);
        if (declared != DeclarationOutcome.Accepted)
            return DeclarationFail(in req, declared);
        if (leading && !OpenLogin(in req))
            return false;
        var auth = _auth!;

        var response = new List<byte>();
        var chapKeys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in pairs)
        {
            if (SessionDeclarations.IsDeclarationKey(key))
                continue;
            if (key == "AuthMethod")
            {
                if (req.CurrentStage != LoginStage.SecurityNegotiation)
                    return LoginFail(in req, LoginStatus.InitiatorError, "AuthMethod outside the security stage");
                if (auth.Method != AuthMethodChoice.NotNegotiated)
                    return LoginFail(in req, LoginStatus.InitiatorError, "AuthMethod renegotiated");
                if (!auth.ChooseMethod(value, response))
                    return LoginFail(in req, LoginStatus.AuthenticationFailure, auth.FailureReason ?? "AuthMethod refused");
                continue;
            }
            if (key.StartsWith("CHAP_", StringComparison.Ordinal))
            {
                // CHAP keys belong to a CHAP exchange in progress in the security stage, and to nothing else.
                if (req.CurrentStage != LoginStage.SecurityNegotiation || !auth.ExpectsChapKeys)
                    return LoginFail(in req, LoginStatus.InitiatorError, $"{key} without a CHAP exchange in progress");
                chapKeys[key] = value;
                continue;
            }
            if (!_negotiator!.Answer(key, value, fullFeature: false, response, out var err))
                return LoginFail(in req, LoginStatus.InitiatorError, $"negotiation error on {key}: {err}");
        }

        if (!_declaredTpgt && _declared.SessionType == SessionType.Normal)
        {
            // RFC 7143 13.9: the target sends TargetPortalGroupTag in the first login response of a normal session.
            _declaredTpgt = true;
            TextParameters.Append(response, "TargetPortalGroupTag", _server.Options.PortalGroupTag.ToString(CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(_loginTarget?.Alias))
                TextParameters.Append(response, "TargetAlias", _loginTarget.Alias);
        }

        if (req.CurrentStage == LoginStage.SecurityNegotiation && auth.ExpectsChapKeys)
        {
            // Every request while CHAP runs is a step of it: the first may only carry AuthMethod (CHAP_A follows),
            // after the challenge a request without CHAP_N and CHAP_R fails the login.
            var step = auth.ProcessChap(chapKeys, response);
            if (step == ChapStep.Failed)
                return LoginFail(in req, LoginStatus.AuthenticationFailure, "CHAP: " + auth.FailureReason);
        }

        if (req.CurrentStage == LoginStage.LoginOperationalNegotiation && !auth.MayLeaveSecurityStage)
        {
            // RFC 7143 6.3: a target that requires authentication refuses to skip the security stage.
            return LoginFail(in req, LoginStatus.AuthenticationFailure, "authentication required but the initiator skipped it");
        }

        bool canTransit = req.Transit;
        if (req.CurrentStage == LoginStage.SecurityNegotiation && !auth.MayLeaveSecurityStage)
            canTransit = false; // stay in the security stage until CHAP completes

        if (canTransit && req.NextStage == LoginStage.FullFeaturePhase)
        {
            if (_declared.SessionType == SessionType.Normal && !_declaredMrdsl && !_negotiator!.HasSeen("MaxRecvDataSegmentLength"))
            {
                // Declare what we accept even when the initiator did not ask (declarative, RFC 7143 13.12).
                TextParameters.Append(response, "MaxRecvDataSegmentLength", _server.Options.Limits.MaxRecvDataSegmentLength.ToString(CultureInfo.InvariantCulture));
                _loginParams.TargetMaxRecvDataSegmentLength = _server.Options.Limits.MaxRecvDataSegmentLength;
            }
            _declaredMrdsl = true;
            return CompleteLogin(in req, response);
        }

        SendLoginResponse(in req, canTransit, canTransit ? req.NextStage : LoginStage.SecurityNegotiation, response, LoginStatus.Success, tsih: 0);
        _loginState = canTransit || req.CurrentStage == LoginStage.LoginOperationalNegotiation ? LoginState.Operational : LoginState.Security;
        return true;
    }

    /// <summary>The stage the leading request (or its C-bit pieces) named.</summary>
    private LoginStage _pendingStage;

    /// <summary>
    /// After the leading request fixed the declarations: resolves the target, checks the initiator may use it
    /// and that a connection joining a session (TSIH != 0) joins one of the same initiator, session type and
    /// target, and binds the authentication requirement to this declaration, once.
    /// </summary>
    private bool OpenLogin(in LoginRequest req)
    {
        _loginParams.InitiatorName = _declared.InitiatorName;
        _loginParams.SessionType = _declared.SessionType;
        _loginParams.TargetName = _declared.TargetName;
        if (_declared.SessionType == SessionType.Normal)
        {
            _loginTarget = _server.FindTarget(_declared.TargetName!);
            if (_loginTarget is null)
                return LoginFail(in req, LoginStatus.NotFound, $"no target named '{_declared.TargetName}'");
            if (!_loginTarget.IsInitiatorAllowed(_declared.InitiatorName))
                return LoginFail(in req, LoginStatus.AuthorizationFailure, $"initiator '{_declared.InitiatorName}' is not allowed on {_loginTarget.Name}");
        }
        if (req.Tsih != 0 && FindSessionToJoin(req.Isid, req.Tsih) is null)
            return LoginFail(in req, LoginStatus.SessionDoesNotExist, $"no {_declared.SessionType} session with TSIH {req.Tsih} for this initiator and target");

        var (required, mutual) = CredentialsFor(_declared.SessionType, _loginTarget);
        _auth = new LoginAuthentication(required, mutual);
        _negotiator = new OperationalNegotiator(_server.Options.Limits, _loginParams);
        _loginState = req.CurrentStage == LoginStage.LoginOperationalNegotiation ? LoginState.Operational : LoginState.Security;
        return true;
    }

    /// <summary>What a session of this type at this target requires: the discovery secret, or the target's.</summary>
    private (ChapCredentials? Required, ChapCredentials? Mutual) CredentialsFor(SessionType type, IscsiTargetNode? target) =>
        type == SessionType.Discovery
            ? (_server.Options.DiscoveryChap, _server.Options.DiscoveryMutualChap)
            : (target?.Chap, target?.MutualChap);

    /// <summary>
    /// The session a login with a TSIH may join: RFC 7143 4.4.2 names a session by initiator name and ISID (and
    /// the target portal group); this target also requires the same session type and target node, since the
    /// connection was authenticated for those and a session on another target must not gain it.
    /// </summary>
    private IscsiSession? FindSessionToJoin(ulong isid, ushort tsih)
    {
        var existing = _server.Sessions.FindByTsih(tsih);
        if (existing is null || existing.Isid != isid
            || !string.Equals(existing.InitiatorName, _declared.InitiatorName, StringComparison.OrdinalIgnoreCase)
            || existing.Parameters.SessionType != _declared.SessionType
            || !ReferenceEquals(existing.Target, _loginTarget))
            return null;
        return existing;
    }

    private bool DeclarationFail(in LoginRequest req, DeclarationOutcome outcome)
    {
        string key = _declared.OffendingKey ?? "?";
        return outcome switch
        {
            DeclarationOutcome.MissingInitiatorName => LoginFail(in req, LoginStatus.MissingParameter, "InitiatorName missing in the leading login request"),
            DeclarationOutcome.MissingTargetName => LoginFail(in req, LoginStatus.MissingParameter, "TargetName missing in the leading login request of a normal session"),
            DeclarationOutcome.InvalidInitiatorName => LoginFail(in req, LoginStatus.InitiatorError, "InitiatorName is not a valid iSCSI name"),
            DeclarationOutcome.UnknownSessionType => LoginFail(in req, LoginStatus.SessionTypeNotSupported, "SessionType is neither Discovery nor Normal"),
            DeclarationOutcome.DeclaredLate => LoginFail(in req, LoginStatus.InitiatorError, $"{key} declared after the leading login request"),
            _ => LoginFail(in req, LoginStatus.InitiatorError, $"{key} changed during login"),
        };
    }

    /// <summary>The final login response: create, reinstate or join the session, then enter full feature phase.</summary>
    private bool CompleteLogin(in LoginRequest req, List<byte> response)
    {
        var p = _loginParams;
        var options = _server.Options;

        // The last word on authentication, for the session actually entered: its type and target come from
        // the fixed declaration, and the credentials that session requires must be the ones this login proved.
        var (required, _) = CredentialsFor(_declared.SessionType, _loginTarget);
        if (!_declared.IsFixed || p.SessionType != _declared.SessionType || !_auth!.IsSatisfiedFor(required)
            || (_declared.SessionType == SessionType.Normal) != (_loginTarget is not null))
            return LoginFail(in req, LoginStatus.AuthenticationFailure, "authentication does not cover the session being entered");

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
            // Looked up again: the session may have ended since the leading request.
            var existing = FindSessionToJoin(req.Isid, req.Tsih);
            if (existing is null)
                return LoginFail(in req, LoginStatus.SessionDoesNotExist, $"no {_declared.SessionType} session with TSIH {req.Tsih} for this initiator and target");
            var current = existing.Connection;
            // RFC 7143 13.21: a discovery session "implies MaxConnections = 1".
            int maxConnections = existing.IsDiscovery ? 1 : existing.Parameters.MaxConnections;
            if (current is not null && current.Cid != req.Cid && maxConnections <= 1)
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
        _loginState = LoginState.FullFeature;
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
        _loginState = LoginState.Failed;
        IscsiLog.LoginFailed(_log, Id, Peer, _declared.InitiatorName.Length > 0 ? _declared.InitiatorName : "?", status, reason);
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
