namespace StorageAppliance.Protocols.Iscsi.Negotiation;

/// <summary>How one login request's session-declaring keys compare with what the login already declared.</summary>
public enum DeclarationOutcome : byte
{
    /// <summary>Nothing new, or the leading request's declarations, now fixed.</summary>
    Accepted,

    /// <summary>The leading request named no initiator (answer 0x0207).</summary>
    MissingInitiatorName,

    /// <summary>A normal session's leading request named no target (answer 0x0207).</summary>
    MissingTargetName,

    /// <summary>InitiatorName is not an iSCSI name (answer 0x0200).</summary>
    InvalidInitiatorName,

    /// <summary>SessionType is neither Discovery nor Normal (answer 0x0209).</summary>
    UnknownSessionType,

    /// <summary>A later request declared a different value than the leading one (answer 0x0200).</summary>
    Changed,

    /// <summary>A later request declared a key the leading request did not (answer 0x0200).</summary>
    DeclaredLate,
}

/// <summary>
/// The keys that say what a login is for: who logs in (InitiatorName, RFC 7143 13.5), what kind of session
/// (SessionType, 13.21) and to which target (TargetName, 13.4). They are taken from the leading login request
/// (the whole text of the first request, C-bit pieces joined) and are fixed from then on: a later request
/// may repeat a value (libiscsi repeats all three in the operational stage after CHAP) but never change it
/// or add one. Every security and operational decision of the login is made for this one declaration, so no
/// step of a login can carry what was decided for one session type or target over to another.
/// </summary>
/// <remarks>
/// RFC 7143 13.5: the initiator "MUST provide this key to the remote endpoint at the first login of the Login
/// Phase for every connection"; "The InitiatorName MUST NOT be redeclared within the Login Phase".
/// 13.4: the initiator "MUST provide this key to the remote endpoint in the first Login Request if the
/// initiator is not establishing a Discovery session"; "The TargetName MUST NOT be redeclared within the Login
/// Phase". 13.21: SessionType defaults to Normal; "Depending on the type of session, a target may decide on
/// resources to allocate, the security to enforce, etc., for the session. If the SessionType key is thus going
/// to be offered as "Discovery", it SHOULD be offered in the initial Login Request". 6.3: "An attempt to
/// renegotiate/redeclare parameters not specifically allowed MUST be detected by the initiator and target. If
/// such an attempt is detected by the target, the target MUST respond with Login reject (initiator error)".
/// </remarks>
public sealed class SessionDeclarations
{
    /// <summary>True once the leading request was read: the values below no longer change.</summary>
    public bool IsFixed { get; private set; }

    public string InitiatorName { get; private set; } = "";

    /// <summary>Normal unless the leading request said Discovery (RFC 7143 13.21: "Default is Normal").</summary>
    public SessionType SessionType { get; private set; } = SessionType.Normal;

    /// <summary>The target named by the leading request; null when a discovery session named none.</summary>
    public string? TargetName { get; private set; }

    /// <summary>The key the last non-accepted outcome was about.</summary>
    public string? OffendingKey { get; private set; }

    /// <summary>True for the three keys this class owns; the login hands every other key elsewhere.</summary>
    public static bool IsDeclarationKey(string key) => key is "InitiatorName" or "SessionType" or "TargetName";

    /// <summary>
    /// Reads the declarations of one complete login request: the first call fixes them, every later call only
    /// checks that nothing changed or was added. The text must not repeat a key (the caller checks that first).
    /// </summary>
    public DeclarationOutcome Apply(List<KeyValuePair<string, string>> pairs)
    {
        OffendingKey = null;
        string? initiator = null, sessionType = null, target = null;
        foreach (var (key, value) in pairs)
        {
            switch (key)
            {
                case "InitiatorName":
                    initiator = value;
                    break;
                case "SessionType":
                    sessionType = value;
                    break;
                case "TargetName":
                    target = value;
                    break;
            }
        }

        if (!IsFixed)
            return Fix(initiator, sessionType, target);

        // iSCSI names compare without regard to case (RFC 3722 folds them to lower case).
        if (initiator is not null && !string.Equals(initiator, InitiatorName, StringComparison.OrdinalIgnoreCase))
            return Offend("InitiatorName", DeclarationOutcome.Changed);
        if (sessionType is not null && sessionType != (SessionType == SessionType.Discovery ? "Discovery" : "Normal"))
            return Offend("SessionType", DeclarationOutcome.Changed);
        if (target is not null)
        {
            if (TargetName is null)
                return Offend("TargetName", DeclarationOutcome.DeclaredLate);
            if (!string.Equals(target, TargetName, StringComparison.OrdinalIgnoreCase))
                return Offend("TargetName", DeclarationOutcome.Changed);
        }
        return DeclarationOutcome.Accepted;
    }

    private DeclarationOutcome Fix(string? initiator, string? sessionType, string? target)
    {
        if (string.IsNullOrEmpty(initiator))
            return Offend("InitiatorName", DeclarationOutcome.MissingInitiatorName);
        if (!IscsiNames.IsValid(initiator))
            return Offend("InitiatorName", DeclarationOutcome.InvalidInitiatorName);
        SessionType type;
        if (sessionType is null or "Normal")
            type = SessionType.Normal;
        else if (sessionType == "Discovery")
            type = SessionType.Discovery;
        else
            return Offend("SessionType", DeclarationOutcome.UnknownSessionType);
        if (type == SessionType.Normal && string.IsNullOrEmpty(target))
            return Offend("TargetName", DeclarationOutcome.MissingTargetName);

        InitiatorName = initiator;
        SessionType = type;
        TargetName = string.IsNullOrEmpty(target) ? null : target;
        IsFixed = true;
        return DeclarationOutcome.Accepted;
    }

    private DeclarationOutcome Offend(string key, DeclarationOutcome outcome)
    {
        OffendingKey = key;
        return outcome;
    }
}
