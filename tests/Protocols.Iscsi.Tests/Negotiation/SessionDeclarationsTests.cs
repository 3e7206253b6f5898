using StorageAppliance.Protocols.Iscsi.Negotiation;

namespace StorageAppliance.Protocols.Iscsi.Tests.Negotiation;

/// <summary>InitiatorName, SessionType and TargetName: fixed by the leading login request (RFC 7143 13.4, 13.5, 13.21).</summary>
public class SessionDeclarationsTests
{
    private const string Initiator = "iqn.1994-05.com.example:host1";
    private const string Target = "iqn.2026-01.io.storageappliance.test:disk0";

    private static List<KeyValuePair<string, string>> Pairs(params (string Key, string Value)[] keys) =>
        keys.Select(k => KeyValuePair.Create(k.Key, k.Value)).ToList();

    [Test]
    public void Leading_request_fixes_a_normal_session()
    {
        var d = new SessionDeclarations();
        Assert.That(d.Apply(Pairs(("InitiatorName", Initiator), ("TargetName", Target))), Is.EqualTo(DeclarationOutcome.Accepted));
        Assert.That(d.IsFixed, Is.True);
        Assert.That(d.SessionType, Is.EqualTo(SessionType.Normal), "RFC 7143 13.21: default is Normal");
        Assert.That(d.TargetName, Is.EqualTo(Target));
    }

    [Test]
    public void Repeating_the_same_values_later_is_accepted()
    {
        var d = new SessionDeclarations();
        d.Apply(Pairs(("InitiatorName", Initiator), ("TargetName", Target)));
        Assert.That(d.Apply(Pairs(("InitiatorName", Initiator.ToUpperInvariant()), ("SessionType", "Normal"), ("TargetName", Target))),
            Is.EqualTo(DeclarationOutcome.Accepted), "libiscsi repeats all three in the operational stage");
        Assert.That(d.Apply(Pairs(("MaxBurstLength", "8192"))), Is.EqualTo(DeclarationOutcome.Accepted));
    }

    [TestCase("SessionType", "Normal")]
    [TestCase("InitiatorName", "iqn.1994-05.com.example:other")]
    public void Changing_a_discovery_declaration_later_is_refused(string key, string value)
    {
        var d = new SessionDeclarations();
        d.Apply(Pairs(("InitiatorName", Initiator), ("SessionType", "Discovery")));
        Assert.That(d.Apply(Pairs((key, value))), Is.EqualTo(DeclarationOutcome.Changed));
        Assert.That(d.OffendingKey, Is.EqualTo(key));
        Assert.That(d.SessionType, Is.EqualTo(SessionType.Discovery), "nothing changed");
    }

    [Test]
    public void TargetName_first_named_after_the_leading_request_is_refused()
    {
        var d = new SessionDeclarations();
        d.Apply(Pairs(("InitiatorName", Initiator), ("SessionType", "Discovery")));
        Assert.That(d.Apply(Pairs(("TargetName", Target))), Is.EqualTo(DeclarationOutcome.DeclaredLate));
        Assert.That(d.TargetName, Is.Null);
    }

    [Test]
    public void Another_target_or_session_type_later_is_refused()
    {
        var d = new SessionDeclarations();
        d.Apply(Pairs(("InitiatorName", Initiator), ("TargetName", Target)));
        Assert.That(d.Apply(Pairs(("TargetName", Target + "x"))), Is.EqualTo(DeclarationOutcome.Changed));
        Assert.That(d.Apply(Pairs(("SessionType", "Discovery"))), Is.EqualTo(DeclarationOutcome.Changed), "Normal by default, then Discovery");
        Assert.That(d.TargetName, Is.EqualTo(Target));
    }

    [Test]
    public void Leading_request_must_name_initiator_and_for_a_normal_session_the_target()
    {
        Assert.That(new SessionDeclarations().Apply(Pairs(("TargetName", Target))), Is.EqualTo(DeclarationOutcome.MissingInitiatorName));
        Assert.That(new SessionDeclarations().Apply(Pairs(("InitiatorName", Initiator))), Is.EqualTo(DeclarationOutcome.MissingTargetName));
        Assert.That(new SessionDeclarations().Apply(Pairs(("InitiatorName", Initiator), ("SessionType", "Normal"))), Is.EqualTo(DeclarationOutcome.MissingTargetName));
        Assert.That(new SessionDeclarations().Apply(Pairs(("InitiatorName", "host1"), ("TargetName", Target))), Is.EqualTo(DeclarationOutcome.InvalidInitiatorName));
        Assert.That(new SessionDeclarations().Apply(Pairs(("InitiatorName", Initiator), ("SessionType", "Other"))), Is.EqualTo(DeclarationOutcome.UnknownSessionType));
        var d = new SessionDeclarations();
        d.Apply(Pairs(("TargetName", Target)));
        Assert.That(d.IsFixed, Is.False, "a refused leading request fixes nothing");
    }
}
