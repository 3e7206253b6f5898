using System.Security.Cryptography;
using System.Text;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Security;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>CHAP in the security negotiation stage (RFC 7143 12.1.3), end to end.</summary>
public class ChapLoginProtocolTests
{
    private static readonly ChapCredentials InitiatorCredentials = new(TargetFixture.InitiatorName, "initiator-secret-16");
    private static readonly ChapCredentials TargetCredentials = new(TargetFixture.TargetName, "target-secret-123");

    private static (string, string)[] Leading(TestInitiator i) =>
        [("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName), ("SessionType", "Normal")];

    private static byte[] Sha256(byte id, string secret, byte[] challenge) => SHA256.HashData([id, .. Encoding.UTF8.GetBytes(secret), .. challenge]);

    /// <summary>
    /// Security stage up to the challenge, as initiators do it: InitiatorName, TargetName and AuthMethod in the
    /// leading PDU, then CHAP_A. With <paramref name="splitAuthMethod"/> the target is named in a PDU of its own
    /// and AuthMethod follows in the next. Returns CHAP_I and CHAP_C.
    /// </summary>
    private static async Task<(byte Id, byte[] Challenge)> ChallengeAsync(TestInitiator i, bool splitAuthMethod = false)
    {
        TargetPdu method;
        if (splitAuthMethod)
        {
            var hello = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, false, Leading(i));
            Assert.That(hello.LoginStatus, Is.EqualTo(LoginStatus.Success));
            Assert.That(hello.Transit, Is.False);
            method = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, false, [("AuthMethod", "CHAP,None")]);
        }
        else
        {
            method = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true, [.. Leading(i), ("AuthMethod", "CHAP,None")]);
            Assert.That(method.Transit, Is.False, "no transit before CHAP completes");
        }
        Assert.That(method.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(method.Keys()["AuthMethod"], Is.EqualTo("CHAP"));
        var challenge = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, false, [("CHAP_A", "7,5")]);
        Assert.That(challenge.LoginStatus, Is.EqualTo(LoginStatus.Success));
        var keys = challenge.Keys();
        Assert.That(keys["CHAP_A"], Is.EqualTo("7"), "the first algorithm offered that the target supports");
        Assert.That(TextParameters.TryParseBinary(keys["CHAP_C"], out byte[] c), Is.True);
        return (byte.Parse(keys["CHAP_I"]), c);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Right_secret_logs_in(bool splitAuthMethod)
    {
        var f = TargetFixture.Create(chap: InitiatorCredentials);
        var i = f.Connect();
        var (id, challenge) = await ChallengeAsync(i, splitAuthMethod);
        var proof = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [("CHAP_N", InitiatorCredentials.Username), ("CHAP_R", TextParameters.FormatHex(Sha256(id, InitiatorCredentials.Secret, challenge)))]);
        Assert.That(proof.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(proof.Transit, Is.True);
        Assert.That(proof.NextStage, Is.EqualTo(LoginStage.LoginOperationalNegotiation));
        Assert.That(proof.Keys(), Does.Not.ContainKey("CHAP_R"), "one-way CHAP");

        var final = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, []);
        Assert.That(final.LoginStatus, Is.EqualTo(LoginStatus.Success));
        i.EnterFullFeature(final, final.Keys());
        await i.PingAsync();
    }

    [Test]
    public async Task Wrong_secret_gets_0x0201_and_the_connection_closes()
    {
        var f = TargetFixture.Create(chap: InitiatorCredentials);
        var i = f.Connect();
        var (id, challenge) = await ChallengeAsync(i);
        var proof = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [("CHAP_N", InitiatorCredentials.Username), ("CHAP_R", TextParameters.FormatHex(Sha256(id, "guessed-secret-00", challenge)))]);
        LoginProtocolTests.AssertLoginFailure(proof, LoginStatus.AuthenticationFailure);
        await i.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
    }

    [Test]
    public async Task Mutual_chap_target_proves_itself()
    {
        var f = TargetFixture.Create(chap: InitiatorCredentials, mutualChap: TargetCredentials);
        var i = f.Connect();
        var (id, challenge) = await ChallengeAsync(i);
        byte[] challenge2 = RandomNumberGenerator.GetBytes(16);
        var proof = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
        [
            ("CHAP_N", InitiatorCredentials.Username),
            ("CHAP_R", TextParameters.FormatHex(Sha256(id, InitiatorCredentials.Secret, challenge))),
            ("CHAP_I", "201"),
            ("CHAP_C", TextParameters.FormatHex(challenge2)),
        ]);
        Assert.That(proof.LoginStatus, Is.EqualTo(LoginStatus.Success));
        var keys = proof.Keys();
        Assert.That(keys["CHAP_N"], Is.EqualTo(TargetCredentials.Username));
        Assert.That(TextParameters.TryParseBinary(keys["CHAP_R"], out byte[] r2), Is.True);
        Assert.That(r2, Is.EqualTo(Sha256(201, TargetCredentials.Secret, challenge2)));
    }

    [Test]
    public async Task Skipping_the_security_stage_of_a_chap_target_gets_0x0201()
    {
        var f = TargetFixture.Create(chap: InitiatorCredentials);
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, Leading(i));
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.AuthenticationFailure);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task AuthMethod_None_offered_to_a_chap_target_after_naming_it_gets_0x0201()
    {
        var f = TargetFixture.Create(chap: InitiatorCredentials);
        var i = f.Connect();
        await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, false, Leading(i));
        var response = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true, [("AuthMethod", "None")]);
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.AuthenticationFailure);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task AuthMethod_None_in_the_leading_login_pdu_does_not_bypass_chap()
    {
        // Regression (fixed in 94b6df8): AuthMethod was answered before TargetName was resolved, so a target
        // that requires CHAP accepted None from a leading PDU that named it.
        var f = TargetFixture.Create(chap: InitiatorCredentials);
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [.. Leading(i), ("AuthMethod", "None")]);
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.AuthenticationFailure);
        await i.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
    }
}
