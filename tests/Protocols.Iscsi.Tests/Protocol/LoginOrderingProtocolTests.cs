using System.Security.Cryptography;
using System.Text;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Security;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>
/// Every placement of the keys that declare a session (InitiatorName, SessionType, TargetName; RFC 7143 13.4,
/// 13.5, 13.21) and of AuthMethod across one to three login requests, in every split of those requests between
/// the security stage (CSG=0) and the operational stage (CSG=1), with AuthMethod=None or CHAP answered with the
/// discovery secret or the target's secret, against a CHAP-protected target with and without discovery CHAP and
/// against a target without CHAP. A login that started as a discovery session and later named a protected
/// target used to reach full feature phase on it without its secret (issue 13).
/// </summary>
/// <remarks>
/// The initiator here adapts as a real one does: when a response agrees AuthMethod=CHAP it runs the CHAP
/// exchange (CHAP_A, then CHAP_N/CHAP_R computed with the scenario's secret, carrying the transit the request
/// that offered AuthMethod asked for) before its next scheduled request. Whatever the outcome, the test then
/// tries a READ: only a normal session on the target may answer it.
/// </remarks>
public class LoginOrderingProtocolTests
{
    private static readonly ChapCredentials TargetSecret = new(TargetFixture.InitiatorName, "target-secret-0001");
    private static readonly ChapCredentials DiscoverySecret = new("discovery-user", "discovery-secret-01");

    private enum Item
    {
        InitiatorName,
        SessionTypeDiscovery,
        SessionTypeNormal,
        TargetName,
        AuthMethod,
    }

    /// <summary>What the initiator authenticates with: AuthMethod=None, or CHAP answered with one of the secrets.</summary>
    public enum Proof
    {
        None,
        ChapWithDiscoverySecret,
        ChapWithTargetSecret,
    }

    public enum Outcome
    {
        /// <summary>A login response with a failure status, or the connection closed.</summary>
        Refused,

        /// <summary>The scheduled requests ran out before full feature phase (the target held the login back).</summary>
        Unfinished,

        /// <summary>Full feature phase, and a READ was rejected: a discovery session.</summary>
        DiscoverySession,

        /// <summary>Full feature phase, and a READ was answered by the target's LUN.</summary>
        OnTarget,
    }

    private sealed record Step(LoginStage Csg, bool Transit, LoginStage Nsg, List<(string Key, string Value)> Keys);

    private sealed record Scenario(List<Step> Steps, Proof Proof, string Description);

    // ---------------------------------------------------------------- generation

    /// <summary>Every map of <paramref name="items"/> items onto <paramref name="pdus"/> requests that leaves no request empty.</summary>
    private static IEnumerable<int[]> Placements(int items, int pdus)
    {
        int total = (int)Math.Pow(pdus, items);
        for (int code = 0; code < total; code++)
        {
            var placement = new int[items];
            int c = code;
            for (int i = 0; i < items; i++)
            {
                placement[i] = c % pdus;
                c /= pdus;
            }
            bool everyPduUsed = true;
            for (int p = 0; p < pdus && everyPduUsed; p++)
                everyPduUsed = Array.IndexOf(placement, p) >= 0;
            if (everyPduUsed)
                yield return placement;
        }
    }

    private static (string, string) KeyOf(Item item, Proof proof) => item switch
    {
        Item.InitiatorName => ("InitiatorName", TargetFixture.InitiatorName),
        Item.SessionTypeDiscovery => ("SessionType", "Discovery"),
        Item.SessionTypeNormal => ("SessionType", "Normal"),
        Item.TargetName => ("TargetName", TargetFixture.TargetName),
        _ => ("AuthMethod", proof == Proof.None ? "None" : "CHAP"),
    };

    /// <summary>
    /// All scenarios over <paramref name="items"/>: each placement over 1..3 requests, each number of leading
    /// requests in the security stage (0..n), each proof. With <paramref name="echo"/> the requests after the first
    /// also repeat the declarations the first one made (as libiscsi does in the operational stage).
    /// </summary>
    private static IEnumerable<Scenario> Scenarios(Item[] items, Proof[] proofs, bool echo)
    {
        foreach (var proof in proofs)
        {
            for (int n = 1; n <= 3; n++)
            {
                foreach (var placement in Placements(items.Length, n))
                {
                    for (int security = 0; security <= n; security++)
                    {
                        var steps = new List<Step>();
                        var text = new StringBuilder();
                        for (int p = 0; p < n; p++)
                        {
                            var keys = new List<(string, string)>();
                            for (int i = 0; i < items.Length; i++)
                                if (placement[i] == p)
                                    keys.Add(KeyOf(items[i], proof));
                            if (echo && p > 0)
                            {
                                for (int i = 0; i < items.Length; i++)
                                {
                                    var key = KeyOf(items[i], proof);
                                    if (placement[i] == 0 && items[i] != Item.AuthMethod && !keys.Contains(key))
                                        keys.Add(key);
                                }
                            }
                            var csg = p < security ? LoginStage.SecurityNegotiation : LoginStage.LoginOperationalNegotiation;
                            bool last = p == n - 1;
                            bool endOfSecurity = p == security - 1;
                            bool transit = last || endOfSecurity;
                            var nsg = last ? LoginStage.FullFeaturePhase : LoginStage.LoginOperationalNegotiation;
                            steps.Add(new Step(csg, transit, nsg, keys));
                            text.Append($"[CSG={(int)csg}{(transit ? $" T NSG={(int)nsg}" : "")}: {string.Join(" ", keys.Select(k => $"{k.Item1}={k.Item2}"))}] ");
                        }
                        yield return new Scenario(steps, proof, $"{text}proof={proof}");
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- the initiator

    private static async Task<TargetPdu?> LoginRequestAsync(TestInitiator i, LoginStage csg, bool transit, LoginStage nsg, IEnumerable<(string, string)> keys)
    {
        byte[] text = TestInitiator.Text(keys);
        await i.SendAsync(Pdus.Login(transit, false, csg, nsg, i.Isid, 0, 0x5151, i.Cid, i.CmdSN, i.ExpStatSN, text.Length), text);
        var response = await i.ReceiveOrClosedAsync();
        if (response is null)
            return null;
        Assert.That(response.Opcode, Is.EqualTo(IscsiOpcode.LoginResponse), $"got {response}");
        return response.LoginStatus == LoginStatus.Success ? response : null;
    }

    private static async Task<Outcome> RunAsync(TargetFixture f, Scenario scenario)
    {
        var i = f.Connect();
        try
        {
            foreach (var step in scenario.Steps)
            {
                var response = await LoginRequestAsync(i, step.Csg, step.Transit, step.Nsg, step.Keys);
                if (response is null)
                    return Outcome.Refused;
                if (step.Csg == LoginStage.SecurityNegotiation && response.Keys().TryGetValue("AuthMethod", out var method) && method == "CHAP")
                {
                    var challenge = await LoginRequestAsync(i, LoginStage.SecurityNegotiation, false, LoginStage.LoginOperationalNegotiation, [("CHAP_A", "5")]);
                    if (challenge is null)
                        return Outcome.Refused;
                    var keys = challenge.Keys();
                    if (!keys.TryGetValue("CHAP_I", out var id) || !keys.TryGetValue("CHAP_C", out var c) || !TextParameters.TryParseBinary(c, out byte[] cBytes))
                        return Outcome.Refused;
                    var creds = scenario.Proof == Proof.ChapWithTargetSecret ? TargetSecret : DiscoverySecret;
                    byte[] r = MD5.HashData([byte.Parse(id), .. Encoding.UTF8.GetBytes(creds.Secret), .. cBytes]);
                    response = await LoginRequestAsync(i, LoginStage.SecurityNegotiation, step.Transit, step.Nsg,
                        [("CHAP_N", creds.Username), ("CHAP_R", TextParameters.FormatHex(r))]);
                    if (response is null)
                        return Outcome.Refused;
                }
                if (response.Transit && response.NextStage == LoginStage.FullFeaturePhase)
                {
                    i.EnterFullFeature(response, response.Keys());
                    return await ProbeAsync(i);
                }
            }
            return Outcome.Unfinished;
        }
        finally
        {
            i.CloseOutput();
            await Task.WhenAny(i.Connection, Task.Delay(TestInitiator.ReadTimeout));
        }
    }

    /// <summary>A READ of block 0: a discovery session rejects it; a normal session's LUN answers it.</summary>
    private static async Task<Outcome> ProbeAsync(TestInitiator i)
    {
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Read10(0, 1), itt, TargetFixture.BlockSize, i.CmdSN, i.ExpStatSN, read: true, write: false));
        var pdu = await i.ReceiveAsync();
        return pdu.Opcode == IscsiOpcode.Reject ? Outcome.DiscoverySession : Outcome.OnTarget;
    }

    private static async Task<List<string>> RunAllAsync(TargetFixture f, IEnumerable<Scenario> scenarios, Func<Scenario, Outcome, string?> check)
    {
        var failures = new List<string>();
        int count = 0;
        foreach (var scenario in scenarios)
        {
            count++;
            Outcome outcome;
            try
            {
                outcome = await RunAsync(f, scenario);
            }
            catch (Exception e)
            {
                // A target that misbehaves mid-login (an unexpected PDU, a hang) fails the scenario, named.
                failures.Add($"{scenario.Description} -> {e.GetType().Name}: {e.Message}");
                continue;
            }
            if (check(scenario, outcome) is { } failure)
                failures.Add($"{scenario.Description} -> {outcome}: {failure}");
        }
        Assert.That(count, Is.GreaterThan(0));
        TestContext.Out.WriteLine($"{count} scenarios, {failures.Count} failures");
        return failures;
    }

    private static void AssertNone(List<string> failures) =>
        Assert.That(failures, Is.Empty, () => $"{failures.Count} scenarios failed; the first ones:\n" + string.Join("\n", failures.Take(15)));

    /// <summary>The security property, for any scenario: the protected target is reached only with its own secret.</summary>
    private static string? NeverOnTargetWithoutItsSecret(Scenario s, Outcome o) =>
        o == Outcome.OnTarget && s.Proof != Proof.ChapWithTargetSecret ? "reached the CHAP-protected target without its secret" : null;

    // ---------------------------------------------------------------- the attack: the session type changes

    /// <summary>
    /// Both SessionType=Discovery and SessionType=Normal appear, in every order and placement, with the target
    /// and initiator names and AuthMethod anywhere. The session type always changes within the login (or is
    /// repeated in one request), so no such login may reach full feature phase at all, and in particular none may
    /// reach the protected target: on the old code dozens did, with AuthMethod=None or the discovery secret.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    public async Task No_ordering_that_changes_the_session_type_reaches_full_feature_phase(bool discoveryChap)
    {
        var f = TargetFixture.Create(chap: TargetSecret, discoveryChap: discoveryChap ? DiscoverySecret : null);
        Item[] items = [Item.InitiatorName, Item.SessionTypeDiscovery, Item.SessionTypeNormal, Item.TargetName, Item.AuthMethod];
        var failures = await RunAllAsync(f, Scenarios(items, Enum.GetValues<Proof>(), echo: false), (s, o) =>
            NeverOnTargetWithoutItsSecret(s, o)
            ?? (o is Outcome.OnTarget or Outcome.DiscoverySession ? "a login whose SessionType changed reached full feature phase" : null));
        AssertNone(failures);
        Assert.That(f.Server.SessionCount, Is.Zero);
        f.AssertNoFaults();
    }

    // ---------------------------------------------------------------- normal sessions: one session type

    /// <summary>
    /// A normal session (SessionType=Normal or left to its default) with InitiatorName, TargetName and AuthMethod in
    /// every placement. RFC 7143 13.4/13.5: both names belong in the first request; AuthMethod in the security
    /// stage; the target with CHAP requires it with its own secret (and so the security stage), the target without
    /// CHAP accepts None or no AuthMethod at all. Exactly those logins reach the target, every one of them does,
    /// whether or not later requests repeat the declarations.
    /// </summary>
    [TestCase(true, false, true)]
    [TestCase(true, true, true)]
    [TestCase(true, false, false)]
    [TestCase(false, false, true)]
    [TestCase(false, false, false)]
    public async Task Normal_session_orderings_reach_the_target_exactly_when_they_should(bool targetChap, bool echo, bool sendSessionType)
    {
        var f = TargetFixture.Create(chap: targetChap ? TargetSecret : null, discoveryChap: DiscoverySecret);
        Item[] items = sendSessionType
            ? [Item.InitiatorName, Item.SessionTypeNormal, Item.TargetName, Item.AuthMethod]
            : [Item.InitiatorName, Item.TargetName, Item.AuthMethod];
        int reached = 0;
        var failures = await RunAllAsync(f, Scenarios(items, Enum.GetValues<Proof>(), echo), (s, o) =>
        {
            if (targetChap && NeverOnTargetWithoutItsSecret(s, o) is { } breach)
                return breach;
            bool expected = ShouldReachTarget(s, targetChap);
            if (o == Outcome.OnTarget)
                reached++;
            if (expected && o != Outcome.OnTarget)
                return "a conforming login did not reach the target";
            if (!expected && o is Outcome.OnTarget or Outcome.DiscoverySession)
                return "a login that breaks RFC 7143 reached full feature phase";
            return null;
        });
        AssertNone(failures);
        Assert.That(reached, Is.GreaterThan(0));
        f.AssertNoFaults();
    }

    /// <summary>The reference: which normal-session scenarios conform (and authenticate as the target requires).</summary>
    private static bool ShouldReachTarget(Scenario s, bool targetChap)
    {
        var first = s.Steps[0].Keys;
        if (!first.Any(k => k.Key == "InitiatorName") || !first.Any(k => k.Key == "TargetName"))
            return false; // RFC 7143 13.4, 13.5: both in the first login request
        int at = s.Steps.FindIndex(st => st.Keys.Any(k => k.Key == "AuthMethod"));
        if (at >= 0 && s.Steps[at].Csg != LoginStage.SecurityNegotiation)
            return false; // AuthMethod outside the security stage
        if (targetChap)
            return at >= 0 && s.Proof == Proof.ChapWithTargetSecret;
        return at < 0 || s.Proof == Proof.None;
    }

    // ---------------------------------------------------------------- discovery sessions

    /// <summary>
    /// Discovery sessions with InitiatorName, SessionType=Discovery and AuthMethod in every placement: they reach
    /// a discovery session (never the target) exactly when SessionType=Discovery and InitiatorName come first and
    /// the discovery secret is used where discovery CHAP is configured.
    /// </summary>
    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(true, true)]
    public async Task Discovery_session_orderings_never_reach_the_target(bool discoveryChap, bool echo)
    {
        var f = TargetFixture.Create(chap: TargetSecret, discoveryChap: discoveryChap ? DiscoverySecret : null);
        Item[] items = [Item.InitiatorName, Item.SessionTypeDiscovery, Item.AuthMethod];
        int discovered = 0;
        var failures = await RunAllAsync(f, Scenarios(items, Enum.GetValues<Proof>(), echo), (s, o) =>
        {
            if (o == Outcome.OnTarget)
                return "a discovery login reached the target";
            var first = s.Steps[0].Keys;
            int at = s.Steps.FindIndex(st => st.Keys.Any(k => k.Key == "AuthMethod"));
            bool conforming = first.Any(k => k.Key == "InitiatorName") && first.Contains(("SessionType", "Discovery"))
                && s.Steps[at].Csg == LoginStage.SecurityNegotiation
                && s.Proof == (discoveryChap ? Proof.ChapWithDiscoverySecret : Proof.None);
            if (o == Outcome.DiscoverySession)
                discovered++;
            if (conforming && o != Outcome.DiscoverySession)
                return "a conforming discovery login failed";
            if (!conforming && o == Outcome.DiscoverySession)
                return "a login that breaks RFC 7143 or skips discovery CHAP reached full feature phase";
            return null;
        });
        AssertNone(failures);
        Assert.That(discovered, Is.GreaterThan(0));
        f.AssertNoFaults();
    }

    // ---------------------------------------------------------------- the issue's sequences, spelled out

    [TestCase(LoginStage.SecurityNegotiation)]
    [TestCase(LoginStage.LoginOperationalNegotiation)]
    public async Task Discovery_with_AuthMethod_None_then_Normal_and_a_protected_target_is_refused(LoginStage secondStage)
    {
        var f = TargetFixture.Create(chap: TargetSecret);
        var i = f.Connect();
        var first = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation,
            secondStage == LoginStage.LoginOperationalNegotiation,
            [("InitiatorName", i.Name), ("SessionType", "Discovery"), ("AuthMethod", "None")]);
        Assert.That(first.LoginStatus, Is.EqualTo(LoginStatus.Success));
        var second = await i.LoginStepAsync(secondStage, LoginStage.FullFeaturePhase, true,
            [("SessionType", "Normal"), ("TargetName", TargetFixture.TargetName)]);
        LoginProtocolTests.AssertLoginFailure(second, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
    }

    [Test]
    public async Task Discovery_chap_then_Normal_and_a_protected_target_is_refused()
    {
        var f = TargetFixture.Create(chap: TargetSecret, discoveryChap: DiscoverySecret);
        var scenario = new Scenario(
        [
            new Step(LoginStage.SecurityNegotiation, true, LoginStage.LoginOperationalNegotiation,
                [("InitiatorName", TargetFixture.InitiatorName), ("SessionType", "Discovery"), ("AuthMethod", "CHAP")]),
            new Step(LoginStage.LoginOperationalNegotiation, true, LoginStage.FullFeaturePhase,
                [("SessionType", "Normal"), ("TargetName", TargetFixture.TargetName)]),
        ], Proof.ChapWithDiscoverySecret, "discovery CHAP, then Normal");
        Assert.That(await RunAsync(f, scenario), Is.EqualTo(Outcome.Refused));
        Assert.That(f.Server.SessionCount, Is.Zero);
    }

    [Test]
    public async Task TargetName_first_declared_after_chap_is_refused()
    {
        // A discovery login that never named a target cannot name one once authenticated (RFC 7143 13.4: in the
        // first login request or not at all).
        var f = TargetFixture.Create(chap: TargetSecret, discoveryChap: DiscoverySecret);
        var scenario = new Scenario(
        [
            new Step(LoginStage.SecurityNegotiation, true, LoginStage.LoginOperationalNegotiation,
                [("InitiatorName", TargetFixture.InitiatorName), ("SessionType", "Discovery"), ("AuthMethod", "CHAP")]),
            new Step(LoginStage.LoginOperationalNegotiation, true, LoginStage.FullFeaturePhase,
                [("TargetName", TargetFixture.TargetName)]),
        ], Proof.ChapWithDiscoverySecret, "discovery CHAP, then a TargetName");
        Assert.That(await RunAsync(f, scenario), Is.EqualTo(Outcome.Refused));
    }

    [Test]
    public async Task Chap_for_one_target_does_not_open_another()
    {
        // Authenticated at the open target, then naming the protected one: a changed TargetName.
        var f = TargetFixture.Create(chap: TargetSecret);
        f.AddTarget("iqn.2026-01.io.storageappliance.test:open");
        var i = f.Connect();
        var first = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [("InitiatorName", i.Name), ("TargetName", "iqn.2026-01.io.storageappliance.test:open"), ("AuthMethod", "None")]);
        Assert.That(first.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(first.Transit, Is.True);
        var second = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true,
            [("TargetName", TargetFixture.TargetName)]);
        LoginProtocolTests.AssertLoginFailure(second, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Declarations_changed_inside_a_continued_leading_text_are_refused()
    {
        // The leading text split with the C bit is one request: a repeated key in it is an initiator error.
        var f = TargetFixture.Create(chap: TargetSecret);
        var i = f.Connect();
        byte[] text = TestInitiator.Text([("InitiatorName", i.Name), ("SessionType", "Discovery"), ("AuthMethod", "None"),
            ("SessionType", "Normal"), ("TargetName", TargetFixture.TargetName)]);
        int cut = 40;
        await i.SendAsync(Pdus.Login(false, true, LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, i.Isid, 0, 1, i.Cid, i.CmdSN, 0, cut), text.AsMemory(0, cut));
        var empty = await i.ReceiveAsync();
        Assert.That(empty.LoginStatus, Is.EqualTo(LoginStatus.Success));
        await i.SendAsync(Pdus.Login(true, false, LoginStage.SecurityNegotiation, LoginStage.FullFeaturePhase, i.Isid, 0, 1, i.Cid, i.CmdSN, 0, text.Length - cut), text.AsMemory(cut));
        LoginProtocolTests.AssertLoginFailure(await i.ReceiveAsync(), LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Chap_keys_after_chap_completed_are_refused()
    {
        var f = TargetFixture.Create(chap: TargetSecret);
        var scenario = new Scenario(
        [
            new Step(LoginStage.SecurityNegotiation, false, LoginStage.LoginOperationalNegotiation,
                [("InitiatorName", TargetFixture.InitiatorName), ("TargetName", TargetFixture.TargetName), ("AuthMethod", "CHAP")]),
            new Step(LoginStage.SecurityNegotiation, true, LoginStage.FullFeaturePhase, [("CHAP_A", "5")]),
        ], Proof.ChapWithTargetSecret, "CHAP, then CHAP_A again");
        Assert.That(await RunAsync(f, scenario), Is.EqualTo(Outcome.Refused));
    }

    [Test]
    public async Task AuthMethod_renegotiated_is_refused()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var first = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, false,
            [("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName), ("AuthMethod", "None")]);
        Assert.That(first.LoginStatus, Is.EqualTo(LoginStatus.Success));
        var again = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true, [("AuthMethod", "None")]);
        LoginProtocolTests.AssertLoginFailure(again, LoginStatus.InitiatorError);
    }
}
