using System.Security.Cryptography;
using System.Text;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Security;

namespace StorageAppliance.Protocols.Iscsi.Tests.Security;

/// <summary>CHAP arithmetic (RFC 1994 4.1) and the target's exchange (RFC 7143 12.1.3).</summary>
public class ChapTests
{
    private static readonly byte[] Challenge = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();

    // Computed outside .NET (Python hashlib) over 0x2a || "secret-of-12" || 00 01 .. 0f.
    [TestCase(ChapAlgorithm.Md5, "479ff0281a36a84b4c91706547cb2667")]
    [TestCase(ChapAlgorithm.Sha1, "14208ee4fcd5bdb43278a34e174347be6a624ad6")]
    [TestCase(ChapAlgorithm.Sha256, "2fd87d5eacba631a1c1c10f0dcefb8024713e336f8aabb55baa9491dff56cc79")]
    [TestCase(ChapAlgorithm.Sha3_256, "9cae23007a7de74f5c23dff260d2729a93334ca96133cda51f00036fe5d0fa83")]
    public void Response_is_hash_of_identifier_secret_challenge(ChapAlgorithm algorithm, string expectedHex)
    {
        if (algorithm == ChapAlgorithm.Sha3_256)
            Assume.That(SHA3_256.IsSupported, "SHA3-256 is not available from this platform's crypto library");
        byte[] response = Chap.Response(algorithm, 0x2a, "secret-of-12", Challenge);
        Assert.That(Convert.ToHexStringLower(response), Is.EqualTo(expectedHex));
        Assert.That(response, Has.Length.EqualTo(Chap.DigestLength(algorithm)));
    }

    [Test]
    public void Response_matches_md5_computed_independently()
    {
        byte[] input = [0x07, .. Encoding.UTF8.GetBytes("sécret"), .. Challenge];
        Assert.That(Chap.Response(ChapAlgorithm.Md5, 7, "sécret", Challenge), Is.EqualTo(MD5.HashData(input)));
    }

    [Test]
    public void Supported_algorithms()
    {
        Assert.That(Chap.IsSupported(ChapAlgorithm.Md5), Is.True);
        Assert.That(Chap.IsSupported(ChapAlgorithm.Sha1), Is.True);
        Assert.That(Chap.IsSupported(ChapAlgorithm.Sha256), Is.True);
        Assert.That(Chap.IsSupported(ChapAlgorithm.Sha3_256), Is.EqualTo(SHA3_256.IsSupported));
        Assert.That(Chap.IsSupported((ChapAlgorithm)0), Is.False);
        Assert.That(Chap.IsSupported((ChapAlgorithm)4), Is.False);
    }

    // ---------------------------------------------------------------- ChapAuthenticator

    private static readonly ChapCredentials Initiator = new("iqn.1994-05.com.example:h1", "initiator-secret");
    private static readonly ChapCredentials Target = new("iqn.2026-01.test:disk", "target-secret-1");

    private sealed record Challenged(ChapAlgorithm Algorithm, byte Identifier, byte[] Challenge);

    private static Dictionary<string, string> Answer(ChapAuthenticator chap, Dictionary<string, string> keys, ChapStep expected)
    {
        var response = new List<byte>();
        Assert.That(chap.Process(keys, response), Is.EqualTo(expected), chap.FailureReason);
        var pairs = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(response.ToArray(), pairs, out string? error), Is.True, error);
        return pairs.ToDictionary(p => p.Key, p => p.Value);
    }

    private static Challenged Start(ChapAuthenticator chap, string algorithms)
    {
        var answer = Answer(chap, new() { ["CHAP_A"] = algorithms }, ChapStep.Continue);
        Assert.That(answer.Keys, Is.EquivalentTo(new[] { "CHAP_A", "CHAP_I", "CHAP_C" }));
        var algorithm = (ChapAlgorithm)byte.Parse(answer["CHAP_A"]);
        Assert.That(chap.Algorithm, Is.EqualTo(algorithm));
        Assert.That(int.Parse(answer["CHAP_I"]), Is.InRange(0, 255));
        Assert.That(answer["CHAP_C"], Does.StartWith("0x"));
        Assert.That(TextParameters.TryParseBinary(answer["CHAP_C"], out byte[] challenge), Is.True);
        return new Challenged(algorithm, byte.Parse(answer["CHAP_I"]), challenge);
    }

    private static string Hex(byte[] b) => "0x" + Convert.ToHexStringLower(b);

    private static byte[] Hash(ChapAlgorithm algorithm, byte id, string secret, byte[] challenge)
    {
        byte[] input = [id, .. Encoding.UTF8.GetBytes(secret), .. challenge];
        return algorithm switch
        {
            ChapAlgorithm.Md5 => MD5.HashData(input),
            ChapAlgorithm.Sha1 => SHA1.HashData(input),
            ChapAlgorithm.Sha256 => SHA256.HashData(input),
            _ => SHA3_256.HashData(input),
        };
    }

    [TestCase("7,5", ChapAlgorithm.Sha256, 32)]
    [TestCase("5", ChapAlgorithm.Md5, 16)]
    [TestCase("5,7", ChapAlgorithm.Md5, 16)]
    [TestCase("6", ChapAlgorithm.Sha1, 20)]
    [TestCase("99,6,5", ChapAlgorithm.Sha1, 20)]
    [TestCase("x,5", ChapAlgorithm.Md5, 16)]
    public void Happy_path_picks_the_first_supported_algorithm_in_initiator_order(string offered, ChapAlgorithm expected, int challengeLength)
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, offered);
        Assert.That(c.Algorithm, Is.EqualTo(expected));
        Assert.That(c.Challenge, Has.Length.EqualTo(challengeLength), "the challenge is as long as the digest, at least 16 bytes");
        byte[] r = Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge);
        var answer = Answer(chap, new() { ["CHAP_N"] = Initiator.Username, ["CHAP_R"] = Hex(r) }, ChapStep.Authenticated);
        Assert.That(answer, Is.Empty, "one-way CHAP: the target sends nothing more");
        Assert.That(chap.FailureReason, Is.Null);
    }

    [Test]
    public void Sha3_256_is_chosen_when_offered_first_and_supported()
    {
        Assume.That(SHA3_256.IsSupported);
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "8,7");
        Assert.That(c.Algorithm, Is.EqualTo(ChapAlgorithm.Sha3_256));
        Answer(chap, new() { ["CHAP_N"] = Initiator.Username, ["CHAP_R"] = Hex(Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge)) }, ChapStep.Authenticated);
    }

    [Test]
    public void Challenges_differ_between_logins()
    {
        var a = Start(new ChapAuthenticator(Initiator, null), "5");
        var b = Start(new ChapAuthenticator(Initiator, null), "5");
        Assert.That(a.Challenge, Is.Not.EqualTo(b.Challenge));
    }

    [TestCase("3,4")]
    [TestCase("99")]
    [TestCase("")]
    [TestCase("MD5")]
    public void Unsupported_algorithm_list_is_rejected_and_fails(string offered)
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var answer = Answer(chap, new() { ["CHAP_A"] = offered }, ChapStep.Failed);
        Assert.That(answer, Is.EqualTo(new Dictionary<string, string> { ["CHAP_A"] = "Reject" }));
        Assert.That(chap.FailureReason, Does.Contain("no supported CHAP algorithm"));
    }

    [Test]
    public void Without_CHAP_A_the_exchange_waits()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        Assert.That(Answer(chap, new(), ChapStep.Continue), Is.Empty);
    }

    [Test]
    public void Wrong_secret_fails()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "5");
        byte[] r = Hash(c.Algorithm, c.Identifier, "not-the-secret", c.Challenge);
        Answer(chap, new() { ["CHAP_N"] = Initiator.Username, ["CHAP_R"] = Hex(r) }, ChapStep.Failed);
        Assert.That(chap.FailureReason, Does.Contain("wrong CHAP_R"));
    }

    [Test]
    public void Response_to_another_identifier_fails()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "5");
        byte[] r = Hash(c.Algorithm, (byte)(c.Identifier + 1), Initiator.Secret, c.Challenge);
        Answer(chap, new() { ["CHAP_N"] = Initiator.Username, ["CHAP_R"] = Hex(r) }, ChapStep.Failed);
    }

    [Test]
    public void Truncated_response_fails()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "7");
        byte[] r = Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge)[..16];
        Answer(chap, new() { ["CHAP_N"] = Initiator.Username, ["CHAP_R"] = Hex(r) }, ChapStep.Failed);
    }

    [Test]
    public void Wrong_name_fails_even_with_the_right_secret()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "5");
        byte[] r = Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge);
        Answer(chap, new() { ["CHAP_N"] = "iqn.1994-05.com.example:intruder", ["CHAP_R"] = Hex(r) }, ChapStep.Failed);
        Assert.That(chap.FailureReason, Does.Contain("not the configured user"));
    }

    [Test]
    public void Name_comparison_is_case_sensitive()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "5");
        byte[] r = Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge);
        Answer(chap, new() { ["CHAP_N"] = Initiator.Username.ToUpperInvariant(), ["CHAP_R"] = Hex(r) }, ChapStep.Failed);
    }

    [TestCase("CHAP_N")]
    [TestCase("CHAP_R")]
    public void Missing_name_or_response_fails(string missing)
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "5");
        var keys = new Dictionary<string, string>
        {
            ["CHAP_N"] = Initiator.Username,
            ["CHAP_R"] = Hex(Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge)),
        };
        keys.Remove(missing);
        Answer(chap, keys, ChapStep.Failed);
    }

    [Test]
    public void Response_that_is_not_binary_fails()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        Start(chap, "5");
        Answer(chap, new() { ["CHAP_N"] = Initiator.Username, ["CHAP_R"] = "secret" }, ChapStep.Failed);
        Assert.That(chap.FailureReason, Does.Contain("CHAP_R"));
    }

    [Test]
    public void Base64_encoded_response_is_accepted()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "7");
        byte[] r = Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge);
        Answer(chap, new() { ["CHAP_N"] = Initiator.Username, ["CHAP_R"] = "0b" + Convert.ToBase64String(r) }, ChapStep.Authenticated);
    }

    [Test]
    public void Uppercase_hex_response_is_accepted()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "5");
        byte[] r = Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge);
        Answer(chap, new() { ["CHAP_N"] = Initiator.Username, ["CHAP_R"] = "0X" + Convert.ToHexString(r) }, ChapStep.Authenticated);
    }

    [TestCase("5")]
    [TestCase("7")]
    public void Mutual_chap_answers_the_initiator_challenge(string algorithm)
    {
        var chap = new ChapAuthenticator(Initiator, Target);
        var c = Start(chap, algorithm);
        byte[] r = Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge);
        byte[] challenge2 = Enumerable.Range(100, 20).Select(i => (byte)i).ToArray();
        var answer = Answer(chap, new()
        {
            ["CHAP_N"] = Initiator.Username,
            ["CHAP_R"] = Hex(r),
            ["CHAP_I"] = "77",
            ["CHAP_C"] = Hex(challenge2),
        }, ChapStep.Authenticated);
        Assert.That(answer["CHAP_N"], Is.EqualTo(Target.Username));
        Assert.That(TextParameters.TryParseBinary(answer["CHAP_R"], out byte[] r2), Is.True);
        Assert.That(r2, Is.EqualTo(Hash(c.Algorithm, 77, Target.Secret, challenge2)));
    }

    [Test]
    public void Mutual_chap_accepts_a_base64_challenge()
    {
        var chap = new ChapAuthenticator(Initiator, Target);
        var c = Start(chap, "5");
        byte[] challenge2 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        var answer = Answer(chap, new()
        {
            ["CHAP_N"] = Initiator.Username,
            ["CHAP_R"] = Hex(Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge)),
            ["CHAP_I"] = "0",
            ["CHAP_C"] = "0b" + Convert.ToBase64String(challenge2),
        }, ChapStep.Authenticated);
        TextParameters.TryParseBinary(answer["CHAP_R"], out byte[] r2);
        Assert.That(r2, Is.EqualTo(Hash(c.Algorithm, 0, Target.Secret, challenge2)));
    }

    [Test]
    public void Mutual_chap_without_target_credentials_fails()
    {
        var chap = new ChapAuthenticator(Initiator, null);
        var c = Start(chap, "5");
        var answer = Answer(chap, new()
        {
            ["CHAP_N"] = Initiator.Username,
            ["CHAP_R"] = Hex(Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge)),
            ["CHAP_I"] = "1",
            ["CHAP_C"] = "0x00112233445566778899aabbccddeeff",
        }, ChapStep.Failed);
        Assert.That(answer, Does.Not.ContainKey("CHAP_R"), "the target must not answer a challenge it cannot answer");
        Assert.That(chap.FailureReason, Does.Contain("mutual"));
    }

    [Test]
    public void Reflected_challenge_fails()
    {
        var chap = new ChapAuthenticator(Initiator, Target);
        var c = Start(chap, "5");
        var answer = Answer(chap, new()
        {
            ["CHAP_N"] = Initiator.Username,
            ["CHAP_R"] = Hex(Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge)),
            ["CHAP_I"] = c.Identifier.ToString(),
            ["CHAP_C"] = Hex(c.Challenge),
        }, ChapStep.Failed);
        Assert.That(answer, Does.Not.ContainKey("CHAP_R"), "answering our own challenge would hand the attacker a valid response");
        Assert.That(chap.FailureReason, Does.Contain("reflection"));
    }

    [TestCase("256", "0x00112233")]
    [TestCase("abc", "0x00112233")]
    [TestCase("1", "nothex")]
    [TestCase("1", null)]
    [TestCase(null, "0x00112233")]
    public void Malformed_mutual_challenge_fails(string? identifier, string? challenge)
    {
        var chap = new ChapAuthenticator(Initiator, Target);
        var c = Start(chap, "5");
        var keys = new Dictionary<string, string>
        {
            ["CHAP_N"] = Initiator.Username,
            ["CHAP_R"] = Hex(Hash(c.Algorithm, c.Identifier, Initiator.Secret, c.Challenge)),
        };
        if (identifier is not null)
            keys["CHAP_I"] = identifier;
        if (challenge is not null)
            keys["CHAP_C"] = challenge;
        Answer(chap, keys, ChapStep.Failed);
    }
}
