using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// Issue 13: a login that started as a discovery session (AuthMethod=None, or CHAP with the discovery secret)
/// and then sent SessionType=Normal and the name of a CHAP-protected target reached full feature phase on it
/// and could READ and WRITE its LUNs. Against the real appliance, over a raw socket: each such login is refused
/// with an initiator error and the connection closes before any READ; libiscsi's iscsi-ls and iscsi-inq with
/// the right secrets still work.
/// </summary>
[TestFixture(false)]
[TestFixture(true)]
[NonParallelizable]
public sealed class LoginBypassTests
{
    private const string Initiator = "iqn.2026-11.test:mallory";
    private const string TargetSecret = "alice-secret-123";
    private const string DiscoverySecret = "disco-secret-5678";
    private readonly bool _discoveryChap;
    private ApplianceProcess _appliance = null!;

    public LoginBypassTests(bool discoveryChap) => _discoveryChap = discoveryChap;

    [OneTimeSetUp]
    public void Start() => _appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB",
        targetExtra: "    auth:\n      chap: {username: alice, secret: " + TargetSecret + "}",
        iscsiExtra: _discoveryChap ? "  discovery_auth:\n    chap: {username: disco, secret: " + DiscoverySecret + "}" : null));

    [OneTimeTearDown]
    public void Stop() => _appliance.Dispose();

    /// <summary>One login request (immediate, ITT fixed, CmdSN 0) and its response's status and text.</summary>
    private static (ushort Status, bool Transit, int Nsg, Dictionary<string, string> Keys) Login(RawInitiator raw, int csg, bool transit, int nsg,
        params (string Key, string Value)[] keys) => Login(raw, 0, csg, transit, nsg, keys).Response;

    /// <summary>One login request with a TSIH (0 for a new session); also returns the TSIH the response carries.</summary>
    private static ((ushort Status, bool Transit, int Nsg, Dictionary<string, string> Keys) Response, ushort Tsih) Login(RawInitiator raw, ushort tsih,
        int csg, bool transit, int nsg, params (string Key, string Value)[] keys)
    {
        var text = new StringBuilder();
        foreach (var (k, v) in keys)
            text.Append(k).Append('=').Append(v).Append('\0');
        byte[] data = Encoding.ASCII.GetBytes(text.ToString());
        var bhs = new byte[48];
        bhs[0] = 0x43; // I + Login Request
        bhs[1] = (byte)((transit ? 0x80 : 0) | (csg << 2) | (transit ? nsg : 0));
        RawInitiator.SetLength(bhs, data.Length);
        bhs[8] = 0x40; // ISID type "random"
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(9), 0x00131313);
        BinaryPrimitives.WriteUInt16BigEndian(bhs.AsSpan(14), tsih);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), 0x1313);
        raw.Send(bhs, data, digest: false);
        var (header, body) = raw.ReceivePdu(digest: false);
        Assert.That(header[0] & 0x3f, Is.EqualTo(0x23), "a Login Response");
        var answered = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in Encoding.ASCII.GetString(body).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = item.IndexOf('=');
            answered[item[..eq]] = item[(eq + 1)..];
        }
        return ((BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(36)), (header[1] & 0x80) != 0, header[1] & 3, answered),
            BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(14)));
    }

    private static (string, string) ChapResponse(Dictionary<string, string> challenge, string secret)
    {
        byte id = byte.Parse(challenge["CHAP_I"]);
        byte[] c = Convert.FromHexString(challenge["CHAP_C"][2..]);
        return ("CHAP_R", "0x" + Convert.ToHexStringLower(MD5.HashData([id, .. Encoding.UTF8.GetBytes(secret), .. c])));
    }

    /// <summary>The discovery part: AuthMethod=None, or CHAP with the discovery secret where discovery CHAP is on.</summary>
    private void DiscoveryPart(RawInitiator raw, bool transitToOperational)
    {
        var first = Login(raw, 0, transitToOperational, 1, ("InitiatorName", Initiator), ("SessionType", "Discovery"),
            ("AuthMethod", _discoveryChap ? "CHAP" : "None"));
        Assert.That(first.Status, Is.Zero, "the discovery login itself is fine");
        if (!_discoveryChap)
            return;
        Assert.That(first.Keys["AuthMethod"], Is.EqualTo("CHAP"));
        var challenge = Login(raw, 0, false, 1, ("CHAP_A", "5"));
        Assert.That(challenge.Status, Is.Zero);
        var proof = Login(raw, 0, transitToOperational, 1, ("CHAP_N", "disco"), ChapResponse(challenge.Keys, DiscoverySecret));
        Assert.That(proof.Status, Is.Zero, "the discovery secret is right for discovery");
    }

    /// <summary>After the refusal nothing is served: the connection is closed and a READ gets no answer.</summary>
    private static void AssertNoReadPossible(RawInitiator raw)
    {
        var read = new byte[16];
        read[0] = 0x28;
        read[8] = 1;
        Assert.That(() => raw.ScsiCommandIn(read, 512), Throws.InstanceOf<IOException>().Or.InstanceOf<EndOfStreamException>(),
            "the target must not answer a READ on a refused login");
    }

    [TestCase(0)]
    [TestCase(1)]
    public void Discovery_login_then_Normal_and_the_protected_target_is_refused(int secondStage)
    {
        using var raw = new RawInitiator(_appliance.IscsiPort);
        DiscoveryPart(raw, transitToOperational: secondStage == 1);
        var bypass = Login(raw, secondStage, true, 3, ("SessionType", "Normal"), ("TargetName", ApplianceProcess.DefaultTarget));
        Assert.That(bypass.Status >> 8, Is.EqualTo(2), $"status 0x{bypass.Status:x4}: an initiator error, not a session");
        Assert.That(bypass.Transit, Is.False);
        AssertNoReadPossible(raw);
        Assert.That(_appliance.LogWhenContains("SessionType changed during login"), Does.Contain("SessionType changed during login"));
    }

    [Test]
    public void Discovery_login_then_a_TargetName_is_refused()
    {
        using var raw = new RawInitiator(_appliance.IscsiPort);
        DiscoveryPart(raw, transitToOperational: true);
        var bypass = Login(raw, 1, true, 3, ("TargetName", ApplianceProcess.DefaultTarget));
        Assert.That(bypass.Status >> 8, Is.EqualTo(2), $"status 0x{bypass.Status:x4}");
        AssertNoReadPossible(raw);
    }

    [Test]
    public void Discovery_login_with_the_tsih_of_a_chap_session_cannot_take_it_over()
    {
        // The victim logs in with the target's secret (ISID and CID as the attacker will use them). The attacker
        // then logs in as a discovery session carrying the victim's TSIH: this used to join, as a connection
        // reinstatement, the victim's session on the protected target, and serve the attacker its LUN.
        using var victim = new RawInitiator(_appliance.IscsiPort);
        var method = Login(victim, 0, true, 1, ("InitiatorName", Initiator), ("SessionType", "Normal"),
            ("TargetName", ApplianceProcess.DefaultTarget), ("AuthMethod", "CHAP"));
        Assert.That(method.Keys["AuthMethod"], Is.EqualTo("CHAP"));
        var challenge = Login(victim, 0, false, 1, ("CHAP_A", "5"));
        var proof = Login(victim, 0, true, 1, ("CHAP_N", "alice"), ChapResponse(challenge.Keys, TargetSecret));
        Assert.That(proof.Status, Is.Zero);
        var (final, tsih) = Login(victim, 0, 1, true, 3);
        Assert.That(final.Status, Is.Zero);
        Assert.That(tsih, Is.Not.Zero);

        using var attacker = new RawInitiator(_appliance.IscsiPort);
        var (first, _) = Login(attacker, tsih, 0, true, _discoveryChap ? 1 : 3,
            ("InitiatorName", Initiator), ("SessionType", "Discovery"), ("AuthMethod", _discoveryChap ? "CHAP" : "None"));
        var last = first;
        if (_discoveryChap && first.Status == 0)
        {
            var dc = Login(attacker, tsih, 0, false, 1, ("CHAP_A", "5")).Response;
            last = Login(attacker, tsih, 0, true, 3, ("CHAP_N", "disco"), ChapResponse(dc.Keys, DiscoverySecret)).Response;
        }
        Assert.That(last.Status, Is.EqualTo(0x020A), $"status 0x{last.Status:x4}: the session does not exist for a discovery login");
        AssertNoReadPossible(attacker);
        Assert.That(victim.ClearUnitAttentions(), Is.True, "the victim's connection is untouched");
    }

    [Test]
    public void Iscsi_ls_and_iscsi_inq_with_the_right_secrets_still_work()
    {
        string discoveryAuth = _discoveryChap ? "disco%" + DiscoverySecret + "@" : "";
        var ls = Client.Run("iscsi-ls", "-i", Initiator, $"iscsi://{discoveryAuth}{_appliance.Portal}");
        Assert.That(ls.ExitCode, Is.EqualTo(0), ls.All);
        Assert.That(ls.Stdout, Does.Contain(ApplianceProcess.DefaultTarget));

        var inq = Client.Run("iscsi-inq", "-i", Initiator, _appliance.Url(auth: "alice%" + TargetSecret));
        Assert.That(inq.ExitCode, Is.EqualTo(0), inq.All);
        Assert.That(inq.Stdout, Does.Contain("Vendor:STORAPPL"));

        var without = Client.Run("iscsi-inq", "-i", Initiator, _appliance.Url());
        Assert.That(without.ExitCode, Is.Not.EqualTo(0), "no secret, no LUN");
        if (_discoveryChap)
        {
            var wrongDiscovery = Client.Run("iscsi-inq", "-i", Initiator, _appliance.Url(auth: "disco%" + DiscoverySecret));
            Assert.That(wrongDiscovery.ExitCode, Is.Not.EqualTo(0), "the discovery secret does not open the target");
        }
    }
}
