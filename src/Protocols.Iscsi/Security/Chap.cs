using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StorageAppliance.Protocols.Iscsi.Negotiation;

namespace StorageAppliance.Protocols.Iscsi.Security;

/// <summary>CHAP digest algorithms by their CHAP_A number (RFC 1994; IANA "PPP Authentication Algorithms").</summary>
public enum ChapAlgorithm : byte
{
    Md5 = 5,
    Sha1 = 6,
    Sha256 = 7,
    Sha3_256 = 8,
}

/// <summary>A CHAP name and secret.</summary>
public sealed record ChapCredentials(string Username, string Secret);

/// <summary>CHAP arithmetic: the response is H(identifier || secret || challenge) (RFC 1994 4.1, RFC 7143 12.1.3).</summary>
public static class Chap
{
    public static bool IsSupported(ChapAlgorithm a) => a switch
    {
        ChapAlgorithm.Md5 or ChapAlgorithm.Sha1 or ChapAlgorithm.Sha256 => true,
        ChapAlgorithm.Sha3_256 => SHA3_256.IsSupported,
        _ => false,
    };

    public static int DigestLength(ChapAlgorithm a) => a switch
    {
        ChapAlgorithm.Md5 => 16,
        ChapAlgorithm.Sha1 => 20,
        _ => 32,
    };

    public static byte[] Response(ChapAlgorithm algorithm, byte identifier, string secret, ReadOnlySpan<byte> challenge)
    {
        byte[] secretBytes = Encoding.UTF8.GetBytes(secret);
        byte[] input = new byte[1 + secretBytes.Length + challenge.Length];
        input[0] = identifier;
        secretBytes.CopyTo(input, 1);
        challenge.CopyTo(input.AsSpan(1 + secretBytes.Length));
        return algorithm switch
        {
            ChapAlgorithm.Md5 => MD5.HashData(input),
            ChapAlgorithm.Sha1 => SHA1.HashData(input),
            ChapAlgorithm.Sha256 => SHA256.HashData(input),
            ChapAlgorithm.Sha3_256 => SHA3_256.HashData(input),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        };
    }
}

/// <summary>Result of one step of the target's CHAP exchange.</summary>
public enum ChapStep : byte
{
    /// <summary>Waiting for more keys from the initiator.</summary>
    Continue,

    /// <summary>The initiator proved its identity (and ours was sent if it asked).</summary>
    Authenticated,

    /// <summary>Authentication failed; the reason says why (logged, never sent to the initiator).</summary>
    Failed,
}

/// <summary>
/// The target side of CHAP within the security negotiation stage (RFC 7143 12.1.3):
/// <code>
///   I-&gt;T  CHAP_A=&lt;A1,A2,...&gt;
///   T-&gt;I  CHAP_A=&lt;A&gt; CHAP_I=&lt;I&gt; CHAP_C=&lt;C&gt;
///   I-&gt;T  CHAP_N=&lt;N&gt; CHAP_R=&lt;R&gt;   [CHAP_I=&lt;I2&gt; CHAP_C=&lt;C2&gt; for mutual CHAP]
///   T-&gt;I  [CHAP_N=&lt;N2&gt; CHAP_R=&lt;R2&gt;]
/// </code>
/// </summary>
public sealed class ChapAuthenticator
{
    private readonly ChapCredentials _initiatorCredentials;
    private readonly ChapCredentials? _targetCredentials;
    private ChapAlgorithm _algorithm;
    private byte _identifier;
    private byte[]? _challenge;

    public ChapAuthenticator(ChapCredentials initiatorCredentials, ChapCredentials? targetCredentials)
    {
        _initiatorCredentials = initiatorCredentials;
        _targetCredentials = targetCredentials;
    }

    public string? FailureReason { get; private set; }

    public ChapAlgorithm Algorithm => _algorithm;

    /// <summary>Feeds the CHAP keys of one login request; appends the target's keys to <paramref name="response"/>.</summary>
    public ChapStep Process(IReadOnlyDictionary<string, string> keys, List<byte> response)
    {
        if (_challenge is null)
        {
            if (!keys.TryGetValue("CHAP_A", out var list))
                return ChapStep.Continue; // AuthMethod chosen; the algorithm list comes next
            foreach (var item in list.Split(','))
            {
                if (byte.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out byte a) && Chap.IsSupported((ChapAlgorithm)a))
                {
                    _algorithm = (ChapAlgorithm)a;
                    break;
                }
            }
            if (_algorithm == 0)
            {
                // RFC 7143 12.1.3: no acceptable algorithm: answer CHAP_A=Reject and fail.
                TextParameters.Append(response, "CHAP_A", "Reject");
                return Fail($"no supported CHAP algorithm in CHAP_A={list}");
            }
            _identifier = (byte)RandomNumberGenerator.GetInt32(256);
            _challenge = RandomNumberGenerator.GetBytes(Math.Max(16, Chap.DigestLength(_algorithm)));
            TextParameters.Append(response, "CHAP_A", ((byte)_algorithm).ToString(CultureInfo.InvariantCulture));
            TextParameters.Append(response, "CHAP_I", _identifier.ToString(CultureInfo.InvariantCulture));
            TextParameters.Append(response, "CHAP_C", TextParameters.FormatHex(_challenge));
            return ChapStep.Continue;
        }

        if (!keys.TryGetValue("CHAP_N", out var name) || !keys.TryGetValue("CHAP_R", out var r))
            return Fail("CHAP_N or CHAP_R missing after the challenge");
        if (!TextParameters.TryParseBinary(r, out byte[] received))
            return Fail("CHAP_R is not a hex (0x) or base64 (0b) value");
        if (!string.Equals(name, _initiatorCredentials.Username, StringComparison.Ordinal))
            return Fail($"CHAP_N '{name}' is not the configured user");
        byte[] expected = Chap.Response(_algorithm, _identifier, _initiatorCredentials.Secret, _challenge);
        if (!CryptographicOperations.FixedTimeEquals(expected, received))
            return Fail($"wrong CHAP_R for user '{name}'");

        bool mutual = keys.ContainsKey("CHAP_I") || keys.ContainsKey("CHAP_C");
        if (!mutual)
            return ChapStep.Authenticated;

        if (_targetCredentials is null)
            return Fail("the initiator asked for mutual CHAP but the target has no mutual_chap credentials");
        if (!keys.TryGetValue("CHAP_I", out var i2s) || !keys.TryGetValue("CHAP_C", out var c2s)
            || !TextParameters.TryParseNumber(i2s, out ulong i2) || i2 > 255
            || !TextParameters.TryParseBinary(c2s, out byte[] c2) || c2.Length == 0 || c2.Length > 1024)
            return Fail("malformed CHAP_I or CHAP_C for mutual CHAP");
        // RFC 7143 12.1.3: a challenge equal to ours is a reflection attack; the login must fail.
        if (c2.AsSpan().SequenceEqual(_challenge))
            return Fail("the initiator's CHAP_C repeats the target's challenge (reflection)");
        byte[] answer = Chap.Response(_algorithm, (byte)i2, _targetCredentials.Secret, c2);
        TextParameters.Append(response, "CHAP_N", _targetCredentials.Username);
        TextParameters.Append(response, "CHAP_R", TextParameters.FormatHex(answer));
        return ChapStep.Authenticated;
    }

    private ChapStep Fail(string reason)
    {
        FailureReason = reason;
        return ChapStep.Failed;
    }
}
