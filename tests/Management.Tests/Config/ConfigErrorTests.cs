using StorageAppliance.Management.Config;

namespace StorageAppliance.Management.Tests.Config;

// Line and column numbers count from Yaml.Valid (11 lines) unless a test writes its own text.
public class ConfigErrorTests
{
    [Test]
    public void TheValidBase_Loads()
    {
        Assert.That(Yaml.Load(Yaml.Valid).VDisks.Single().SizeBytes, Is.EqualTo(8L << 30));
    }

    [Test]
    public void Backing_IsEngineByDefault_AndNullOnRequest()
    {
        Assert.That(Yaml.Load(Yaml.Valid).VDisks.Single().Backing, Is.EqualTo(VDiskBacking.Engine));
        string yaml = Yaml.Valid.Replace("    size: 8GiB", "    size: 8GiB\n    backing: none");
        Assert.That(Yaml.Load(yaml).VDisks.Single().Backing, Is.EqualTo(VDiskBacking.Null));
    }

    [Test]
    public void Backing_OtherThanEngineOrNull_IsRefused()
    {
        string yaml = Yaml.Valid.Replace("    size: 8GiB", "    size: 8GiB\n    backing: ramdisk");
        Yaml.FailsAt(yaml, 7, 14, "vdisks[0].backing", "'ramdisk' is not a backing (use engine, or none");
    }

    [Test]
    public void VDiskName_WithTheNfsDataPrefix_IsRefused()
    {
        string yaml = Yaml.Valid.Replace("disk0", "nfs-000000000000002a");
        Yaml.FailsAt(yaml, 4, 11, "vdisks[0].name", "names starting with nfs- are reserved for the vDisks of NFS files");
    }

    // --- unknown keys -------------------------------------------------------------------------

    [Test]
    public void UnknownKey_NamesTheClosestKnownKey()
    {
        string yaml = Yaml.Valid.Replace("    size: 8GiB", "    size: 8GiB\n    thinn: true");

        Yaml.FailsAt(yaml, 7, 5, "vdisks[0].thinn", "unknown key 'thinn'; did you mean 'thin'?");
    }

    [Test]
    public void MoreThanOneConnectionPerSession_IsRefusedWithTheReason()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  max_connections: 2"), 13, 20, "iscsi.max_connections", "use multipath for more paths");
    }

    [Test]
    public void UnknownKey_MatchesAcrossCaseAndUnderscores()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  maxBurstLength: 65536"), 13, 3, "iscsi.maxBurstLength", "did you mean 'max_burst_length'?");
    }

    [Test]
    public void UnknownKey_FarFromEveryKnownKey_ListsTheKnownKeys()
    {
        ConfigError e = Yaml.FailsAt(Yaml.With("appliance:\n  colour: blue"), 13, 3, "appliance.colour", "unknown key 'colour'");

        Assert.That(e.Reason, Does.Contain("known here: name, data_dir"));
        Assert.That(e.Reason, Does.Not.Contain("did you mean"));
    }

    [Test]
    public void UnknownTopLevelSection_IsReportedAtColumnOne()
    {
        Yaml.FailsAt(Yaml.With("target:\n  - name: x"), 12, 1, "target", "did you mean 'targets'?");
    }

    [Test]
    public void UnknownKey_InsideAuth_IsReported()
    {
        string yaml = Yaml.With("""
            iscsi:
              discovery_auth:
                chap: {username: d, secret: discovery-secret, sekret: x}
            """);

        Yaml.FailsAt(yaml, 14, 51, "iscsi.discovery_auth.chap.sekret", "did you mean 'secret'?");
    }

    // --- sizes --------------------------------------------------------------------------------

    [Test]
    public void BadSizeUnit_ReadsLikeTheDocumentedExample()
    {
        ConfigException ex = Yaml.Fails(Yaml.Valid.Replace("size: 8GiB", "size: 8XB"));

        Assert.That(ex.Message, Is.EqualTo(
            "test.yaml:6:11: vdisks[0].size: '8XB' has an unknown unit 'XB' (use B, KiB, MiB, GiB, TiB, PiB, EiB or KB, MB, GB, TB, PB, EB)"));
    }

    [Test]
    public void SizeThatIsNotANumber_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("size: 8GiB", "size: large"), 6, 11, "vdisks[0].size", "'large' is not a size");
    }

    [Test]
    public void ZeroSize_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("size: 8GiB", "size: 0"), 6, 11, "vdisks[0].size", "must be greater than 0");
    }

    [Test]
    public void SizeNotAMultipleOfTheBlockSize_IsReported()
    {
        string yaml = Yaml.Valid.Replace("size: 8GiB", "size: 6KiB\n    block_size: 4096");

        Yaml.FailsAt(yaml, 6, 11, "vdisks[0].size", "'6KiB' (6144 bytes) is not a multiple of the block size 4096");
    }

    [Test]
    public void SizeNotAMultipleOfTheDefaultBlockSize_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("size: 8GiB", "size: 1000"), 6, 11, "vdisks[0].size", "not a multiple of the block size 512");
    }

    [Test]
    public void UnsupportedBlockSize_IsReported()
    {
        string yaml = Yaml.Valid.Replace("size: 8GiB", "size: 8GiB\n    block_size: 1024");

        Yaml.FailsAt(yaml, 7, 17, "vdisks[0].block_size", "block size 1024 is not supported (use 512 or 4096)");
    }

    [TestCase("4096", 512, 4096)]
    [TestCase("4KiB", 512, 4096)]
    [TestCase("512", 512, 512)]
    [TestCase("64KiB", 4096, 65536)]
    public void PhysicalBlockSize_IsAPowerOfTwoMultipleOfTheBlockSize(string text, int blockSize, int expected)
    {
        string yaml = Yaml.Valid.Replace("size: 8GiB", $"size: 8GiB\n    block_size: {blockSize}\n    physical_block_size: {text}");

        Assert.That(Yaml.Load(yaml).VDisks.Single().PhysicalBlockSize, Is.EqualTo(expected));
    }

    [Test]
    public void PhysicalBlockSize_DefaultsToNone()
    {
        Assert.That(Yaml.Load(Yaml.Valid).VDisks.Single().PhysicalBlockSize, Is.Zero);
    }

    [TestCase("1536", 512, "physical block size 1536 is not a power-of-two multiple of the block size 512")]
    [TestCase("256", 512, "physical block size 256 is not a power-of-two multiple of the block size 512")]
    [TestCase("2048", 4096, "physical block size 2048 is not a power-of-two multiple of the block size 4096")]
    [TestCase("128KiB", 512, "physical block size 131072 is larger than 64KiB")]
    public void PhysicalBlockSize_OutsideTheRules_IsReported(string text, int blockSize, string reason)
    {
        string yaml = Yaml.Valid.Replace("size: 8GiB", $"size: 8GiB\n    block_size: {blockSize}\n    physical_block_size: {text}");

        Yaml.FailsAt(yaml, 8, 26, "vdisks[0].physical_block_size", reason);
    }

    [Test]
    public void IscsiLengths_AcceptSizeUnits()
    {
        ApplianceConfig c = Yaml.Load(Yaml.With("iscsi:\n  max_burst_length: 512KiB\n  max_recv_data_segment_length: 8KiB"));

        Assert.That((c.Iscsi.MaxBurstLength, c.Iscsi.MaxRecvDataSegmentLength), Is.EqualTo((524288, 8192)));
    }

    // --- duplicates ---------------------------------------------------------------------------

    [Test]
    public void DuplicateContainerName_IsReportedAtTheSecondOne()
    {
        string yaml = Yaml.Valid.Replace("  - name: default\n", "  - name: default\n  - name: default\n");

        Yaml.FailsAt(yaml, 3, 11, "containers[1].name", "duplicate container name 'default' (first defined at line 2)");
    }

    [Test]
    public void DuplicateVDiskName_IsReportedAtTheSecondOne()
    {
        string yaml = Yaml.Valid.Replace("targets:", "  - name: disk0\n    container: default\n    size: 1GiB\ntargets:");

        Yaml.FailsAt(yaml, 7, 11, "vdisks[1].name", "duplicate vDisk name 'disk0' (first defined at line 4)");
    }

    [Test]
    public void DuplicateTargetName_IsReportedAtTheSecondOne()
    {
        string yaml = Yaml.With("""
              - name: iqn.2026-11.io.storageappliance:default
                luns: [{lun: 0, vdisk: disk0}]
            """);

        Yaml.FailsAt(yaml, 12, 11, "targets[1].name", "duplicate target name 'iqn.2026-11.io.storageappliance:default' (first defined at line 8)");
    }

    [Test]
    public void DuplicateLunNumber_InOneTarget_IsReported()
    {
        string yaml = Yaml.Valid.Replace("targets:", """
              - name: disk1
                container: default
                size: 1GiB
            targets:
            """) + "\n      - lun: 0\n        vdisk: disk1";

        Yaml.FailsAt(yaml, 15, 14, "targets[0].luns[1].lun", "LUN 0 is already used in this target (line 13)");
    }

    [Test]
    public void LunNumberAbove16383_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("lun: 0", "lun: 16384"), 10, 14, "targets[0].luns[0].lun", "16384 is out of range (0..16383)");
    }

    [Test]
    public void SameVDiskTwiceInOneTarget_IsReported()
    {
        string yaml = Yaml.With("      - lun: 1\n        vdisk: disk0");

        Yaml.FailsAt(yaml, 13, 16, "targets[0].luns[1].vdisk", "vDisk 'disk0' is already exported by this target (line 11)");
    }

    [Test]
    public void SameVDiskInTwoTargets_IsAllowedForMultipath()
    {
        string yaml = Yaml.With("""
              - name: iqn.2026-11.io.storageappliance:path2
                luns: [{lun: 0, vdisk: disk0}]
            """);

        ApplianceConfig c = Yaml.Load(yaml);

        Assert.That(c.Targets.Select(t => t.Luns[0].VDisk), Is.EqualTo(new[] { "disk0", "disk0" }));
    }

    // --- references ---------------------------------------------------------------------------

    [Test]
    public void VDiskNamingAMissingContainer_IsReportedWithAHint()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("container: default", "container: defualt"), 5, 16, "vdisks[0].container",
            "no container is named 'defualt'; did you mean 'default'?");
    }

    [Test]
    public void LunNamingAMissingVDisk_IsReportedWithTheDefinedNames()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("vdisk: disk0", "vdisk: scratch"), 11, 16, "targets[0].luns[0].vdisk",
            "no vDisk is named 'scratch' (defined: disk0)");
    }

    [Test]
    public void ReferencesMayPointForward()
    {
        const string yaml = """
            targets:
              - name: iqn.2026-11.io.storageappliance:default
                luns: [{lun: 0, vdisk: disk0}]
            vdisks:
              - {name: disk0, container: default, size: 1GiB}
            containers:
              - name: default
            """;

        Assert.That(Yaml.Load(yaml).Targets.Single().Luns.Single().VDisk, Is.EqualTo("disk0"));
    }

    // --- names --------------------------------------------------------------------------------

    [TestCase("IQN.2026-11.io.storageappliance:default", "must be lower case")]
    [TestCase("iqn.2026-11.io.StorageAppliance:default", "write 'iqn.2026-11.io.storageappliance:default'")]
    [TestCase("iqn.26-11.io.storageappliance:default", "a date yyyy-mm")]
    [TestCase("iqn.2026-13.io.storageappliance:default", "month 13")]
    [TestCase("iqn.2026-11:default", "no naming authority")]
    [TestCase("iqn.2026-11.io..storageappliance", "an empty label")]
    [TestCase("iqn.2026-11.io_storageappliance", "'_' in its naming authority")]
    [TestCase("iqn.2026-11.io.storageappliance:", "ends with ':'")]
    [TestCase("iqn.2026-11.io.storageappliance:my disk", "contains ' '")]
    [TestCase("storageappliance:default", "must start with iqn., eui. or naa.")]
    [TestCase("eui.02004567a425678", "exactly 16 hex digits")]
    [TestCase("naa.52004567ba64678d00", "16 or 32 hex digits")]
    public void InvalidTargetName_IsReported(string name, string reason)
    {
        Yaml.FailsAt(Yaml.Valid.Replace("iqn.2026-11.io.storageappliance:default", $"\"{name}\""), 8, 11, "targets[0].name", reason);
    }

    [Test]
    public void TargetNameLongerThan223Bytes_IsReported()
    {
        string name = "iqn.2026-11.io.storageappliance:" + new string('x', 223 - 32 + 1);

        Yaml.FailsAt(Yaml.Valid.Replace("iqn.2026-11.io.storageappliance:default", name), 8, 11, "targets[0].name",
            "is 224 bytes; an iSCSI name is at most 223 bytes");
    }

    [TestCase("iqn.2026-11.io.storageappliance")]
    [TestCase("iqn.1998-01.com.vmware:esx-01.lab:4f5e6d7c")]
    [TestCase("eui.02004567a425678d")]
    [TestCase("naa.52004567ba64678d")]
    [TestCase("naa.60014055f7fe3b2e9c5e4a1a2b3c4d5e")]
    public void ValidIscsiNames_AreAccepted(string name)
    {
        Assert.That(IscsiName.IsValid(name, out string? error), Is.True, error);
    }

    [Test]
    public void IscsiNameOfExactly223Bytes_IsAccepted()
    {
        string name = "iqn.2026-11.io.storageappliance:" + new string('x', 223 - 32);

        Assert.That(Yaml.Load(Yaml.Valid.Replace("iqn.2026-11.io.storageappliance:default", name)).Targets[0].Name, Has.Length.EqualTo(223));
    }

    [Test]
    public void InvalidAllowedInitiator_IsReportedAtItsListItem()
    {
        string yaml = Yaml.With("    allowed_initiators: [iqn.1998-01.com.vmware:esx1, Iqn.1998-01.com.vmware:esx2]");

        Yaml.FailsAt(yaml, 12, 55, "targets[0].allowed_initiators[1]", "must be lower case");
    }

    [TestCase("My-Appliance", "is not a valid appliance name")]
    [TestCase("appliance_1", "is not a valid appliance name")]
    public void InvalidApplianceName_IsReported(string name, string reason)
    {
        Yaml.FailsAt(Yaml.With($"appliance:\n  name: {name}"), 13, 9, "appliance.name", reason);
    }

    [TestCase("my disk", "is not a valid name")]
    [TestCase("..", "cannot be a name")]
    [TestCase("a/b", "is not a valid name")]
    [TestCase("nfs-1a", "reserved for the vDisks of NFS files")]
    [TestCase("NFS-disk", "reserved for the vDisks of NFS files")]
    public void InvalidVDiskName_IsReported(string name, string reason)
    {
        Yaml.FailsAt(Yaml.Valid.Replace("name: disk0", $"name: \"{name}\"").Replace("vdisk: disk0", $"vdisk: \"{name}\""), 4, 11, "vdisks[0].name", reason);
    }

    // --- listen addresses ---------------------------------------------------------------------

    [TestCase("127.0.0.1", "has no port")]
    [TestCase("127.0.0.1:0", "a port is a number from 1 to 65535")]
    [TestCase("127.0.0.1:65536", "a port is a number from 1 to 65535")]
    [TestCase("127.0.0.1:iscsi", "a port is a number from 1 to 65535")]
    [TestCase("localhost:3260", "no host names")]
    [TestCase("127.1:3260", "is not an IP address")]
    [TestCase("300.0.0.1:3260", "is not an IP address")]
    [TestCase("::1:3260", "without brackets")]
    [TestCase("[::1:3260", "without ']'")]
    [TestCase("[127.0.0.1]:3260", "is not an IPv6 address")]
    [TestCase(":3260", "has no address")]
    public void InvalidListenAddress_IsReported(string address, string reason)
    {
        Yaml.FailsAt(Yaml.With($"iscsi:\n  listen: [\"127.0.0.1:3260\", \"{address}\"]"), 13, 30, "iscsi.listen[1]", reason);
    }

    [TestCase("127.0.0.1:3260", "127.0.0.1:3260")]
    [TestCase("0.0.0.0:3260", "0.0.0.0:3260")]
    [TestCase("*:860", "0.0.0.0:860")]
    [TestCase("[::1]:3260", "[::1]:3260")]
    [TestCase("[::]:3260", "[::]:3260")]
    [TestCase("192.168.10.20:65535", "192.168.10.20:65535")]
    public void ValidListenAddress_IsParsed(string address, string expected)
    {
        ApplianceConfig c = Yaml.Load(Yaml.With($"iscsi:\n  listen: \"{address}\""));

        Assert.That(c.Iscsi.Listen.Select(l => l.ToString()), Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void RepeatedListenAddress_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  listen:\n    - 127.0.0.1:3260\n    - 127.0.0.1:3260"), 15, 7, "iscsi.listen[1]",
            "'127.0.0.1:3260' is listed twice (also iscsi.listen[0], line 14)");
    }

    [Test]
    public void StarAndZeroAddress_AreTheSameListenAddress()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  listen: [\"*:3260\", 0.0.0.0:3260]"), 13, 22, "iscsi.listen[1]", "is listed twice");
    }

    [Test]
    public void AddressCoveredByAWildcardOnTheSamePort_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  listen: [\"*:3260\", 10.1.2.3:3260, 10.1.2.3:3261]"), 13, 22, "iscsi.listen[1]",
            "a wildcard address already covers every address on port 3260");
    }

    [Test]
    public void EmptyListenList_WhileEnabled_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  listen: []"), 13, 11, "iscsi.listen", "at least one ADDR:PORT");
    }

    [Test]
    public void EmptyListen_IsAllowedWhenIscsiIsDisabled()
    {
        ApplianceConfig c = Yaml.Load(Yaml.With("iscsi:\n  enabled: false\n  listen:"));

        Assert.That((c.Iscsi.Enabled, c.Iscsi.Listen.Count), Is.EqualTo((false, 0)));
    }

    [Test]
    public void UnquotedWildcard_ExplainsTheYamlAlias()
    {
        ConfigError e = Yaml.FailsAt(Yaml.With("iscsi:\n  listen:\n    - *:3260"), 14, 7, "", "is read as a YAML alias");

        Assert.That(e.Reason, Does.Contain("quote it: \"*:3260\""));
    }

    // --- CHAP ---------------------------------------------------------------------------------

    [Test]
    public void ChapSecretTooShort_IsReportedWithoutShowingTheSecret()
    {
        string yaml = Yaml.With("    auth:\n      chap:\n        username: esx\n        secret: hunter2");

        ConfigError e = Yaml.FailsAt(yaml, 15, 17, "targets[0].auth.chap.secret", "the secret is 7 characters; a CHAP secret is 12 to 255 characters");

        Assert.That(e.ToString(), Does.Not.Contain("hunter2"));
    }

    [Test]
    public void MutualChapWithoutChap_IsReported()
    {
        string yaml = Yaml.With("    auth:\n      mutual_chap: {username: tgt, secret: target-secret-1}");

        Yaml.FailsAt(yaml, 13, 7, "targets[0].auth.mutual_chap", "mutual_chap needs chap");
    }

    [Test]
    public void MutualChapWithTheSameSecret_IsReported()
    {
        string yaml = Yaml.With("""
                auth:
                  chap: {username: esx, secret: one-secret-for-all}
                  mutual_chap: {username: tgt, secret: one-secret-for-all}
            """);

        ConfigError e = Yaml.FailsAt(yaml, 14, 44, "targets[0].auth.mutual_chap.secret", "must differ from chap.secret");

        Assert.That(e.ToString(), Does.Not.Contain("one-secret-for-all"));
    }

    [Test]
    public void EmptyAuth_IsNotSilentlyNoAuthentication()
    {
        Yaml.FailsAt(Yaml.With("    auth:"), 12, 5, "targets[0].auth", "auth is empty");
    }

    [Test]
    public void ChapWithoutUsername_IsReported()
    {
        Yaml.FailsAt(Yaml.With("    auth:\n      chap: {secret: initiator-secret}"), 13, 13, "targets[0].auth.chap.username", "a value is required");
    }

    // --- YAML syntax --------------------------------------------------------------------------

    [Test]
    public void BadIndentation_IsASyntaxErrorWithItsPosition()
    {
        const string yaml = "containers:\n  - name: a\nvdisks:\n  - name: disk0\n    container: a\n   size: 1GiB\n";

        Yaml.FailsAt(yaml, 6, 4, "", "invalid YAML");
    }

    [Test]
    public void UnterminatedQuote_IsASyntaxErrorWithItsPosition()
    {
        Yaml.FailsAt(Yaml.With("appliance:\n  name: \"lab"), 13, 9, "", "invalid YAML");
    }

    [Test]
    public void UnclosedFlowList_IsASyntaxErrorWithItsPosition()
    {
        Yaml.FailsAt("containers: [{name: a}\nvdisks: []\n", 2, 1, "", "invalid YAML");
    }

    [Test]
    public void TabIndentation_IsReportedOnItsLine()
    {
        Yaml.FailsAt("containers:\n\t- name: a\n", 2, 1, "", "indent with spaces, not tabs");
    }

    [Test]
    public void RepeatedKeyInOneMapping_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("    size: 8GiB", "    size: 8GiB\n    size: 4GiB"), 7, 5, "", "the key 'size' appears twice");
    }

    [Test]
    public void EmptyFile_IsReported()
    {
        Yaml.FailsAt("# nothing here\n", 1, 1, "", "the config is empty");
    }

    [Test]
    public void SecondDocument_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid + "\n---\ncontainers: []\n", 13, 1, "", "one YAML document");
    }

    // --- wrong types --------------------------------------------------------------------------

    [Test]
    public void ListWhereAMappingIsExpected_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  - enabled: true"), 13, 3, "iscsi", "expected a mapping (key: value lines), found a list");
    }

    [Test]
    public void MappingWhereAValueIsExpected_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("size: 8GiB", "size: {gib: 8}"), 6, 11, "vdisks[0].size", "expected a single value, found a mapping");
    }

    [Test]
    public void ValueWhereAListIsExpected_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("containers:\n  - name: default", "containers: default"), 1, 13, "containers",
            "expected a list ('- item' lines or [a, b]), found the value 'default'");
    }

    [Test]
    public void ListItemThatIsNotAMapping_IsReported()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("  - name: default", "  - default"), 2, 5, "containers[0]", "expected a mapping");
    }

    [Test]
    public void QuotedNumber_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  queue_depth: \"64\""), 13, 16, "iscsi.queue_depth", "found the quoted string '64' (remove the quotes)");
    }

    [Test]
    public void NonNumber_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  queue_depth: deep"), 13, 16, "iscsi.queue_depth", "'deep' is not a whole number");
    }

    [TestCase("portal_group_tag: 0", 21, "0 is out of range (1..65535)")]
    [TestCase("queue_depth: 4097", 16, "4097 is out of range (1..4096)")]
    [TestCase("default_time2wait: -1", 22, "-1 is out of range (0..3600)")]
    [TestCase("max_recv_data_segment_length: 256", 33, "256 is out of range (512..16777215 bytes)")]
    [TestCase("max_burst_length: 16MiB", 21, "16MiB is out of range (512..16777215 bytes)")]
    public void NumberOutOfRange_IsReported(string line, int column, string reason)
    {
        string key = line[..line.IndexOf(':')];
        Yaml.FailsAt(Yaml.With($"iscsi:\n  {line}"), 13, column, $"iscsi.{key}", reason);
    }

    [TestCase("yes", true)]
    [TestCase("no", false)]
    [TestCase("True", true)]
    [TestCase("false", false)]
    public void YamlBooleans_AreAccepted(string text, bool expected)
    {
        Assert.That(Yaml.Load(Yaml.With($"iscsi:\n  initial_r2t: {text}")).Iscsi.InitialR2T, Is.EqualTo(expected));
    }

    [Test]
    public void NonBoolean_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  immediate_data: sometimes"), 13, 19, "iscsi.immediate_data", "'sometimes' is not a boolean");
    }

    [Test]
    public void FirstBurstLargerThanMaxBurst_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  max_burst_length: 65536\n  first_burst_length: 131072"), 14, 23, "iscsi.first_burst_length",
            "first_burst_length 131072 is larger than max_burst_length 65536");
    }

    [Test]
    public void FirstBurstDefaultLargerThanASmallerMaxBurst_IsReportedAtMaxBurst()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  max_burst_length: 65536"), 13, 21, "iscsi.max_burst_length",
            "first_burst_length 262144 is larger than max_burst_length 65536");
    }

    [Test]
    public void UnknownDigest_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  header_digest: [CRC32C, MD5]"), 13, 27, "iscsi.header_digest[1]", "'MD5' is not a digest (use CRC32C or None)");
    }

    [Test]
    public void RepeatedDigest_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  data_digest: [None, none]"), 13, 23, "iscsi.data_digest[1]", "'none' is listed twice");
    }

    [TestCase("500ms", 500)]
    [TestCase("30s", 30_000)]
    [TestCase("5m", 300_000)]
    [TestCase("1h", 3_600_000)]
    [TestCase("45", 45_000)]
    [TestCase("0", 0)]
    public void Durations_AcceptTheirForms(string text, int milliseconds)
    {
        Assert.That(Yaml.Load(Yaml.With($"iscsi:\n  nop_in_interval: {text}")).Iscsi.NopInInterval, Is.EqualTo(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [TestCase("30 sec")]
    [TestCase("1.5s")]
    [TestCase("-5s")]
    [TestCase("s")]
    public void BadDuration_IsReported(string text)
    {
        Yaml.FailsAt(Yaml.With($"iscsi:\n  login_timeout: {text}"), 13, 18, "iscsi.login_timeout", "is not a duration");
    }

    // --- required keys ------------------------------------------------------------------------

    [Test]
    public void VDiskWithoutSize_IsReportedAtTheVDisk()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("    size: 8GiB\n", ""), 4, 5, "vdisks[0].size", "every vDisk needs a size");
    }

    [Test]
    public void VDiskWithEmptyContainer_IsReportedAtTheKey()
    {
        Yaml.FailsAt(Yaml.Valid.Replace("container: default", "container:"), 5, 5, "vdisks[0].container", "every vDisk names its container");
    }

    [Test]
    public void MissingContainers_IsReported()
    {
        Yaml.FailsAt("vdisks: []\n", 1, 1, "containers", "at least one container is required");
    }

    [Test]
    public void EmptyContainerList_IsReported()
    {
        Yaml.FailsAt("containers: []\n", 1, 13, "containers", "at least one container is required");
    }

    [Test]
    public void TargetWithoutLuns_IsReported()
    {
        string yaml = Yaml.Valid[..Yaml.Valid.IndexOf("    luns:", StringComparison.Ordinal)] + "    alias: lonely";

        Yaml.FailsAt(yaml, 8, 5, "targets[0].luns", "a target exports at least one LUN");
    }

    // --- several errors -----------------------------------------------------------------------

    [Test]
    public void EveryError_IsReportedTogetherInFileOrder()
    {
        // References are checked after everything is read; the report is still in file order.
        const string yaml = """
            appliance:
              nmae: lab
            targets:
              - name: IQN.2026-11.io.storageappliance:default
                luns:
                  - lun: 0
                    vdisk: disk9
            containers:
              - name: default
              - name: default
            vdisks:
              - name: disk0
                container: default
                size: 8XB
            """;

        ConfigException ex = Yaml.Fails(yaml);

        Assert.That(ex.Errors.Select(e => (e.Line, e.Column, e.Path)), Is.EqualTo(new[]
        {
            (2, 3, "appliance.nmae"),
            (4, 11, "targets[0].name"),
            (7, 16, "targets[0].luns[0].vdisk"),
            (10, 11, "containers[1].name"),
            (14, 11, "vdisks[0].size"),
        }));
        string[] lines = ex.Message.Split('\n');
        Assert.That(lines, Has.Length.EqualTo(5));
        Assert.That(lines[0], Is.EqualTo("test.yaml:2:3: appliance.nmae: unknown key 'nmae'; did you mean 'name'?"));
        Assert.That(lines[2], Is.EqualTo("test.yaml:7:16: targets[0].luns[0].vdisk: no vDisk is named 'disk9'; did you mean 'disk0'?"));
    }
}
