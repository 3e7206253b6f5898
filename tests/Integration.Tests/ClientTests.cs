using System.Text.RegularExpressions;

namespace StorageAppliance.Integration.Tests;

/// <summary>Discovery and inquiry with libiscsi's command-line clients against a running appliance.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ClientTests
{
    private ApplianceProcess _appliance = null!;

    [OneTimeSetUp]
    public void Start() => _appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("1GiB", vdisks: 2));

    [OneTimeTearDown]
    public void Stop() => _appliance.Dispose();

    [Test]
    public void Discovery_lists_the_target_with_its_portal_and_luns()
    {
        var r = Client.Run("iscsi-ls", "-s", $"iscsi://{_appliance.Portal}");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        Assert.That(r.Stdout, Does.Contain($"Target:{ApplianceProcess.DefaultTarget} Portal:{_appliance.Portal},1"));
        // iscsi-ls prints block size times the last LBA, so a 1 GiB LUN shows as 1023M.
        Assert.That(r.Stdout, Does.Contain("Lun:0    Type:DIRECT_ACCESS (Size:1023M)"));
        Assert.That(r.Stdout, Does.Contain("Lun:1    Type:DIRECT_ACCESS (Size:1023M)"));
        var cap = Client.Run("iscsi-readcapacity16", _appliance.Url(lun: 1));
        Assert.That(cap.ExitCode, Is.EqualTo(0), cap.All);
        Assert.That(cap.Stdout, Does.Contain("Total size:1073741824"));
    }

    [Test]
    public void Inquiry_reports_a_direct_access_disk_with_vendor_and_product()
    {
        var r = Client.Run("iscsi-inq", _appliance.Url());
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        Assert.That(r.Stdout, Does.Contain("Peripheral Device Type:DIRECT_ACCESS"));
        Assert.That(r.Stdout, Does.Contain("Vendor:STORAPPL"));
        Assert.That(r.Stdout, Does.Contain("CmdQue:1"));
    }

    [Test]
    public void Device_identification_is_an_naa_id_that_differs_per_lun_and_survives_a_restart()
    {
        static string Naa(ApplianceProcess a, int lun)
        {
            // libiscsi prints the binary NAA designator raw, so read VPD 83 with the raw initiator.
            using var raw = new RawInitiator(a.IscsiPort);
            Assert.That(raw.Login("iqn.2026-11.test:vpd", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
            byte[] cdb = [0x12, 0x01, 0x83, 0x01, 0x00, 0x00];
            var (status, page) = raw.ScsiCommandIn(cdb, 256, lun);
            Assert.That(status, Is.EqualTo(0), "INQUIRY VPD 83");
            Assert.That(page[1], Is.EqualTo(0x83));
            int end = 4 + ((page[2] << 8) | page[3]);
            for (int off = 4; off + 4 <= end; off += 4 + page[off + 3])
            {
                int type = page[off + 1] & 0x0f, association = (page[off + 1] >> 4) & 0x3, length = page[off + 3];
                if (type == 3 && association == 0)
                {
                    Assert.That(length, Is.EqualTo(16), "NAA IEEE Registered Extended is 16 bytes");
                    return Convert.ToHexStringLower(page, off + 4, length);
                }
            }
            Assert.Fail("no logical-unit NAA designator in VPD 83");
            return "";
        }

        // A small appliance of its own, stopped and started again on the same data folder.
        var first = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB", vdisks: 2));
        string workDir = first.WorkDir;
        string lun0 = Naa(first, 0);
        string lun1 = Naa(first, 1);
        Assert.That(lun0, Does.StartWith("6"), "NAA type 6 (IEEE registered extended)");
        Assert.That(lun0, Is.Not.EqualTo(lun1));
        Assert.That(first.Signal("INT", TimeSpan.FromSeconds(20)), Is.True, "Ctrl-C must stop the appliance");
        first.Dispose(keepWorkDir: true);

        using var again = ApplianceProcess.Start(File.ReadAllText(Path.Combine(workDir, "appliance.yaml")), workDir);
        Assert.That(Naa(again, 0), Is.EqualTo(lun0), "the NAA id must survive a restart");
        Assert.That(Naa(again, 1), Is.EqualTo(lun1));
    }

    [Test]
    public void Vital_product_data_pages_are_listed_and_the_serial_number_is_stable_text()
    {
        // iscsi-inq takes the page code in decimal: 0 is the supported pages list, 128 the serial number.
        var pages = Client.Run("iscsi-inq", "-e", "1", "-c", "0", _appliance.Url());
        Assert.That(pages.ExitCode, Is.EqualTo(0), pages.All);
        foreach (var page in new[] { "0x80", "0x83", "0xb0", "0xb1", "0xb2" })
            Assert.That(pages.Stdout, Does.Contain("Page:" + page));
        var serial = Client.Run("iscsi-inq", "-e", "1", "-c", "128", _appliance.Url());
        Assert.That(serial.ExitCode, Is.EqualTo(0), serial.All);
        Assert.That(serial.Stdout, Does.Match(@"Unit Serial Number:\[?[0-9a-f]{16}"));
    }

    [Test]
    public void Qemu_with_crc32c_header_digests_writes_and_reads_back_a_pattern()
    {
        // libiscsi's command-line tools always offer None first; QEMU can insist on CRC32C.
        string opts = $"driver=iscsi,transport=tcp,portal={_appliance.Portal},target={ApplianceProcess.DefaultTarget},lun=1,header-digest=crc32c";
        var r = Client.Run("qemu-io", ["--image-opts", opts, "-c", "write -P 0x3c 65536 1M", "-c", "read -P 0x3c 65536 1M"]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        Assert.That(r.Stdout, Does.Contain("read 1048576/1048576 bytes at offset 65536"));
        Assert.That(r.All, Does.Not.Contain("Pattern verification failed"));
        Assert.That(_appliance.LogWhenContains("HeaderDigest=CRC32C"), Does.Contain("HeaderDigest=CRC32C"));
    }

    [Test]
    public void Unknown_target_is_refused_with_a_clear_log_line()
    {
        var r = Client.Run("iscsi-inq", _appliance.Url(target: "iqn.2026-11.io.storageappliance:nope"));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(_appliance.LogWhenContains("no target named"), Does.Contain("no target named 'iqn.2026-11.io.storageappliance:nope'"));
    }

    [Test]
    public void Many_sessions_at_once_all_succeed()
    {
        var runs = Enumerable.Range(0, 16)
            .Select(i => Task.Run(() => Client.Run("iscsi-inq", "-i", $"iqn.2026-11.test:many-{i}", _appliance.Url(lun: i % 2))))
            .ToArray();
        Task.WaitAll(runs);
        foreach (var r in runs)
            Assert.That(r.Result.ExitCode, Is.EqualTo(0), r.Result.All);
    }
}
