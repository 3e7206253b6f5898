using System.Net;
using StorageAppliance.Management.Config;

namespace StorageAppliance.Management.Tests.Config;

// The nfs section and exports. Line and column numbers count from Base: Yaml.Valid (11 lines), then
// lines 12-16 below; tests append from line 17.
public class NfsConfigTests
{
    private static readonly string Base = Yaml.With("""
        nfs:
          listen: ["127.0.0.1:2049"]
        exports:
          - path: /vmstore
            container: default
        """);

    private static string WithExportKeys(string keys) => Base + "\n" + keys;

    [Test]
    public void EveryNfsAndExportKey_IsBound()
    {
        string yaml = Yaml.With("""
            nfs:
              enabled: true
              listen: ["0.0.0.0:2050", "[::1]:2049"]
              mount_port: 0
              portmapper: system
            exports:
              - path: /
                container: default
                read_only: true
                clients: [192.168.1.10, "10.0.0.0/8", "fd00::/64"]
                root_squash: true
                anon_uid: 0
                anon_gid: 4294967294
            """);

        ApplianceConfig c = Yaml.Load(yaml);

        ExportConfig e = c.Exports.Single();
        Assert.Multiple(() =>
        {
            Assert.That(c.Nfs.Enabled, Is.True);
            Assert.That(c.Nfs.Listen, Is.EqualTo(new[] { new ListenAddress(IPAddress.Any, 2050), new ListenAddress(IPAddress.IPv6Loopback, 2049) }));
            Assert.That((c.Nfs.MountPort, c.Nfs.Portmapper), Is.EqualTo((0, PortmapperMode.System)));
            Assert.That((e.Path, e.Container, e.ReadOnly, e.RootSquash), Is.EqualTo(("/", "default", true, true)));
            Assert.That(e.Clients, Is.EqualTo(new[] { IPNetwork.Parse("192.168.1.10/32"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("fd00::/64") }));
            Assert.That((e.AnonUid, e.AnonGid), Is.EqualTo((0u, 4294967294u)));
        });
    }

    [Test]
    public void EmptyNfsSection_TurnsNfsOnWithTheDefaults()
    {
        NfsConfig nfs = Yaml.Load(Yaml.With("nfs:")).Nfs;

        Assert.That((nfs.Enabled, nfs.Listen.Single().ToString(), nfs.MountPort, nfs.Portmapper), Is.EqualTo((true, "127.0.0.1:2049", 20048, PortmapperMode.Auto)));
    }

    [Test]
    public void NfsSectionWithoutEnabled_IsOn_AndEnabledFalseTurnsItOff()
    {
        Assert.That(Yaml.Load(Yaml.With("nfs:\n  mount_port: 635")).Nfs.Enabled, Is.True);
        Assert.That(Yaml.Load(Yaml.With("nfs:\n  enabled: false")).Nfs.Enabled, Is.False);
    }

    [Test]
    public void Exports_AreKept_WhileNfsIsOff()
    {
        ApplianceConfig c = Yaml.Load(Yaml.With("exports: [{path: /vmstore, container: default}]"));

        Assert.That((c.Nfs.Enabled, c.Exports.Single().Path), Is.EqualTo((false, "/vmstore")));
    }

    [TestCase("auto", PortmapperMode.Auto)]
    [TestCase("embedded", PortmapperMode.Embedded)]
    [TestCase("System", PortmapperMode.System)]
    [TestCase("off", PortmapperMode.Off)]
    public void PortmapperModes_AreAccepted(string text, PortmapperMode mode)
    {
        Assert.That(Yaml.Load(Yaml.With($"nfs:\n  portmapper: {text}")).Nfs.Portmapper, Is.EqualTo(mode));
    }

    [Test]
    public void UnknownPortmapperMode_IsReported()
    {
        Yaml.FailsAt(Yaml.With("nfs:\n  portmapper: rpc"), 13, 15, "nfs.portmapper", "'rpc' is not a portmapper mode (use auto, embedded, system or off)");
    }

    [Test]
    public void NfsListenOnTheDefaultIscsiPortal_IsReported()
    {
        Yaml.FailsAt(Yaml.With("nfs:\n  listen: [\"127.0.0.1:3260\"]"), 13, 12, "nfs.listen[0]",
            "'127.0.0.1:3260' is also an iSCSI portal (the default iscsi.listen); NFS needs its own port");
    }

    [Test]
    public void NfsWildcardCoveringAWrittenIscsiPortal_IsReported()
    {
        Yaml.FailsAt(Yaml.With("iscsi:\n  listen: [10.0.0.5:3260]\nnfs:\n  listen: [\"*:3260\"]"), 15, 12, "nfs.listen[0]",
            "is also an iSCSI portal (iscsi.listen[0], line 13)");
    }

    [Test]
    public void NfsOnAnIscsiPort_IsFineWhileIscsiIsOff()
    {
        ApplianceConfig c = Yaml.Load(Yaml.With("iscsi:\n  enabled: false\nnfs:\n  listen: [\"127.0.0.1:3260\"]"));

        Assert.That(c.Nfs.Listen.Single().Port, Is.EqualTo(3260));
    }

    [Test]
    public void MountPortOnTheNfsPort_IsReported()
    {
        Yaml.FailsAt(Yaml.With("nfs:\n  mount_port: 2049"), 13, 15, "nfs.mount_port",
            "MOUNT would listen on 127.0.0.1:2049, which is the NFS port of nfs.listen; choose another port, or 0 for any free one");
    }

    [Test]
    public void MountPortOnAnIscsiPortal_IsReported()
    {
        Yaml.FailsAt(Yaml.With("nfs:\n  mount_port: 3260"), 13, 15, "nfs.mount_port", "which is an iSCSI portal (the default iscsi.listen)");
    }

    [Test]
    public void MountPortOutOfRange_IsReported()
    {
        Yaml.FailsAt(Yaml.With("nfs:\n  mount_port: 70000"), 13, 15, "nfs.mount_port", "70000 is out of range (0..65535)");
    }

    [Test]
    public void EmptyNfsListen_WhileEnabled_IsReported()
    {
        Yaml.FailsAt(Yaml.With("nfs:\n  listen: []"), 13, 11, "nfs.listen", "at least one ADDR:PORT");
    }

    // --- export paths -------------------------------------------------------------------------

    [TestCase("vmstore", "'vmstore' is not an absolute path: write it from the root, e.g. /vmstore")]
    [TestCase("/vmstore/", "'/vmstore/' ends with '/': write /vmstore")]
    [TestCase("/a/../vmstore", "contains '..'")]
    [TestCase("/vmstore/..", "contains '..'")]
    [TestCase("/a//vmstore", "has an empty part ('//')")]
    [TestCase("/a/./vmstore", "contains '.'")]
    [TestCase("/vm\\tstore", "contains a control character")]
    [TestCase("", "an empty path is not an export path")]
    public void ExportPathBreakingTheRules_IsReported(string path, string reason)
    {
        Yaml.FailsAt(Base.Replace("path: /vmstore", $"path: \"{path}\""), 15, 11, "exports[0].path", reason);
    }

    [Test]
    public void ExportPathLongerThanMntPathLen_IsReported()
    {
        Yaml.FailsAt(Base.Replace("path: /vmstore", "path: /" + new string('x', 1024)), 15, 11, "exports[0].path",
            "the path is 1025 bytes; a mount path is at most 1024 (RFC 1813 MNTPATHLEN)");
    }

    [TestCase("/")]
    [TestCase("/a/b.c/d-e_f")]
    [TestCase("/..hidden")]
    public void NormalizedExportPaths_AreAccepted(string path)
    {
        Assert.That(Yaml.Load(Base.Replace("path: /vmstore", $"path: \"{path}\"")).Exports[0].Path, Is.EqualTo(path));
    }

    [Test]
    public void DuplicateExportPath_IsReportedAtTheSecondOne()
    {
        Yaml.FailsAt(WithExportKeys("  - path: /vmstore\n    container: default"), 17, 11, "exports[1].path",
            "duplicate export path '/vmstore' (first defined at line 15)");
    }

    [TestCase("/vmstore/images")]
    [TestCase("/")]
    public void NestedExports_AreReported(string path)
    {
        Yaml.FailsAt(WithExportKeys($"  - path: {path}\n    container: default"), 17, 11, "exports[1].path",
            $"export '{path}' and export '/vmstore' (line 15) lie one inside the other; nested exports are not supported");
    }

    [Test]
    public void SiblingExportsSharingAPrefix_AreNotNested()
    {
        ApplianceConfig c = Yaml.Load(WithExportKeys("  - path: /vmstore2\n    container: default\n    read_only: true"));

        Assert.That(c.Exports.Select(e => (e.Path, e.ReadOnly)), Is.EqualTo(new[] { ("/vmstore", false), ("/vmstore2", true) }));
    }

    [Test]
    public void ExportNamingAMissingContainer_IsReportedWithAHint()
    {
        Yaml.FailsAt(Base[..Base.LastIndexOf("default", StringComparison.Ordinal)] + "defualt", 16, 16, "exports[0].container",
            "no container is named 'defualt'; did you mean 'default'?");
    }

    [Test]
    public void ExportWithoutContainer_IsReported()
    {
        Yaml.FailsAt(WithExportKeys("  - path: /other"), 17, 5, "exports[1].container", "every export names the container it shows");
    }

    [Test]
    public void UnknownExportKey_IsReportedWithAHint()
    {
        Yaml.FailsAt(WithExportKeys("    root_sqash: false"), 17, 5, "exports[0].root_sqash", "unknown key 'root_sqash'; did you mean 'root_squash'?");
    }

    // --- clients ------------------------------------------------------------------------------

    [TestCase("10.0.0.1/8", "'10.0.0.1/8' has address bits set beyond the first 8; did you mean 10.0.0.0/8?")]
    [TestCase("192.168.1.77/24", "did you mean 192.168.1.0/24?")]
    [TestCase("fd00::1/64", "did you mean fd00::/64?")]
    [TestCase("10.0.0.0/33", "an IPv4 prefix length is 0 to 32")]
    [TestCase("fd00::/129", "an IPv6 prefix length is 0 to 128")]
    [TestCase("10.0.0.0/", "has prefix length ''")]
    [TestCase("10.0.0.0/-1", "has prefix length '-1'")]
    [TestCase("esx1.lab", "'esx1.lab' is not an IP address; clients take addresses or CIDR networks")]
    [TestCase("10.1", "'10.1' is not an IP address")]
    [TestCase("300.1.1.1", "is not an IP address")]
    [TestCase("*", "to allow every client, leave clients out or write clients: []")]
    [TestCase("fe80::1%eth0", "has a scope id")]
    [TestCase("/24", "has no address")]
    public void BadClient_IsReportedAtItsListItem(string client, string reason)
    {
        Yaml.FailsAt(WithExportKeys($"    clients: [\"10.0.0.0/8\", \"{client}\"]"), 17, 29, "exports[0].clients[1]", reason);
    }

    [Test]
    public void SameClientNetworkTwice_IsReported()
    {
        Yaml.FailsAt(WithExportKeys("    clients: [10.0.0.7, 10.0.0.7/32]"), 17, 25, "exports[0].clients[1]", "'10.0.0.7/32' is listed twice (line 17)");
    }

    [Test]
    public void SingleClient_MayBeWrittenWithoutAList()
    {
        Assert.That(Yaml.Load(WithExportKeys("    clients: 10.0.0.7")).Exports[0].Clients, Is.EqualTo(new[] { IPNetwork.Parse("10.0.0.7/32") }));
    }

    [TestCase("10.1.2.3", true)]
    [TestCase("::ffff:10.1.2.3", true)]
    [TestCase("11.0.0.1", false)]
    [TestCase("127.0.0.1", true)]
    [TestCase("127.0.0.2", false)]
    [TestCase("fd00::5", true)]
    [TestCase("fd01::5", false)]
    public void Allows_MatchesAddressesAndNetworks_IncludingIPv4SeenOnADualStackSocket(string client, bool allowed)
    {
        ExportConfig e = Yaml.Load(WithExportKeys("    clients: [127.0.0.1, 10.0.0.0/8, \"fd00::/64\"]")).Exports[0];

        Assert.That(e.Allows(IPAddress.Parse(client)), Is.EqualTo(allowed));
    }

    [Test]
    public void NoClients_AllowsAnyone()
    {
        Assert.That(Yaml.Load(Base).Exports[0].Allows(IPAddress.Parse("203.0.113.9")), Is.True);
    }

    [TestCase("anon_uid: -1", 15, "-1 is out of range (0..4294967294)")]
    [TestCase("anon_gid: 4294967295", 15, "4294967295 is out of range (0..4294967294)")]
    [TestCase("root_squash: maybe", 18, "'maybe' is not a boolean")]
    public void BadExportValues_AreReported(string line, int column, string reason)
    {
        string key = line[..line.IndexOf(':')];
        Yaml.FailsAt(WithExportKeys("    " + line), 17, column, $"exports[0].{key}", reason);
    }
}
