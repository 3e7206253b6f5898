using System.Net;
using StorageAppliance.Management.Config;

namespace StorageAppliance.Management.Tests.Config;

public class DefaultConfigTests
{
    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StorageAppliance.sln")))
                return Path.Combine(dir.FullName, relative);
        }
        throw new InvalidOperationException("StorageAppliance.sln not found above the test directory");
    }

    [Test]
    public void EmbeddedDefault_DescribesTheProductDefault()
    {
        ApplianceConfig c = ConfigLoader.LoadEmbeddedDefault();

        Assert.Multiple(() =>
        {
            Assert.That(c.Source, Is.EqualTo(ConfigLoader.EmbeddedDefaultName));
            Assert.That(c.Appliance.Name, Is.EqualTo("storage-appliance"));
            Assert.That(c.Appliance.DataDir, Is.EqualTo(Path.Combine(Directory.GetCurrentDirectory(), "data")));
            Assert.That(c.Iscsi.Enabled, Is.True);
            Assert.That(c.Iscsi.Listen, Is.EqualTo(new[] { new ListenAddress(IPAddress.Loopback, 3260) }));

            Assert.That(c.Nfs.Enabled, Is.True);
            Assert.That(c.Nfs.Listen, Is.EqualTo(new[] { new ListenAddress(IPAddress.Loopback, 2049) }));
            Assert.That(c.Nfs.MountPort, Is.EqualTo(20048));
            Assert.That(c.Nfs.Portmapper, Is.EqualTo(PortmapperMode.Auto));

            PoolConfig pool = c.Pools.Single();
            Assert.That((pool.Name, pool.Implicit), Is.EqualTo(("default", false)));
            DiskConfig disk = pool.Disks.Single();
            Assert.That(disk.Path, Is.EqualTo(Path.Combine(Directory.GetCurrentDirectory(), "data", "disks", "ssd0")));
            Assert.That((disk.Tier, disk.CapacityBytes), Is.EqualTo((StorageTier.Ssd, (long?)null)));
            Assert.That(pool.FixedCapacityBytes, Is.Null);

            ContainerConfig container = c.Containers.Single();
            Assert.That((container.Name, container.Pool, container.ReplicationFactor), Is.EqualTo(("default", "default", 1)));
            Assert.That((container.MaxCapacityBytes, container.ReservedCapacityBytes), Is.EqualTo((0L, 0L)));
            Assert.That((container.VDiskBlockSize, container.ExtentGroupSize), Is.EqualTo((1 << 20, 64L << 20)));
            Assert.That(container.TierPreference, Is.EqualTo(new[] { StorageTier.Ssd, StorageTier.Hdd }));

            ExportConfig export = c.Exports.Single();
            Assert.That((export.Path, export.Container, export.ReadOnly, export.RootSquash), Is.EqualTo(("/vmstore", "default", false, false)));
            Assert.That((export.AnonUid, export.AnonGid), Is.EqualTo((65534u, 65534u)));
            Assert.That(export.Clients, Is.Empty);
            Assert.That(c.FindExport("/vmstore"), Is.SameAs(export));
            Assert.That(c.FindPool("default"), Is.SameAs(pool));

            Assert.That(c.VDisks, Has.Count.EqualTo(1));
            VDiskConfig d = c.VDisks[0];
            Assert.That((d.Name, d.Container, d.SizeBytes, d.BlockSize), Is.EqualTo(("disk0", "default", 8L << 30, 512)));
            Assert.That((d.Thin, d.WriteCache, d.ReadOnly), Is.EqualTo((true, true, false)));
            Assert.That(d.BlockCount, Is.EqualTo((8L << 30) / 512));

            Assert.That(c.Targets, Has.Count.EqualTo(1));
            TargetConfig t = c.Targets[0];
            Assert.That(t.Name, Is.EqualTo("iqn.2026-11.io.storageappliance:default"));
            Assert.That(t.Alias, Is.EqualTo("default"));
            Assert.That(t.Luns.Select(l => (l.Lun, l.VDisk)), Is.EqualTo(new[] { (0, "disk0") }));
            Assert.That(t.AllowedInitiators, Is.Empty);
            Assert.That(t.Auth, Is.Null);
            Assert.That(c.Iscsi.DiscoveryAuth, Is.Null);

            Assert.That(c.FindTarget(t.Name), Is.SameAs(t));
            Assert.That(c.FindVDisk("disk0"), Is.SameAs(d));
            Assert.That(c.FindContainer("default"), Is.SameAs(c.Containers[0]));
        });
    }

    [Test]
    public void EmbeddedDefault_IsTheConfigFileInTheRepository()
    {
        Assert.That(ConfigLoader.EmbeddedDefaultText, Is.EqualTo(File.ReadAllText(RepoFile("config/appliance.yaml"))));
    }

    [Test]
    public void LoadFile_ResolvesDataDirAgainstTheFilesFolder()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mgmt-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string file = Path.Combine(dir, "appliance.yaml");
            File.WriteAllText(file, ConfigLoader.EmbeddedDefaultText);

            ApplianceConfig c = ConfigLoader.LoadFile(file);

            Assert.That(c.Appliance.DataDir, Is.EqualTo(Path.Combine(dir, "data")));
            Assert.That(c.Pools[0].Disks[0].Path, Is.EqualTo(Path.Combine(dir, "data", "disks", "ssd0")));
            Assert.That(c.Source, Is.EqualTo(file));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void LoadFile_NamesTheFileInItsErrors()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mgmt-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string file = Path.Combine(dir, "bad.yaml");
            File.WriteAllText(file, Yaml.With("bogus: 1"));

            var ex = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile(file))!;

            Assert.That(ex.Message, Is.EqualTo($"{file}:12:1: bogus: unknown key 'bogus' (known here: appliance, iscsi, nfs, director, pools, containers, vdisks, targets, exports)"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void LoadFile_MissingFile_IsAConfigErrorNamingThePath()
    {
        string file = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "appliance.yaml");

        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile(file))!;

        Assert.That(ex.Errors, Has.Count.EqualTo(1));
        Assert.That(ex.Message, Does.StartWith($"{file}: cannot read the config file"));
    }

    [Test]
    public void MinimalConfig_TakesTheSchemaDefaults()
    {
        ApplianceConfig c = Yaml.Load("containers: [{name: default}]");

        IscsiConfig i = c.Iscsi;
        Assert.Multiple(() =>
        {
            Assert.That(c.Appliance.Name, Is.EqualTo("storage-appliance"));
            Assert.That(c.Appliance.DataDir, Is.EqualTo(Path.GetFullPath("/srv/appliance/data")));
            Assert.That(i.Enabled, Is.True);
            Assert.That(i.Listen.Select(l => l.ToString()), Is.EqualTo(new[] { "127.0.0.1:3260" }));
            Assert.That(i.PortalGroupTag, Is.EqualTo(1));
            Assert.That(i.MaxRecvDataSegmentLength, Is.EqualTo(262144));
            Assert.That(i.MaxBurstLength, Is.EqualTo(1048576));
            Assert.That(i.FirstBurstLength, Is.EqualTo(262144));
            Assert.That(i.MaxOutstandingR2T, Is.EqualTo(1));
            Assert.That(i.ImmediateData, Is.True);
            Assert.That(i.InitialR2T, Is.False);
            Assert.That(i.HeaderDigest, Is.EqualTo(new[] { DigestType.Crc32C, DigestType.None }));
            Assert.That(i.DataDigest, Is.EqualTo(new[] { DigestType.Crc32C, DigestType.None }));
            Assert.That(i.DefaultTime2Wait, Is.EqualTo(2));
            Assert.That(i.DefaultTime2Retain, Is.EqualTo(20));
            Assert.That(i.MaxConnections, Is.EqualTo(1));
            Assert.That(i.QueueDepth, Is.EqualTo(128));
            Assert.That(i.NopInInterval, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(i.NopInTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(i.LoginTimeout, Is.EqualTo(TimeSpan.FromSeconds(15)));
            Assert.That(i.DiscoveryAuth, Is.Null);
            Assert.That(c.VDisks, Is.Empty);
            Assert.That(c.Targets, Is.Empty);

            // No nfs section: NFS is off. No pools section: one implicit pool under data_dir.
            Assert.That(c.Nfs.Enabled, Is.False);
            Assert.That(c.Exports, Is.Empty);
            PoolConfig pool = c.Pools.Single();
            Assert.That((pool.Name, pool.Implicit), Is.EqualTo(("default", true)));
            DiskConfig disk = pool.Disks.Single();
            Assert.That((disk.Path, disk.Tier, disk.CapacityBytes), Is.EqualTo((Path.GetFullPath("/srv/appliance/data/disks/ssd0"), StorageTier.Ssd, (long?)null)));
            ContainerConfig container = c.Containers.Single();
            Assert.That((container.Pool, container.ReplicationFactor, container.VDiskBlockSize, container.ExtentGroupSize), Is.EqualTo(("default", 1, 1 << 20, 64L << 20)));
            Assert.That(container.TierPreference, Is.EqualTo(new[] { StorageTier.Ssd, StorageTier.Hdd }));
        });
    }

    [Test]
    public void OverridingDataDir_MovesTheDisksInsideIt_AndLeavesOthers()
    {
        const string yaml = """
            appliance: {data_dir: /srv/a/data}
            pools:
              - name: default
                disks:
                  - {path: /srv/a/data/disks/ssd0}
                  - {path: /mnt/hdd0, tier: hdd}
            containers: [{name: default}]
            """;
        ApplianceConfig c = Yaml.Load(yaml);

        // What run --data-dir does.
        c.Appliance.DataDir = "/srv/b/data";

        Assert.That(c.Pools[0].Disks.Select(d => d.Path), Is.EqualTo(new[] { "/srv/b/data/disks/ssd0", "/mnt/hdd0" }));
        Assert.That(c.Appliance.AdminSocket, Is.EqualTo("/srv/b/data/admin.sock"));
    }

    [Test]
    public void ImplicitPool_FollowsAnOverriddenDataDir()
    {
        ApplianceConfig c = Yaml.Load("containers: [{name: default}]");

        c.Appliance.DataDir = "/tmp/side-by-side/data";

        Assert.That(c.Pools[0].Disks[0].Path, Is.EqualTo("/tmp/side-by-side/data/disks/ssd0"));
    }

    [Test]
    public void EveryKey_IsBound()
    {
        const string yaml = """
            appliance:
              name: lab-1
              data_dir: /var/lib/appliance
            iscsi:
              enabled: false
              listen: ["*:3261", "[::1]:3262", 10.0.0.5:3263]
              portal_group_tag: 7
              max_recv_data_segment_length: 64KiB
              max_burst_length: 524288
              first_burst_length: 65536
              max_outstanding_r2t: 4
              immediate_data: no
              initial_r2t: yes
              header_digest: None
              data_digest: [None, crc32c]
              default_time2wait: 5
              default_time2retain: 60
              max_connections: 1
              queue_depth: 256
              nop_in_interval: 0
              nop_in_timeout: 500ms
              login_timeout: 2m
              discovery_auth:
                chap: {username: disc, secret: discovery-secret}
            containers:
              - name: gold
              - name: silver
            vdisks:
              - name: db
                container: gold
                size: 1TiB
                block_size: 4096
                thin: false
                write_cache: false
                read_only: true
            targets:
              - name: iqn.2026-11.io.storageappliance:db
                alias: Database LUNs
                luns:
                  - {lun: 16383, vdisk: db}
                allowed_initiators: [iqn.1998-01.com.vmware:esx1, iqn.1993-08.org.debian:01:abc]
                auth:
                  chap: {username: esx, secret: initiator-secret}
                  mutual_chap: {username: target, secret: target-secret-1}
              - name: naa.60014055f7fe3b2e9c5e4a1a2b3c4d5e
                luns: [{lun: 0, vdisk: db}]
            """;

        ApplianceConfig c = Yaml.Load(yaml);

        IscsiConfig i = c.Iscsi;
        Assert.Multiple(() =>
        {
            Assert.That(c.Appliance.Name, Is.EqualTo("lab-1"));
            Assert.That(c.Appliance.DataDir, Is.EqualTo("/var/lib/appliance"));
            Assert.That(i.Enabled, Is.False);
            Assert.That(i.Listen, Is.EqualTo(new[]
            {
                new ListenAddress(IPAddress.Any, 3261),
                new ListenAddress(IPAddress.IPv6Loopback, 3262),
                new ListenAddress(IPAddress.Parse("10.0.0.5"), 3263),
            }));
            Assert.That(i.Listen[0].IsAnyAddress, Is.True);
            Assert.That(i.PortalGroupTag, Is.EqualTo(7));
            Assert.That(i.MaxRecvDataSegmentLength, Is.EqualTo(65536));
            Assert.That(i.MaxBurstLength, Is.EqualTo(524288));
            Assert.That(i.FirstBurstLength, Is.EqualTo(65536));
            Assert.That(i.MaxOutstandingR2T, Is.EqualTo(4));
            Assert.That(i.ImmediateData, Is.False);
            Assert.That(i.InitialR2T, Is.True);
            Assert.That(i.HeaderDigest, Is.EqualTo(new[] { DigestType.None }));
            Assert.That(i.DataDigest, Is.EqualTo(new[] { DigestType.None, DigestType.Crc32C }));
            Assert.That(i.DefaultTime2Wait, Is.EqualTo(5));
            Assert.That(i.DefaultTime2Retain, Is.EqualTo(60));
            Assert.That(i.MaxConnections, Is.EqualTo(1));
            Assert.That(i.QueueDepth, Is.EqualTo(256));
            Assert.That(i.NopInInterval, Is.EqualTo(TimeSpan.Zero));
            Assert.That(i.NopInTimeout, Is.EqualTo(TimeSpan.FromMilliseconds(500)));
            Assert.That(i.LoginTimeout, Is.EqualTo(TimeSpan.FromMinutes(2)));
            Assert.That(i.DiscoveryAuth!.Chap.Username, Is.EqualTo("disc"));
            Assert.That(i.DiscoveryAuth.Chap.Secret, Is.EqualTo("discovery-secret"));
            Assert.That(i.DiscoveryAuth.MutualChap, Is.Null);

            Assert.That(c.Containers.Select(x => x.Name), Is.EqualTo(new[] { "gold", "silver" }));
            VDiskConfig d = c.VDisks.Single();
            Assert.That((d.Name, d.Container, d.SizeBytes, d.BlockSize), Is.EqualTo(("db", "gold", 1L << 40, 4096)));
            Assert.That((d.Thin, d.WriteCache, d.ReadOnly), Is.EqualTo((false, false, true)));

            Assert.That(c.Targets, Has.Count.EqualTo(2));
            TargetConfig t = c.Targets[0];
            Assert.That(t.Alias, Is.EqualTo("Database LUNs"));
            Assert.That(t.Luns.Select(l => (l.Lun, l.VDisk)), Is.EqualTo(new[] { (16383, "db") }));
            Assert.That(t.AllowedInitiators, Is.EqualTo(new[] { "iqn.1998-01.com.vmware:esx1", "iqn.1993-08.org.debian:01:abc" }));
            Assert.That(t.Auth!.Chap.Username, Is.EqualTo("esx"));
            Assert.That(t.Auth.Chap.Secret, Is.EqualTo("initiator-secret"));
            Assert.That(t.Auth.MutualChap!.Username, Is.EqualTo("target"));
            Assert.That(t.Auth.MutualChap.Secret, Is.EqualTo("target-secret-1"));
            Assert.That(t.Auth.Chap.ToString(), Does.Not.Contain("initiator-secret"));
            // Multipath: the second target exports the same vDisk.
            Assert.That(c.Targets[1].Name, Is.EqualTo("naa.60014055f7fe3b2e9c5e4a1a2b3c4d5e"));
            Assert.That(c.Targets[1].Luns.Single().VDisk, Is.EqualTo("db"));
            Assert.That(c.Targets[1].Alias, Is.Null);
        });
    }
}
