using StorageAppliance.Fuzz.Support;
using StorageAppliance.Protocols.Iscsi.Negotiation;

namespace StorageAppliance.Fuzz.Targets;

/// <summary>
/// The login and text key parser and the operational negotiation (RFC 7143 6.1, 6.2, 13):
/// <see cref="TextParameters.TryParse"/>, the numerical and binary value parsers, and
/// <see cref="OperationalNegotiator.Answer"/> for every key the login hands it. Input: byte 0 chooses the
/// session type (bit 0: discovery) and phase (bit 1: full feature); the rest is the text segment.
/// Documented outcomes: false with an error string (the login fails), a NegotiationError, or an answer.
/// </summary>
public sealed class IscsiKeysTarget : IFuzzTarget
{
    public string Name => "iscsi-keys";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 1)
            return;
        var keys = new List<KeyValuePair<string, string>>();
        bool ok = TextParameters.TryParse(input[1..], keys, out string? error);
        if (ok == (error is not null))
            throw new FuzzDefectException("TryParse result and error disagree");
        if (!ok)
            return;
        var parameters = new SessionParameters { SessionType = (input[0] & 1) != 0 ? SessionType.Discovery : SessionType.Normal };
        var negotiator = new OperationalNegotiator(new TargetLimits(), parameters);
        bool fullFeature = (input[0] & 2) != 0;
        var response = new List<byte>();
        foreach (var (key, value) in keys)
        {
            TextParameters.TryParseNumber(value, out _);
            TextParameters.TryParseBinary(value, out _);
            TextParameters.IsExtensionKey(key);
            // The login answers these itself (IscsiConnection.Login.cs) and never passes them on.
            if (key is "InitiatorName" or "SessionType" or "TargetName" or "AuthMethod" || key.StartsWith("CHAP_", StringComparison.Ordinal))
                continue;
            if (!negotiator.Answer(key, value, fullFeature, response, out _))
                return;
        }
        // Every answer must itself be well-formed text, since it goes back on the wire.
        var answers = new List<KeyValuePair<string, string>>();
        if (!TextParameters.TryParse(response.ToArray(), answers, out string? answerError))
            throw new FuzzDefectException($"the negotiator answered text that does not parse: {answerError}");
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("normal-login", Seed(0, "InitiatorName=iqn.1994-05.com.example:host1\0SessionType=Normal\0TargetName=iqn.2026-01.io.storageappliance.test:disk0\0AuthMethod=CHAP,None\0"));
        yield return ("discovery", Seed(1, "InitiatorName=iqn.1994-05.com.example:host1\0SessionType=Discovery\0AuthMethod=None\0"));
        yield return ("operational-linux", Seed(0, "HeaderDigest=None\0DataDigest=None\0DefaultTime2Wait=2\0DefaultTime2Retain=0\0IFMarker=No\0OFMarker=No\0ErrorRecoveryLevel=0\0"
            + "InitialR2T=No\0ImmediateData=Yes\0MaxBurstLength=16776192\0FirstBurstLength=262144\0MaxOutstandingR2T=1\0MaxConnections=1\0DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0MaxRecvDataSegmentLength=262144\0"));
        yield return ("operational-esxi", Seed(0, "HeaderDigest=CRC32C,None\0DataDigest=CRC32C,None\0MaxRecvDataSegmentLength=131072\0MaxBurstLength=262144\0FirstBurstLength=65536\0ImmediateData=Yes\0InitialR2T=Yes\0"));
        yield return ("numbers", Seed(0, "MaxBurstLength=0x10000\0FirstBurstLength=0bAAEAAA==\0DefaultTime2Wait=3600\0MaxOutstandingR2T=0\0"));
        yield return ("chap", Seed(0, "CHAP_A=5\0CHAP_N=user\0CHAP_R=0x0123456789abcdef0123456789abcdef\0CHAP_I=1\0CHAP_C=0bAQIDBA==\0"));
        yield return ("full-feature-text", Seed(2, "SendTargets=All\0MaxRecvDataSegmentLength=65536\0X-com.example.key=1\0X#ext=2\0"));
        yield return ("no-final-nul", Seed(0, "MaxBurstLength=262144\0ImmediateData=No"));
        yield return ("obsolete-and-unknown", Seed(0, "IFMarkInt=2048~4096\0OFMarker=Yes\0NoSuchKey=1\0TaskReporting=RFC3720\0"));
    }

    private static byte[] Seed(byte flags, string text) => IscsiPduTarget.Concat([flags], IscsiPduTarget.Text(text));
}
