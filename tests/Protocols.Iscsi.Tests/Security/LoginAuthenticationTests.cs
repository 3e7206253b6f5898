using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Security;

namespace StorageAppliance.Protocols.Iscsi.Tests.Security;

/// <summary>The security stage of one login, bound to the credentials its declaration requires.</summary>
public class LoginAuthenticationTests
{
    private static readonly ChapCredentials Secret = new("alice", "alice-secret-123");

    [Test]
    public void Without_required_credentials_None_is_chosen_and_the_stage_may_be_left()
    {
        var a = new LoginAuthentication(null, null);
        Assert.That(a.MayLeaveSecurityStage, Is.True, "no AuthMethod at all is fine when none is required");
        var response = new List<byte>();
        Assert.That(a.ChooseMethod("CHAP,None", response), Is.True);
        Assert.That(a.Method, Is.EqualTo(AuthMethodChoice.None));
        Assert.That(a.IsSatisfiedFor(null), Is.True);
        Assert.That(a.IsSatisfiedFor(Secret), Is.False, "satisfied for no secret is not satisfied for one");
    }

    [Test]
    public void With_required_credentials_None_is_refused_and_nothing_is_satisfied_before_chap()
    {
        var a = new LoginAuthentication(Secret, null);
        Assert.That(a.MayLeaveSecurityStage, Is.False);
        Assert.That(a.ChooseMethod("None", new List<byte>()), Is.False);
        Assert.That(a.IsSatisfiedFor(Secret), Is.False);
        Assert.That(a.IsSatisfiedFor(null), Is.False);
    }

    [Test]
    public void AuthMethod_is_chosen_once()
    {
        var a = new LoginAuthentication(Secret, null);
        Assert.That(a.ChooseMethod("CHAP", new List<byte>()), Is.True);
        Assert.That(a.ChooseMethod("CHAP", new List<byte>()), Is.False);
        Assert.That(a.FailureReason, Does.Contain("again"));
    }

    [Test]
    public void Chap_keys_without_chap_in_progress_fail()
    {
        var a = new LoginAuthentication(null, null);
        a.ChooseMethod("None", new List<byte>());
        Assert.That(a.ProcessChap(new Dictionary<string, string> { ["CHAP_A"] = "5" }, new List<byte>()), Is.EqualTo(ChapStep.Failed));
    }

    [Test]
    public void Satisfied_only_for_the_very_credentials_it_was_bound_to()
    {
        // Equal-looking credentials of another session (same user and secret) are a different decision.
        var a = new LoginAuthentication(Secret, null);
        Assert.That(a.ChooseMethod("CHAP", new List<byte>()), Is.True);
        var challenge = new List<byte>();
        Assert.That(a.ProcessChap(new Dictionary<string, string> { ["CHAP_A"] = "5" }, challenge), Is.EqualTo(ChapStep.Continue));
        var pairs = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(challenge.ToArray(), pairs, out _), Is.True);
        var keys = pairs.ToDictionary(p => p.Key, p => p.Value);
        Assert.That(TextParameters.TryParseBinary(keys["CHAP_C"], out byte[] c), Is.True);
        byte[] r = Chap.Response(ChapAlgorithm.Md5, byte.Parse(keys["CHAP_I"]), Secret.Secret, c);
        var step = a.ProcessChap(new Dictionary<string, string> { ["CHAP_N"] = "alice", ["CHAP_R"] = TextParameters.FormatHex(r) }, new List<byte>());
        Assert.That(step, Is.EqualTo(ChapStep.Authenticated));
        Assert.That(a.MayLeaveSecurityStage, Is.True);
        Assert.That(a.IsSatisfiedFor(Secret), Is.True);
        Assert.That(a.IsSatisfiedFor(new ChapCredentials("alice", "alice-secret-123")), Is.False);
        Assert.That(a.IsSatisfiedFor(null), Is.False, "authenticated for a secret is not the decision for a session without one");
        Assert.That(a.ProcessChap(new Dictionary<string, string> { ["CHAP_A"] = "5" }, new List<byte>()), Is.EqualTo(ChapStep.Failed), "no second exchange");
    }
}
