using StorageAppliance.Protocols.Iscsi.Negotiation;

namespace StorageAppliance.Protocols.Iscsi.Tests.Negotiation;

/// <summary>The responder's side of every RFC 7143 section 13 key, with its result function.</summary>
public class OperationalNegotiatorTests
{
    private SessionParameters _params = null!;
    private OperationalNegotiator _negotiator = null!;

    [SetUp]
    public void SetUp() => Start(new TargetLimits());

    private void Start(TargetLimits limits, SessionType type = SessionType.Normal)
    {
        _params = new SessionParameters { SessionType = type };
        _negotiator = new OperationalNegotiator(limits, _params);
    }

    /// <summary>Offers one key; returns the single value answered for it, or null when nothing is answered.</summary>
    private string? Offer(string key, string value, bool fullFeature = false)
    {
        var response = new List<byte>();
        Assert.That(_negotiator.Answer(key, value, fullFeature, response, out var error), Is.True, $"{key}={value}: {error}");
        Assert.That(error, Is.EqualTo(NegotiationError.None));
        var pairs = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(response.ToArray(), pairs, out string? parseError), Is.True, parseError);
        if (pairs.Count == 0)
            return null;
        Assert.That(pairs, Has.Count.EqualTo(1), "one answer per key");
        Assert.That(pairs[0].Key, Is.EqualTo(key));
        return pairs[0].Value;
    }

    private NegotiationError OfferFails(string key, string value)
    {
        var response = new List<byte>();
        Assert.That(_negotiator.Answer(key, value, false, response, out var error), Is.False);
        Assert.That(response, Is.Empty, "a negotiation error is not answered with a value");
        return error;
    }

    // ---------------------------------------------------------------- HeaderDigest, DataDigest (13.1): list

    [TestCase("CRC32C,None", "CRC32C", true)]
    [TestCase("None,CRC32C", "None", false)]
    [TestCase("None", "None", false)]
    [TestCase("CRC32C", "CRC32C", true)]
    [TestCase("MD5,CRC32C", "CRC32C", true)]
    [TestCase("X-vendor-digest,None", "None", false)]
    public void Digests_answer_the_first_offered_value_we_support(string offer, string answer, bool enabled)
    {
        Assert.That(Offer("HeaderDigest", offer), Is.EqualTo(answer));
        Assert.That(Offer("DataDigest", offer), Is.EqualTo(answer));
        Assert.That(_params.HeaderDigest, Is.EqualTo(enabled));
        Assert.That(_params.DataDigest, Is.EqualTo(enabled));
    }

    [TestCase("MD5")]
    [TestCase("crc32c")]
    [TestCase("")]
    public void Digest_with_no_acceptable_value_is_rejected(string offer)
    {
        Assert.That(Offer("HeaderDigest", offer), Is.EqualTo("Reject"));
        Assert.That(_params.HeaderDigest, Is.False);
    }

    [Test]
    public void Digest_list_respects_the_target_limits()
    {
        Start(new TargetLimits { HeaderDigests = ["None"], DataDigests = ["CRC32C"] });
        Assert.That(Offer("HeaderDigest", "CRC32C,None"), Is.EqualTo("None"));
        Assert.That(Offer("DataDigest", "None"), Is.EqualTo("Reject"));
        Assert.That(_params.DataDigest, Is.False);
    }

    // ---------------------------------------------------------------- MaxRecvDataSegmentLength (13.12): declarative

    [Test]
    public void MaxRecvDataSegmentLength_is_declared_both_ways()
    {
        Start(new TargetLimits { MaxRecvDataSegmentLength = 65536 });
        Assert.That(Offer("MaxRecvDataSegmentLength", "4096"), Is.EqualTo("65536"));
        Assert.That(_params.InitiatorMaxRecvDataSegmentLength, Is.EqualTo(4096));
        Assert.That(_params.TargetMaxRecvDataSegmentLength, Is.EqualTo(65536));
    }

    [TestCase("512", 512)]
    [TestCase("16777215", 16777215)]
    [TestCase("0x1000", 4096)]
    public void MaxRecvDataSegmentLength_in_range(string offer, int expected)
    {
        Offer("MaxRecvDataSegmentLength", offer);
        Assert.That(_params.InitiatorMaxRecvDataSegmentLength, Is.EqualTo(expected));
    }

    [TestCase("511")]
    [TestCase("16777216")]
    [TestCase("0")]
    [TestCase("big")]
    [TestCase("")]
    public void MaxRecvDataSegmentLength_out_of_range_or_malformed_is_rejected(string offer)
    {
        Assert.That(Offer("MaxRecvDataSegmentLength", offer), Is.EqualTo("Reject"));
        Assert.That(_params.InitiatorMaxRecvDataSegmentLength, Is.EqualTo(8192), "the default stays");
    }

    [Test]
    public void MaxRecvDataSegmentLength_may_be_declared_in_full_feature_phase()
    {
        Assert.That(Offer("MaxRecvDataSegmentLength", "16384", fullFeature: true), Is.EqualTo("262144"));
        Assert.That(_params.InitiatorMaxRecvDataSegmentLength, Is.EqualTo(16384));
    }

    // ---------------------------------------------------------------- numerical "min" keys

    [TestCase("MaxBurstLength", "4096", "4096")]
    [TestCase("MaxBurstLength", "16777215", "1048576")]
    [TestCase("MaxBurstLength", "512", "512")]
    [TestCase("FirstBurstLength", "65536", "65536")]
    [TestCase("FirstBurstLength", "16777215", "262144")]
    [TestCase("FirstBurstLength", "512", "512")]
    [TestCase("MaxOutstandingR2T", "8", "1")]
    [TestCase("MaxOutstandingR2T", "1", "1")]
    [TestCase("MaxConnections", "4", "1")]
    [TestCase("MaxConnections", "65535", "1")]
    [TestCase("DefaultTime2Retain", "0", "0")]
    [TestCase("DefaultTime2Retain", "3600", "20")]
    [TestCase("DefaultTime2Retain", "5", "5")]
    [TestCase("ErrorRecoveryLevel", "0", "0")]
    [TestCase("ErrorRecoveryLevel", "1", "0")]
    [TestCase("ErrorRecoveryLevel", "2", "0")]
    [TestCase("MaxBurstLength", "0x2000", "8192")]
    public void Min_keys_answer_the_smaller_of_offer_and_limit(string key, string offer, string answer)
    {
        Assert.That(Offer(key, offer), Is.EqualTo(answer));
    }

    [Test]
    public void Min_keys_are_applied_to_the_session()
    {
        Start(new TargetLimits { MaxOutstandingR2T = 4, MaxConnections = 8, DefaultTime2Retain = 60 });
        Offer("MaxBurstLength", "131072");
        Offer("FirstBurstLength", "32768");
        Offer("MaxOutstandingR2T", "2");
        Offer("MaxConnections", "2");
        Offer("DefaultTime2Retain", "30");
        Offer("ErrorRecoveryLevel", "2");
        Assert.Multiple(() =>
        {
            Assert.That(_params.MaxBurstLength, Is.EqualTo(131072));
            Assert.That(_params.FirstBurstLength, Is.EqualTo(32768));
            Assert.That(_params.MaxOutstandingR2T, Is.EqualTo(2));
            Assert.That(_params.MaxConnections, Is.EqualTo(2));
            Assert.That(_params.DefaultTime2Retain, Is.EqualTo(30));
            Assert.That(_params.ErrorRecoveryLevel, Is.EqualTo(0));
        });
    }

    [TestCase("MaxBurstLength", "511")]
    [TestCase("MaxBurstLength", "16777216")]
    [TestCase("FirstBurstLength", "511")]
    [TestCase("FirstBurstLength", "16777216")]
    [TestCase("MaxOutstandingR2T", "0")]
    [TestCase("MaxOutstandingR2T", "65536")]
    [TestCase("MaxConnections", "0")]
    [TestCase("MaxConnections", "65536")]
    [TestCase("DefaultTime2Retain", "3601")]
    [TestCase("DefaultTime2Wait", "3601")]
    [TestCase("ErrorRecoveryLevel", "3")]
    [TestCase("MaxBurstLength", "-1")]
    [TestCase("MaxBurstLength", "1k")]
    [TestCase("MaxBurstLength", "")]
    [TestCase("DefaultTime2Wait", "Yes")]
    public void Out_of_range_or_malformed_numbers_are_rejected_and_the_default_stays(string key, string offer)
    {
        var defaults = new SessionParameters();
        Assert.That(Offer(key, offer), Is.EqualTo("Reject"));
        Assert.Multiple(() =>
        {
            Assert.That(_params.MaxBurstLength, Is.EqualTo(defaults.MaxBurstLength));
            Assert.That(_params.FirstBurstLength, Is.EqualTo(defaults.FirstBurstLength));
            Assert.That(_params.MaxOutstandingR2T, Is.EqualTo(defaults.MaxOutstandingR2T));
            Assert.That(_params.MaxConnections, Is.EqualTo(defaults.MaxConnections));
            Assert.That(_params.DefaultTime2Retain, Is.EqualTo(defaults.DefaultTime2Retain));
            Assert.That(_params.DefaultTime2Wait, Is.EqualTo(defaults.DefaultTime2Wait));
            Assert.That(_params.ErrorRecoveryLevel, Is.EqualTo(defaults.ErrorRecoveryLevel));
        });
    }

    [Test]
    public void MaxBurstLength_below_FirstBurstLength_lowers_FirstBurstLength()
    {
        // RFC 7143 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength.
        Assert.That(Offer("MaxBurstLength", "8192"), Is.EqualTo("8192"));
        Assert.That(_params.FirstBurstLength, Is.EqualTo(8192));
        Assert.That(Offer("FirstBurstLength", "65536"), Is.EqualTo("8192"));
    }

    // ---------------------------------------------------------------- DefaultTime2Wait (13.15): max

    [TestCase("0", "2")]
    [TestCase("2", "2")]
    [TestCase("10", "10")]
    [TestCase("3600", "3600")]
    public void DefaultTime2Wait_answers_the_larger(string offer, string answer)
    {
        Assert.That(Offer("DefaultTime2Wait", offer), Is.EqualTo(answer));
        Assert.That(_params.DefaultTime2Wait, Is.EqualTo(int.Parse(answer)));
    }

    // ---------------------------------------------------------------- booleans: OR and AND

    [TestCase(false, "Yes", "Yes")]
    [TestCase(false, "No", "No")]
    [TestCase(true, "No", "Yes")]
    [TestCase(true, "Yes", "Yes")]
    public void InitialR2T_is_or(bool ours, string offer, string answer)
    {
        Start(new TargetLimits { InitialR2T = ours });
        Assert.That(Offer("InitialR2T", offer), Is.EqualTo(answer));
        Assert.That(_params.InitialR2T, Is.EqualTo(answer == "Yes"));
    }

    [TestCase(true, "Yes", "Yes")]
    [TestCase(true, "No", "No")]
    [TestCase(false, "Yes", "No")]
    [TestCase(false, "No", "No")]
    public void ImmediateData_is_and(bool ours, string offer, string answer)
    {
        Start(new TargetLimits { ImmediateData = ours });
        Assert.That(Offer("ImmediateData", offer), Is.EqualTo(answer));
        Assert.That(_params.ImmediateData, Is.EqualTo(answer == "Yes"));
    }

    [TestCase("DataPDUInOrder", "No")]
    [TestCase("DataPDUInOrder", "Yes")]
    [TestCase("DataSequenceInOrder", "No")]
    [TestCase("DataSequenceInOrder", "Yes")]
    public void In_order_keys_are_or_with_our_yes(string key, string offer)
    {
        Assert.That(Offer(key, offer), Is.EqualTo("Yes"));
        Assert.That(_params.DataPduInOrder && _params.DataSequenceInOrder, Is.True);
    }

    [TestCase("InitialR2T", "yes")]
    [TestCase("ImmediateData", "NO")]
    [TestCase("DataPDUInOrder", "1")]
    [TestCase("DataSequenceInOrder", "")]
    [TestCase("ImmediateData", "Yes,No")]
    public void Booleans_other_than_Yes_or_No_are_rejected(string key, string offer)
    {
        Assert.That(Offer(key, offer), Is.EqualTo("Reject"));
    }

    // ---------------------------------------------------------------- Irrelevant

    [TestCase("MaxConnections", "1")]
    [TestCase("InitialR2T", "Yes")]
    [TestCase("ImmediateData", "Yes")]
    [TestCase("MaxBurstLength", "262144")]
    [TestCase("FirstBurstLength", "65536")]
    [TestCase("MaxOutstandingR2T", "1")]
    [TestCase("DataPDUInOrder", "Yes")]
    [TestCase("DataSequenceInOrder", "Yes")]
    public void Session_keys_of_the_data_path_are_irrelevant_in_discovery(string key, string offer)
    {
        Start(new TargetLimits(), SessionType.Discovery);
        Assert.That(Offer(key, offer), Is.EqualTo("Irrelevant"));
    }

    [TestCase("HeaderDigest", "None", "None")]
    [TestCase("DataDigest", "None", "None")]
    [TestCase("MaxRecvDataSegmentLength", "8192", "262144")]
    [TestCase("DefaultTime2Wait", "2", "2")]
    [TestCase("DefaultTime2Retain", "0", "0")]
    [TestCase("ErrorRecoveryLevel", "0", "0")]
    public void Connection_and_timing_keys_are_negotiated_in_discovery_too(string key, string offer, string answer)
    {
        Start(new TargetLimits(), SessionType.Discovery);
        Assert.That(Offer(key, offer), Is.EqualTo(answer));
    }

    [Test]
    public void FirstBurstLength_is_irrelevant_when_InitialR2T_is_Yes_and_ImmediateData_is_No()
    {
        Assert.That(Offer("InitialR2T", "Yes"), Is.EqualTo("Yes"));
        Assert.That(Offer("ImmediateData", "No"), Is.EqualTo("No"));
        Assert.That(Offer("FirstBurstLength", "65536"), Is.EqualTo("Irrelevant"));
    }

    [TestCase("No", "No")]
    [TestCase("Yes", "Yes")]
    [TestCase("No", "Yes")]
    public void FirstBurstLength_is_relevant_otherwise(string initialR2T, string immediateData)
    {
        Offer("InitialR2T", initialR2T);
        Offer("ImmediateData", immediateData);
        Assert.That(Offer("FirstBurstLength", "4096"), Is.EqualTo("4096"));
    }

    // ---------------------------------------------------------------- unknown, extension and obsolete keys

    [TestCase("FooBar")]
    [TestCase("X-com.example.Feature")]
    [TestCase("OFMarkerInt")]
    [TestCase("SessionTypeX")]
    public void Unknown_and_vendor_keys_are_not_understood(string key)
    {
        Assert.That(Offer(key, "whatever"), Is.EqualTo("NotUnderstood"));
    }

    [TestCase("IFMarker", "Yes")]
    [TestCase("IFMarker", "No")]
    [TestCase("OFMarker", "Yes")]
    public void Marker_keys_are_answered_No_never_NotUnderstood(string key, string offer)
    {
        // RFC 7143 13.25: obsoleted keys MUST NOT be answered NotUnderstood.
        Assert.That(Offer(key, offer), Is.EqualTo("No"));
    }

    [TestCase("IFMarkInt", "1-8192")]
    [TestCase("OFMarkInt", "2048~8192")]
    public void Marker_interval_keys_are_rejected_never_NotUnderstood(string key, string offer)
    {
        Assert.That(Offer(key, offer), Is.EqualTo("Reject"));
    }

    [TestCase("2", "1")]
    [TestCase("1", "1")]
    [TestCase("0", "0")]
    [TestCase("32", "Reject")]
    public void iSCSIProtocolLevel_is_min_with_1(string offer, string answer)
    {
        Assert.That(Offer("iSCSIProtocolLevel", offer), Is.EqualTo(answer));
    }

    [TestCase("RFC3720,ResponseFence", "RFC3720")]
    [TestCase("FastAbort,RFC3720", "RFC3720")]
    [TestCase("FastAbort", "Reject")]
    public void TaskReporting_offers_only_RFC3720(string offer, string answer)
    {
        Assert.That(Offer("TaskReporting", offer), Is.EqualTo(answer));
    }

    // ---------------------------------------------------------------- negotiation errors

    [Test]
    public void Repeated_key_is_an_error()
    {
        Offer("MaxBurstLength", "8192");
        Assert.That(OfferFails("MaxBurstLength", "8192"), Is.EqualTo(NegotiationError.RepeatedKey));
        Assert.That(_params.MaxBurstLength, Is.EqualTo(8192));
    }

    [Test]
    public void Repeated_unknown_key_is_an_error_too()
    {
        Offer("X-foo", "1");
        Assert.That(OfferFails("X-foo", "1"), Is.EqualTo(NegotiationError.RepeatedKey));
    }

    [Test]
    public void Keys_may_be_offered_again_after_reset_seen()
    {
        Offer("MaxRecvDataSegmentLength", "4096");
        Assert.That(_negotiator.HasSeen("MaxRecvDataSegmentLength"), Is.True);
        _negotiator.ResetSeen();
        Assert.That(_negotiator.HasSeen("MaxRecvDataSegmentLength"), Is.False);
        Assert.That(Offer("MaxRecvDataSegmentLength", "16384"), Is.EqualTo("262144"));
    }

    [TestCase("TargetAlias", "disk")]
    [TestCase("TargetAddress", "10.0.0.1:3260,1")]
    [TestCase("TargetPortalGroupTag", "1")]
    public void Target_only_keys_from_the_initiator_are_an_error(string key, string value)
    {
        Assert.That(OfferFails(key, value), Is.EqualTo(NegotiationError.TargetOnlyKey));
    }

    [Test]
    public void InitiatorAlias_is_declarative_and_not_answered()
    {
        Assert.That(Offer("InitiatorAlias", "host one"), Is.Null);
        Assert.That(_params.InitiatorAlias, Is.EqualTo("host one"));
    }

    [TestCase("HeaderDigest", "CRC32C")]
    [TestCase("MaxBurstLength", "8192")]
    [TestCase("FirstBurstLength", "8192")]
    [TestCase("InitialR2T", "Yes")]
    [TestCase("ImmediateData", "No")]
    [TestCase("DefaultTime2Wait", "5")]
    [TestCase("DefaultTime2Retain", "5")]
    [TestCase("ErrorRecoveryLevel", "0")]
    [TestCase("MaxConnections", "1")]
    public void Login_only_keys_are_rejected_in_full_feature_phase(string key, string value)
    {
        var before = _params.ToString();
        Assert.That(Offer(key, value, fullFeature: true), Is.EqualTo("Reject"));
        Assert.That(_params.ToString(), Is.EqualTo(before));
    }

    [Test]
    public void A_typical_libiscsi_login_offer()
    {
        Start(new TargetLimits { MaxRecvDataSegmentLength = 262144, MaxBurstLength = 1048576, FirstBurstLength = 262144 });
        var answers = new Dictionary<string, string?>
        {
            ["HeaderDigest"] = Offer("HeaderDigest", "None,CRC32C"),
            ["DataDigest"] = Offer("DataDigest", "None,CRC32C"),
            ["InitialR2T"] = Offer("InitialR2T", "Yes"),
            ["ImmediateData"] = Offer("ImmediateData", "Yes"),
            ["MaxBurstLength"] = Offer("MaxBurstLength", "262144"),
            ["FirstBurstLength"] = Offer("FirstBurstLength", "262144"),
            ["MaxRecvDataSegmentLength"] = Offer("MaxRecvDataSegmentLength", "262144"),
            ["MaxConnections"] = Offer("MaxConnections", "1"),
            ["MaxOutstandingR2T"] = Offer("MaxOutstandingR2T", "1"),
            ["DefaultTime2Wait"] = Offer("DefaultTime2Wait", "2"),
            ["DefaultTime2Retain"] = Offer("DefaultTime2Retain", "0"),
            ["ErrorRecoveryLevel"] = Offer("ErrorRecoveryLevel", "0"),
            ["DataPDUInOrder"] = Offer("DataPDUInOrder", "Yes"),
            ["DataSequenceInOrder"] = Offer("DataSequenceInOrder", "Yes"),
        };
        Assert.That(answers, Is.EqualTo(new Dictionary<string, string?>
        {
            ["HeaderDigest"] = "None",
            ["DataDigest"] = "None",
            ["InitialR2T"] = "Yes",
            ["ImmediateData"] = "Yes",
            ["MaxBurstLength"] = "262144",
            ["FirstBurstLength"] = "262144",
            ["MaxRecvDataSegmentLength"] = "262144",
            ["MaxConnections"] = "1",
            ["MaxOutstandingR2T"] = "1",
            ["DefaultTime2Wait"] = "2",
            ["DefaultTime2Retain"] = "0",
            ["ErrorRecoveryLevel"] = "0",
            ["DataPDUInOrder"] = "Yes",
            ["DataSequenceInOrder"] = "Yes",
        }));
    }
}
