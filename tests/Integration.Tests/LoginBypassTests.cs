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
        params (string Key, string Value)[] keys)
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
        return (BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(36)), (header[1] & 0x80) != 0, header[1] & 3, answered);
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
        byte id = byte.Parse(challenge.Keys["CHAP_I"]);
        byte[] c = Convert.FromHexString(challenge.Keys["CHAP_C"][2..]);
        byte[] r = MD5.HashData([id, .. Encoding.UTF8.GetBytes(DiscoverySecret), .. c]);
        var proof = Login(raw, 0, transitToOperational, 1, ("CHAP_N", "disco"), ("CHAP_R", "0x" + Convert.ToHexStringLower(r)));
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
