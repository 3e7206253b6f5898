using System.Security.Cryptography;
using System.Text;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Security;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>
/// The login text's framing and bounds (RFC 7143 6.1, 6.3), and the other ways into a session than a fresh
/// login: a connection joining an existing session by its TSIH, and text negotiation in full feature phase.
/// </summary>
public class LoginRobustnessProtocolTests
{
    private const string OpenTarget = "iqn.2026-01.io.storageappliance.test:open";
    private static readonly ChapCredentials TargetSecret = new(TargetFixture.InitiatorName, "target-secret-0002");

    private static (string, string)[] Leading(TestInitiator i, string target = TargetFixture.TargetName) =>
        [("InitiatorName", i.Name), ("SessionType", "Normal"), ("TargetName", target)];

    private static async Task<TargetPdu> SendTextAsync(TestInitiator i, byte[] text, LoginStage csg = LoginStage.LoginOperationalNegotiation,
        bool transit = true, bool @continue = false)
    {
        await i.SendAsync(Pdus.Login(transit, @continue, csg, LoginStage.FullFeaturePhase, i.Isid, 0, 1, i.Cid, i.CmdSN, 0, text.Length), text);
        return await i.ReceiveAsync();
    }

    // ---------------------------------------------------------------- text framing

    [Test]
    public async Task Login_text_without_its_final_nul_gets_0x0200()
    {
        // RFC 7143 6.1: "Every key=value pair, including the last or only pair in a LTDS, MUST be followed by one
        // null (0x00) delimiter." The last pair used to be accepted without it.
        var f = TargetFixture.Create();
        var i = f.Connect();
        byte[] text = TestInitiator.Text(Leading(i));
        var response = await SendTextAsync(i, text[..^1]);
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
    }

    [Test]
    public async Task Login_text_continued_with_the_C_bit_needs_its_final_nul_only_at_the_end()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        byte[] text = TestInitiator.Text(Leading(i));
        var empty = await SendTextAsync(i, text[..10], transit: false, @continue: true);
        Assert.That(empty.LoginStatus, Is.EqualTo(LoginStatus.Success));
        var final = await SendTextAsync(i, text[10..]);
        Assert.That(final.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(final.NextStage, Is.EqualTo(LoginStage.FullFeaturePhase));
    }

    [TestCase("InitiatorName")]
    [TestCase("TargetName")]
    [TestCase("SessionType")]
    [TestCase("MaxBurstLength")]
    public async Task Key_repeated_in_one_login_request_gets_0x0200(string key)
    {
        // RFC 7143 6.3: a parameter is declared or negotiated once; a repeat is answered "Login reject (initiator
        // error)", even with the same value.
        var f = TargetFixture.Create();
        var i = f.Connect();
        var keys = new List<(string, string)>(Leading(i)) { ("MaxBurstLength", "8192") };
        keys.Add(keys.First(k => k.Item1 == key));
        var response = await SendTextAsync(i, TestInitiator.Text(keys));
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Value_over_255_bytes_gets_0x0200()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var response = await SendTextAsync(i, TestInitiator.Text([.. Leading(i), ("InitiatorAlias", new string('a', 256))]));
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task More_than_128_keys_in_one_login_request_get_0x0200()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var keys = new List<(string, string)>(Leading(i));
        for (int k = 0; keys.Count <= 128; k++)
            keys.Add(($"X-com.example.k{k}", "1"));
        var response = await SendTextAsync(i, TestInitiator.Text(keys));
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Endless_continuation_pieces_are_cut_off()
    {
        // Each C-bit piece is answered with an empty response; without a bound a peer keeps the target answering
        // until the login timeout. 64 login requests is far above what any login needs.
        var f = TargetFixture.Create();
        var i = f.Connect();
        byte[] piece = Encoding.ASCII.GetBytes("X");
        for (int n = 1; n <= 64; n++)
        {
            var empty = await SendTextAsync(i, piece, transit: false, @continue: true);
            Assert.That(empty.LoginStatus, Is.EqualTo(LoginStatus.Success), $"piece {n}");
        }
        var cut = await SendTextAsync(i, piece, transit: false, @continue: true);
        LoginProtocolTests.AssertLoginFailure(cut, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Stage_changed_between_continuation_pieces_gets_0x0200()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        byte[] text = TestInitiator.Text(Leading(i));
        var empty = await SendTextAsync(i, text[..10], csg: LoginStage.SecurityNegotiation, transit: false, @continue: true);
        Assert.That(empty.LoginStatus, Is.EqualTo(LoginStatus.Success));
        var response = await SendTextAsync(i, text[10..], csg: LoginStage.LoginOperationalNegotiation);
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.InitiatorError);
    }

    [Test]
    public async Task Operational_request_after_the_target_held_the_security_stage_gets_0x0200()
    {
        // The target answered T=0 (CHAP not done): the login stays in the security stage, and a request in the
        // operational stage is out of order (RFC 7143 6.3), not a way around CHAP.
        var f = TargetFixture.Create(chap: TargetSecret);
        var i = f.Connect();
        var held = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true, [.. Leading(i), ("AuthMethod", "CHAP")]);
        Assert.That(held.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(held.Transit, Is.False);
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, []);
        Assert.That(response.LoginStatus, Is.AnyOf(LoginStatus.InitiatorError, LoginStatus.AuthenticationFailure));
        await i.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
    }

    // ---------------------------------------------------------------- joining a session

    /// <summary>A full CHAP login to <see cref="TargetFixture.TargetName"/>, with the unit attention consumed.</summary>
    private static async Task ChapLoginAsync(TestInitiator i)
    {
        var method = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true, [.. Leading(i), ("AuthMethod", "CHAP")]);
        Assert.That(method.Keys()["AuthMethod"], Is.EqualTo("CHAP"));
        var challenge = (await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, false, [("CHAP_A", "5")])).Keys();
        Assert.That(TextParameters.TryParseBinary(challenge["CHAP_C"], out byte[] c), Is.True);
        byte[] r = MD5.HashData([byte.Parse(challenge["CHAP_I"]), .. Encoding.UTF8.GetBytes(TargetSecret.Secret), .. c]);
        var proof = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [("CHAP_N", TargetSecret.Username), ("CHAP_R", TextParameters.FormatHex(r))]);
        Assert.That(proof.Transit, Is.True);
        var final = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, []);
        Assert.That(final.LoginStatus, Is.EqualTo(LoginStatus.Success));
        i.EnterFullFeature(final, final.Keys());
        var tur = await i.CommandAsync(Pdus.TestUnitReady(), 0);
        Assert.That(tur.Status, Is.EqualTo(0x02), "power-on unit attention");
    }

    private static TargetFixture ProtectedAndOpenTargets()
    {
        var f = TargetFixture.Create(chap: TargetSecret);
        f.AddTarget(OpenTarget);
        return f;
    }

    [Test]
    public async Task Connection_authenticated_at_another_target_cannot_take_over_a_chap_session_by_its_tsih()
    {
        // Same initiator name, ISID and CID as the victim's connection, its TSIH, but logged in (without a secret)
        // to the open target: this used to reinstate the victim's connection and leave the attacker in the
        // protected target's session. A session is joined only for the target it belongs to.
        var f = ProtectedAndOpenTargets();
        var victim = f.Connect(isid: 0x4242);
        await ChapLoginAsync(victim);
        var attacker = f.Connect(isid: 0x4242);
        var response = await attacker.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.FullFeaturePhase, true,
            [.. Leading(attacker, OpenTarget), ("AuthMethod", "None")], tsih: victim.Tsih);
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.SessionDoesNotExist);
        await attacker.ExpectClosedAsync();
        await victim.PingAsync();
        var read = await victim.CommandAsync(Pdus.Read10(0, 1), TargetFixture.BlockSize, read: true);
        Assert.That(read.Status, Is.Zero, "the victim's session is untouched");
        f.AssertNoFaults();
    }

    [Test]
    public async Task Discovery_login_cannot_join_a_normal_session_by_its_tsih()
    {
        var f = ProtectedAndOpenTargets();
        var victim = f.Connect(isid: 0x4343);
        await ChapLoginAsync(victim);
        var attacker = f.Connect(isid: 0x4343);
        var response = await attacker.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.FullFeaturePhase, true,
            [("InitiatorName", attacker.Name), ("SessionType", "Discovery"), ("AuthMethod", "None")], tsih: victim.Tsih);
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.SessionDoesNotExist);
        await attacker.ExpectClosedAsync();
        await victim.PingAsync();
    }

    [Test]
    public async Task Joining_a_chap_session_at_its_own_target_still_needs_the_secret()
    {
        var f = ProtectedAndOpenTargets();
        var victim = f.Connect(isid: 0x4444);
        await ChapLoginAsync(victim);
        var attacker = f.Connect(isid: 0x4444);
        var response = await attacker.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.FullFeaturePhase, true,
            [.. Leading(attacker), ("AuthMethod", "None")], tsih: victim.Tsih);
        LoginProtocolTests.AssertLoginFailure(response, LoginStatus.AuthenticationFailure);
        await attacker.ExpectClosedAsync();
        await victim.PingAsync();
    }

    [Test]
    public async Task Connection_reinstatement_with_the_secret_still_works()
    {
        var f = ProtectedAndOpenTargets();
        var first = f.Connect(isid: 0x4545);
        await ChapLoginAsync(first);
        var second = f.Connect(isid: 0x4545);
        var method = await second.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [.. Leading(second), ("AuthMethod", "CHAP")], tsih: first.Tsih);
        Assert.That(method.Keys()["AuthMethod"], Is.EqualTo("CHAP"));
        var challenge = (await second.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, false, [("CHAP_A", "5")], tsih: first.Tsih)).Keys();
        Assert.That(TextParameters.TryParseBinary(challenge["CHAP_C"], out byte[] c), Is.True);
        byte[] r = MD5.HashData([byte.Parse(challenge["CHAP_I"]), .. Encoding.UTF8.GetBytes(TargetSecret.Secret), .. c]);
        await second.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [("CHAP_N", TargetSecret.Username), ("CHAP_R", TextParameters.FormatHex(r))], tsih: first.Tsih);
        var final = await second.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, [], tsih: first.Tsih);
        Assert.That(final.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(final.Tsih, Is.EqualTo(first.Tsih));
        await first.ExpectClosedAsync();
    }

    // ---------------------------------------------------------------- full feature phase

    [Test]
    public async Task Text_request_cannot_redeclare_or_reauthenticate_the_session()
    {
        // RFC 7143 13.4/13.5 (IO), 13.21 (LO), 12.1: these belong to the login. Each is answered Reject and
        // changes nothing: the session still reads its LUN and still names its own target.
        var f = ProtectedAndOpenTargets();
        var i = f.Connect();
        await ChapLoginAsync(i);
        var response = await i.TextAsync(("SessionType", "Discovery"), ("TargetName", OpenTarget), ("InitiatorName", "iqn.1994-05.com.example:other"),
            ("AuthMethod", "None"), ("CHAP_A", "5"));
        var keys = response.Keys();
        foreach (var key in new[] { "SessionType", "TargetName", "InitiatorName", "AuthMethod", "CHAP_A" })
            Assert.That(keys[key], Is.EqualTo("Reject"), key);
        var read = await i.CommandAsync(Pdus.Read10(0, 1), TargetFixture.BlockSize, read: true);
        Assert.That(read.Status, Is.Zero);
        var own = (await i.TextAsync(("SendTargets", ""))).Pairs().Where(p => p.Key == "TargetName").Select(p => p.Value);
        Assert.That(own, Is.EqualTo(new[] { TargetFixture.TargetName }));
        f.AssertNoFaults();
    }

    [Test]
    public async Task Text_request_with_a_repeated_key_is_rejected()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        byte[] text = TestInitiator.Text([("X-com.example.a", "1"), ("X-com.example.a", "1")]);
        await i.SendAsync(Pdus.Text(i.NextItt(), BasicHeaderSegment.ReservedTag, i.CmdSN, i.ExpStatSN, text.Length), text);
        var pdu = await i.ReceiveAsync();
        Assert.That(pdu.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        await i.PingAsync();
    }
}
