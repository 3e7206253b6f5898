namespace StorageAppliance.Integration.Tests;

/// <summary>CHAP and initiator allow-lists with libiscsi as the initiator.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ChapTests
{
    private const string Allowed = "iqn.2026-11.test:allowed";
    private ApplianceProcess _appliance = null!;

    [OneTimeSetUp]
    public void Start() => _appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB", targetExtra:
        $"    allowed_initiators: [\"{Allowed}\"]\n" +
        "    auth:\n" +
        "      chap: {username: alice, secret: alice-secret-123}\n" +
        "      mutual_chap: {username: target-bob, secret: bob-secret-4567}"));

    [OneTimeTearDown]
    public void Stop() => _appliance.Dispose();

    [Test]
    public void Right_secret_logs_in()
    {
        var r = Client.Run("iscsi-inq", "-i", Allowed, _appliance.Url(auth: "alice%alice-secret-123"));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        Assert.That(r.Stdout, Does.Contain("Vendor:STORAPPL"));
    }

    [Test]
    public void Wrong_secret_is_refused()
    {
        var r = Client.Run("iscsi-inq", "-i", Allowed, _appliance.Url(auth: "alice%wrong-secret-xyz"));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(_appliance.LogWhenContains("AuthenticationFailure", "wrong CHAP_R"), Does.Contain("AuthenticationFailure").And.Contain("wrong CHAP_R"));
    }

    [Test]
    public void Wrong_user_is_refused()
    {
        var r = Client.Run("iscsi-inq", "-i", Allowed, _appliance.Url(auth: "mallory%alice-secret-123"));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(_appliance.LogWhenContains("CHAP_N 'mallory'"), Does.Contain("CHAP_N 'mallory' is not the configured user"));
    }

    [Test]
    public void No_credentials_are_refused()
    {
        var r = Client.Run("iscsi-inq", "-i", Allowed, _appliance.Url());
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
    }

    [Test]
    public void Unlisted_initiator_is_refused_even_with_the_right_secret()
    {
        var r = Client.Run("iscsi-inq", "-i", "iqn.2026-11.test:stranger", _appliance.Url(auth: "alice%alice-secret-123"));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(_appliance.LogWhenContains("AuthorizationFailure", "iqn.2026-11.test:stranger"), Does.Contain("AuthorizationFailure").And.Contain("iqn.2026-11.test:stranger"));
    }

    [Test]
    public void Mutual_chap_proves_the_target_to_the_initiator()
    {
        var ok = Client.Run("iscsi-inq", "-i", Allowed, _appliance.Url(auth: "alice%alice-secret-123", query: "target_user=target-bob&target_password=bob-secret-4567"));
        Assert.That(ok.ExitCode, Is.EqualTo(0), ok.All);

        // The initiator expects a different target secret: the target's answer does not match and the initiator refuses.
        var bad = Client.Run("iscsi-inq", "-i", Allowed, _appliance.Url(auth: "alice%alice-secret-123", query: "target_user=target-bob&target_password=not-the-secret"));
        Assert.That(bad.ExitCode, Is.Not.EqualTo(0));
        Assert.That(bad.All, Does.Contain("CHAP_R").IgnoreCase.Or.Contain("auth").IgnoreCase);
    }
}
