using StorageAppliance.Protocols.Iscsi.Negotiation;

namespace StorageAppliance.Protocols.Iscsi.Security;

/// <summary>The authentication method agreed in a login's security stage.</summary>
public enum AuthMethodChoice : byte
{
    /// <summary>No AuthMethod exchanged (yet).</summary>
    NotNegotiated,
    None,
    Chap,
}

/// <summary>
/// The security side of one login, created once the leading request has fixed what the login is for
/// (<see cref="SessionDeclarations"/>) and bound to the credentials that session requires: the discovery
/// CHAP secret for a discovery session, the target's secret for a normal one, or none. It cannot be re-bound,
/// and <see cref="IsSatisfiedFor"/> is asked again, with the credentials of the session actually entered,
/// before the login completes.
/// </summary>
/// <remarks>
/// RFC 7143 6.3.2 / 12.1: the security stage chooses one AuthMethod and runs it. 6.3: "An attempt to
/// renegotiate/redeclare parameters not specifically allowed MUST be detected by the initiator and target", so a
/// second AuthMethod, or CHAP keys after CHAP completed, end the login as an initiator error.
/// </remarks>
public sealed class LoginAuthentication
{
    private readonly ChapCredentials? _mutual;
    private ChapAuthenticator? _chap;

    public LoginAuthentication(ChapCredentials? required, ChapCredentials? mutual)
    {
        Required = required;
        _mutual = mutual;
    }

    /// <summary>The secret the initiator must prove it knows; null when the session needs no authentication.</summary>
    public ChapCredentials? Required { get; }

    public AuthMethodChoice Method { get; private set; }

    /// <summary>True once CHAP proved the initiator knows <see cref="Required"/>.</summary>
    public bool ChapAuthenticated { get; private set; }

    public string? FailureReason { get; private set; }

    /// <summary>True while CHAP keys are expected: CHAP was chosen and has not finished.</summary>
    public bool ExpectsChapKeys => Method == AuthMethodChoice.Chap && !ChapAuthenticated;

    /// <summary>
    /// True when the login may leave the security stage (or skip it): authentication is complete for the
    /// required credentials, or none are required and CHAP was not started.
    /// </summary>
    public bool MayLeaveSecurityStage => Required is null ? Method != AuthMethodChoice.Chap : ChapAuthenticated;

    /// <summary>
    /// True when this login authenticated exactly as the session with <paramref name="required"/> credentials
    /// demands. Reference equality: the decision was made for these credentials, not for equal-looking ones.
    /// </summary>
    public bool IsSatisfiedFor(ChapCredentials? required) =>
        ReferenceEquals(required, Required) && (required is null ? Method != AuthMethodChoice.Chap : ChapAuthenticated);

    /// <summary>
    /// Answers an AuthMethod offer with the first offered method this session accepts (RFC 7143 6.2.1 list
    /// negotiation): CHAP when a secret is required, None when none is. False (after answering Reject) when
    /// nothing offered is acceptable, or when a method was already agreed (not renegotiable).
    /// </summary>
    public bool ChooseMethod(string offered, List<byte> response)
    {
        if (Method != AuthMethodChoice.NotNegotiated)
        {
            FailureReason = "AuthMethod offered again after it was agreed";
            return false;
        }
        foreach (var m in offered.Split(','))
        {
            if (m == "CHAP" && Required is not null)
            {
                Method = AuthMethodChoice.Chap;
                _chap = new ChapAuthenticator(Required, _mutual);
                TextParameters.Append(response, "AuthMethod", "CHAP");
                return true;
            }
            if (m == "None" && Required is null)
            {
                Method = AuthMethodChoice.None;
                TextParameters.Append(response, "AuthMethod", "None");
                return true;
            }
        }
        TextParameters.Append(response, "AuthMethod", "Reject");
        FailureReason = $"no acceptable AuthMethod in '{offered}'";
        return false;
    }

    /// <summary>Feeds the CHAP keys of one request in the security stage (see <see cref="ChapAuthenticator"/>).</summary>
    public ChapStep ProcessChap(IReadOnlyDictionary<string, string> keys, List<byte> response)
    {
        if (!ExpectsChapKeys)
        {
            FailureReason = "CHAP keys without CHAP in progress";
            return ChapStep.Failed;
        }
        var step = _chap!.Process(keys, response);
        if (step == ChapStep.Authenticated)
            ChapAuthenticated = true;
        else if (step == ChapStep.Failed)
            FailureReason = _chap.FailureReason;
        return step;
    }
}
