using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>Login phase over in-memory pipes (RFC 7143 6, 11.12-11.13).</summary>
public class LoginProtocolTests
{
    private static readonly (string, string)[] Operational =
    [
        ("HeaderDigest", "None"),
        ("DataDigest", "None"),
        ("MaxRecvDataSegmentLength", "65536"),
        ("InitialR2T", "Yes"),
        ("ImmediateData", "Yes"),
        ("MaxBurstLength", "131072"),
        ("FirstBurstLength", "32768"),
        ("MaxOutstandingR2T", "1"),
        ("MaxConnections", "1"),
        ("DefaultTime2Wait", "0"),
        ("DefaultTime2Retain", "0"),
        ("ErrorRecoveryLevel", "0"),
        ("DataPDUInOrder", "Yes"),
        ("DataSequenceInOrder", "Yes"),
        ("IFMarker", "No"),
        ("OFMarkInt", "2048"),
        ("X-com.example.Feature", "on"),
    ];

    [Test]
    public async Task Straight_to_operational_stage_negotiates_every_key_and_enters_full_feature_phase()
    {
        var f = TargetFixture.Create(new TargetLimits { MaxRecvDataSegmentLength = 16384 });
        var i = f.Connect();
        var keys = new List<(string, string)>
        {
            ("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName), ("SessionType", "Normal"),
        };
        keys.AddRange(Operational);
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, keys);

        Assert.Multiple(() =>
        {
            Assert.That(response.LoginStatus, Is.EqualTo(LoginStatus.Success));
            Assert.That(response.Flags, Is.EqualTo(0x87), "T=1, CSG=1, NSG=3");
            Assert.That(response.Tsih, Is.Not.Zero);
            Assert.That(response.Header[2], Is.EqualTo(0), "Version-max");
            Assert.That(response.Header[3], Is.EqualTo(0), "Version-active");
            Assert.That(response.ExpCmdSN, Is.EqualTo(i.CmdSN), "the login's CmdSN is the first one expected");
            Assert.That(response.MaxCmdSN - response.ExpCmdSN + 1, Is.EqualTo(16u), "the window is the queue depth");
        });
        Assert.That(response.Keys(), Is.EquivalentTo(new Dictionary<string, string>
        {
            ["TargetPortalGroupTag"] = "1",
            ["TargetAlias"] = TargetFixture.TargetAlias,
            ["HeaderDigest"] = "None",
            ["DataDigest"] = "None",
            ["MaxRecvDataSegmentLength"] = "16384",
            ["InitialR2T"] = "Yes",
            ["ImmediateData"] = "Yes",
            ["MaxBurstLength"] = "131072",
            ["FirstBurstLength"] = "32768",
            ["MaxOutstandingR2T"] = "1",
            ["MaxConnections"] = "1",
            ["DefaultTime2Wait"] = "2",
            ["DefaultTime2Retain"] = "0",
            ["ErrorRecoveryLevel"] = "0",
            ["DataPDUInOrder"] = "Yes",
            ["DataSequenceInOrder"] = "Yes",
            ["IFMarker"] = "No",
            ["OFMarkInt"] = "Reject",
            ["X-com.example.Feature"] = "NotUnderstood",
        }));
        Assert.That(f.Server.SessionCount, Is.EqualTo(1));

        i.EnterFullFeature(response, response.Keys());
        await i.PingAsync([1, 2, 3]);
    }

    [Test]
    public async Task Security_stage_with_AuthMethod_None_then_operational_stage()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var security = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName), ("SessionType", "Normal"), ("AuthMethod", "None")]);
        Assert.That(security.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(security.Flags, Is.EqualTo(0x81), "T=1, CSG=0, NSG=1");
        Assert.That(security.Tsih, Is.Zero, "the TSIH is given only in the final response");
        var securityKeys = security.Keys();
        Assert.That(securityKeys["AuthMethod"], Is.EqualTo("None"));
        Assert.That(securityKeys["TargetPortalGroupTag"], Is.EqualTo("1"), "RFC 7143 13.9: sent in the first login response");

        var operational = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true,
            [("MaxRecvDataSegmentLength", "8192"), ("ImmediateData", "No")]);
        Assert.That(operational.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(operational.Flags, Is.EqualTo(0x87));
        Assert.That(operational.StatSN, Is.EqualTo(security.StatSN + 1), "each login response takes the next StatSN");
        var keys = operational.Keys();
        Assert.That(keys["ImmediateData"], Is.EqualTo("No"));
        Assert.That(keys, Does.Not.ContainKey("TargetPortalGroupTag"), "declared once");
        i.EnterFullFeature(operational, keys);
        await i.PingAsync();
    }

    [Test]
    public async Task AuthMethod_list_gets_None_from_a_target_without_chap()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var second = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName), ("AuthMethod", "CHAP,None")]);
        Assert.That(second.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(second.Keys()["AuthMethod"], Is.EqualTo("None"));
        Assert.That(second.Transit, Is.True);
    }

    [Test]
    public async Task Final_login_response_declares_MaxRecvDataSegmentLength_even_if_not_asked()
    {
        var f = TargetFixture.Create(new TargetLimits { MaxRecvDataSegmentLength = 32768 });
        var i = f.Connect();
        var keys = await i.LoginAsync(TargetFixture.TargetName);
        Assert.That(keys["MaxRecvDataSegmentLength"], Is.EqualTo("32768"));
    }

    [Test]
    public async Task Text_split_over_two_login_pdus_with_the_C_bit()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        byte[] text = TestInitiator.Text([("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName), ("SessionType", "Normal"), ("MaxBurstLength", "65536")]);
        int cut = 20; // in the middle of the TargetName key
        await i.SendAsync(Pdus.Login(false, true, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, i.Isid, 0, 1, i.Cid, i.CmdSN, 0, cut), text.AsMemory(0, cut));
        var empty = await i.ReceiveAsync();
        Assert.That(empty.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(empty.Transit, Is.False);
        Assert.That(empty.Data, Is.Empty, "RFC 7143 6.2: the partial text is answered with an empty response");
        await i.SendAsync(Pdus.Login(true, false, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, i.Isid, 0, 1, i.Cid, i.CmdSN, 0, text.Length - cut), text.AsMemory(cut));
        var final = await i.ReceiveAsync();
        Assert.That(final.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(final.Keys()["MaxBurstLength"], Is.EqualTo("65536"));
        Assert.That(final.Tsih, Is.Not.Zero);
    }

    [Test]
    public async Task Discovery_session_and_SendTargets_All()
    {
        var f = TargetFixture.Create();
        f.AddTarget("iqn.2026-01.io.storageappliance.test:disk1");
        f.AddTarget("iqn.2026-01.io.storageappliance.test:private", ["iqn.1994-05.com.example:someone-else"]);
        var i = f.Connect();
        var keys = await i.LoginAsync(null, ("MaxBurstLength", "262144"), ("HeaderDigest", "None"));
        Assert.That(keys["MaxBurstLength"], Is.EqualTo("Irrelevant"), "RFC 7143 13.13: irrelevant in discovery");
        Assert.That(keys, Does.Not.ContainKey("TargetPortalGroupTag"), "only normal sessions are told the TPGT at login");

        var response = await i.TextAsync(("SendTargets", "All"));
        Assert.That(response.Final, Is.True);
        Assert.That(response.Ttt, Is.EqualTo(BasicHeaderSegment.ReservedTag));
        var pairs = response.Pairs();
        var names = pairs.Where(p => p.Key == "TargetName").Select(p => p.Value).ToList();
        Assert.That(names, Is.EquivalentTo(new[] { TargetFixture.TargetName, "iqn.2026-01.io.storageappliance.test:disk1" }),
            "a target the initiator may not use is not listed");
        // Each TargetName is followed by its TargetAddress (RFC 7143 appendix C).
        int at = pairs.FindIndex(p => p.Value == TargetFixture.TargetName);
        Assert.That(pairs[at + 1], Is.EqualTo(KeyValuePair.Create("TargetAddress", "127.0.0.1:3260,1")));
    }

    [Test]
    public async Task SendTargets_reports_bound_portals_with_a_wildcard_replaced_by_the_address_reached()
    {
        var f = TargetFixture.Create();
        f.Server.AddBoundPortal(new System.Net.IPEndPoint(System.Net.IPAddress.Any, 3261));
        f.Server.AddBoundPortal(new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, 3262));
        var i = f.Connect();
        await i.LoginAsync(null);
        var addresses = (await i.TextAsync(("SendTargets", "All"))).Pairs().Where(p => p.Key == "TargetAddress").Select(p => p.Value);
        Assert.That(addresses, Is.EquivalentTo(new[] { "127.0.0.1:3261,1", "[::1]:3262,1" }));
    }

    [Test]
    public async Task SendTargets_in_a_normal_session_names_only_its_own_target()
    {
        var f = TargetFixture.Create();
        f.AddTarget("iqn.2026-01.io.storageappliance.test:disk1");
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        var own = (await i.TextAsync(("SendTargets", ""))).Pairs().Where(p => p.Key == "TargetName").Select(p => p.Value);
        Assert.That(own, Is.EqualTo(new[] { TargetFixture.TargetName }));
        var all = (await i.TextAsync(("SendTargets", "All"))).Pairs().Where(p => p.Key == "TargetName").Select(p => p.Value);
        Assert.That(all, Is.EqualTo(new[] { TargetFixture.TargetName }), "All belongs to discovery sessions");
        var self = (await i.TextAsync(("SendTargets", TargetFixture.TargetName))).Pairs().Where(p => p.Key == "TargetName").Select(p => p.Value);
        Assert.That(self, Is.EqualTo(new[] { TargetFixture.TargetName }));
        // RFC 7143 appendix C: an operational session returns path information only about its own target.
        var other = await i.TextAsync(("SendTargets", "iqn.2026-01.io.storageappliance.test:disk1"));
        Assert.That(other.Data, Is.Empty, "another target is not described to a normal session");
        var none = await i.TextAsync(("SendTargets", "iqn.2026-01.io.storageappliance.test:nope"));
        Assert.That(none.Data, Is.Empty);
    }

    [Test]
    public async Task Target_names_compare_case_insensitively()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName.ToUpperInvariant());
        await i.PingAsync();
    }

    [Test]
    public async Task Discovery_session_refuses_scsi_commands_with_a_reject()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(null);
        uint itt = i.NextItt();
        var bhs = Pdus.ScsiCommand(Pdus.TestUnitReady(), itt, 0, i.CmdSN++, i.ExpStatSN, false, false);
        await i.SendAsync(bhs);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.ProtocolError));
        Assert.That(reject.Data, Is.EqualTo(bhs), "the Reject carries the rejected header");
        await i.PingAsync();
    }

    [Test]
    public async Task Unknown_target_gets_0x0203_and_the_connection_closes()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true,
            [("InitiatorName", i.Name), ("TargetName", "iqn.2026-01.io.storageappliance.test:nope"), ("AuthMethod", "None")]);
        AssertLoginFailure(response, LoginStatus.NotFound);
        await i.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
    }

    [Test]
    public async Task Initiator_not_in_the_allow_list_gets_0x0202()
    {
        var f = TargetFixture.Create(allowedInitiators: ["iqn.1994-05.com.example:host2"]);
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true,
            [("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName)]);
        AssertLoginFailure(response, LoginStatus.AuthorizationFailure);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Allow_list_compares_iscsi_names_case_insensitively()
    {
        var f = TargetFixture.Create(allowedInitiators: [TargetFixture.InitiatorName.ToUpperInvariant()]);
        await f.Connect().LoginAsync(TargetFixture.TargetName);
    }

    [Test]
    public async Task Missing_InitiatorName_gets_0x0207()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true,
            [("TargetName", TargetFixture.TargetName), ("SessionType", "Normal")]);
        AssertLoginFailure(response, LoginStatus.MissingParameter);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Missing_TargetName_in_a_normal_session_gets_0x0207()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true,
            [("InitiatorName", i.Name), ("SessionType", "Normal")]);
        AssertLoginFailure(response, LoginStatus.MissingParameter);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Unsupported_version_gets_0x0205()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true,
            [("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName)], versionMin: 1);
        AssertLoginFailure(response, LoginStatus.UnsupportedVersion);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Unknown_session_type_gets_0x0209()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true,
            [("InitiatorName", i.Name), ("SessionType", "Boot")]);
        AssertLoginFailure(response, LoginStatus.SessionTypeNotSupported);
        await i.ExpectClosedAsync();
    }

    [TestCase("InitiatorName", "not-an-iscsi-name")]
    [TestCase("TargetAlias", "initiators may not send this")]
    [TestCase("MaxBurstLength", "8192")] // repeated (see below)
    public async Task Initiator_errors_get_0x0200(string key, string value)
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var keys = new List<(string, string)> { ("TargetName", TargetFixture.TargetName), ("MaxBurstLength", "8192") };
        keys.Insert(0, key == "InitiatorName" ? (key, value) : ("InitiatorName", i.Name));
        if (key != "InitiatorName")
            keys.Add((key, value));
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, keys);
        AssertLoginFailure(response, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Transit_and_continue_together_get_0x0200()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        byte[] text = TestInitiator.Text([("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName)]);
        await i.SendAsync(Pdus.Login(true, true, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, i.Isid, 0, 1, 1, 1, 0, text.Length), text);
        AssertLoginFailure(await i.ReceiveAsync(), LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Malformed_login_text_gets_0x0200()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        byte[] text = "InitiatorName=iqn.1994-05.com.example:host1\0garbage-without-equals\0"u8.ToArray();
        await i.SendAsync(Pdus.Login(true, false, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, i.Isid, 0, 1, 1, 1, 0, text.Length), text);
        AssertLoginFailure(await i.ReceiveAsync(), LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task First_pdu_other_than_login_closes_without_an_answer()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.SendAsync(Pdus.NopOut(1, BasicHeaderSegment.ReservedTag, 1, 0));
        await i.ExpectClosedAsync();
        Assert.That(f.Log.Messages(3004).Single(), Does.Contain("NopOut PDU during login"));
    }

    [Test]
    public async Task Login_that_does_not_complete_in_time_is_closed()
    {
        var f = TargetFixture.Create(loginTimeout: TimeSpan.FromMilliseconds(200));
        var i = f.Connect();
        await i.ExpectClosedAsync(TimeSpan.FromSeconds(5));
        Assert.That(f.Log.Messages(3004).Single(), Does.Contain("login timeout"));
    }

    [Test]
    public async Task New_login_with_the_same_isid_reinstates_the_session_and_closes_the_old_connection()
    {
        var f = TargetFixture.Create();
        var first = f.Connect(isid: 0x42);
        await first.LoginAsync(TargetFixture.TargetName);
        var second = f.Connect(isid: 0x42);
        await second.LoginAsync(TargetFixture.TargetName);
        Assert.That(second.Tsih, Is.Not.EqualTo(first.Tsih));
        await first.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.EqualTo(1));
        await second.PingAsync();
    }

    [Test]
    public async Task Login_request_in_full_feature_phase_is_rejected()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        var bhs = Pdus.Login(true, false, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, i.Isid, i.Tsih, 1, 1, i.CmdSN, i.ExpStatSN, 0);
        await i.SendAsync(bhs);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.ProtocolError));
        await i.PingAsync();
    }

    [Test]
    public async Task InitiatorName_with_a_space_is_not_a_valid_iscsi_name()
    {
        // RFC 7143 4.2.7 / RFC 3722: iSCSI names contain only letters, digits, '-', '.', ':' (after stringprep);
        // IscsiNames.IsValid checks only the iqn./eui./naa. prefix and date, so spaces and control characters pass.
        Assert.That(IscsiNames.IsValid("iqn.1994-05.com.example:has space"), Is.False);
        Assert.That(IscsiNames.IsValid("iqn.1994-05.com.example:tab\there"), Is.False);
    }

    [TestCase("iqn.1994-05.com.example:storage.disk2", true)]
    [TestCase("iqn.2026-01.io.storageappliance", true)]
    [TestCase("IQN.1994-05.com.example", true)]
    [TestCase("eui.02004567A425678D", true)]
    [TestCase("naa.52004567BA64678D", true)]
    [TestCase("naa.62004567BA64678D0123456789ABCDEF", true)]
    [TestCase("iqn.94-05.com.example", false)]
    [TestCase("iqn.1994-5.com.example", false)]
    [TestCase("iqn.1994-05", false)]
    [TestCase("eui.02004567A425678", false)]
    [TestCase("eui.02004567A425678G", false)]
    [TestCase("naa.52004567BA64678", false)]
    [TestCase("host1", false)]
    [TestCase("", false)]
    public void Iscsi_name_formats(string name, bool valid)
    {
        Assert.That(IscsiNames.IsValid(name), Is.EqualTo(valid));
    }

    [Test]
    public void Iscsi_name_longer_than_223_bytes_is_invalid()
    {
        string name = "iqn.1994-05.com.example:" + new string('a', 223 - 24);
        Assert.That(IscsiNames.IsValid(name), Is.True);
        Assert.That(IscsiNames.IsValid(name + "a"), Is.False);
    }

    private static (string, string)[] Leading(TestInitiator i) =>
        [("InitiatorName", i.Name), ("TargetName", TargetFixture.TargetName), ("SessionType", "Normal")];

    [Test]
    public async Task Second_connection_to_a_single_connection_session_gets_0x0206()
    {
        var f = TargetFixture.Create();
        var first = f.Connect(isid: 0x77);
        await first.LoginAsync(TargetFixture.TargetName);
        var second = f.Connect(isid: 0x77);
        second.Cid = 2;
        var response = await second.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, Leading(second), tsih: first.Tsih);
        AssertLoginFailure(response, LoginStatus.TooManyConnections);
        await second.ExpectClosedAsync();
        await first.PingAsync();
    }

    [Test]
    public async Task Login_with_the_same_cid_reinstates_the_connection()
    {
        var f = TargetFixture.Create();
        var first = f.Connect(isid: 0x78);
        await first.LoginAsync(TargetFixture.TargetName);
        var second = f.Connect(isid: 0x78);
        var response = await second.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, Leading(second), tsih: first.Tsih);
        Assert.That(response.LoginStatus, Is.EqualTo(LoginStatus.Success));
        Assert.That(response.Tsih, Is.EqualTo(first.Tsih), "the connection joins the existing session");
        second.EnterFullFeature(response, response.Keys());
        await first.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.EqualTo(1), "closing the replaced connection does not end the session");
        await second.PingAsync();
    }

    [Test]
    public async Task Login_to_an_unknown_session_gets_0x020A()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var response = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, Leading(i), tsih: 0x4321);
        AssertLoginFailure(response, LoginStatus.SessionDoesNotExist);
        await i.ExpectClosedAsync();
    }

    [TestCase(LoginStage.LoginOperationalNegotiation, LoginStage.LoginOperationalNegotiation)]
    [TestCase(LoginStage.SecurityNegotiation, (LoginStage)2)]
    [TestCase((LoginStage)2, LoginStage.FullFeaturePhase)]
    public async Task Invalid_stage_transition_gets_0x0200(LoginStage csg, LoginStage nsg)
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var response = await i.LoginStepAsync(csg, nsg, true, Leading(i));
        AssertLoginFailure(response, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Going_back_to_the_security_stage_gets_0x0200()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var operational = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, false, Leading(i));
        Assert.That(operational.LoginStatus, Is.EqualTo(LoginStatus.Success));
        var back = await i.LoginStepAsync(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, true, [("AuthMethod", "None")]);
        AssertLoginFailure(back, LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Changing_the_isid_during_login_gets_0x0200()
    {
        var f = TargetFixture.Create();
        var i = f.Connect(isid: 1);
        var first = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, false, Leading(i));
        Assert.That(first.LoginStatus, Is.EqualTo(LoginStatus.Success));
        byte[] text = TestInitiator.Text([("MaxBurstLength", "8192")]);
        await i.SendAsync(Pdus.Login(true, false, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, 2, 0, 1, i.Cid, i.CmdSN, 0, text.Length), text);
        AssertLoginFailure(await i.ReceiveAsync(), LoginStatus.InitiatorError);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Operational_keys_across_several_login_pdus_may_not_repeat()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var first = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, false, [.. Leading(i), ("MaxBurstLength", "8192")]);
        Assert.That(first.Keys()["MaxBurstLength"], Is.EqualTo("8192"));
        var again = await i.LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, [("MaxBurstLength", "4096")]);
        AssertLoginFailure(again, LoginStatus.InitiatorError);
    }

    internal static void AssertLoginFailure(TargetPdu response, LoginStatus expected)
    {
        Assert.That(response.Opcode, Is.EqualTo(IscsiOpcode.LoginResponse));
        Assert.That(response.LoginStatus, Is.EqualTo(expected), $"login status 0x{(ushort)response.LoginStatus:x4}");
        Assert.That(response.Transit, Is.False, "RFC 7143 11.13.5: T=0 on failure");
        Assert.That(response.Data, Is.Empty, "no text on failure");
        Assert.That(response.Tsih, Is.Zero);
    }
}
