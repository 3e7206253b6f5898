namespace StorageAppliance.Integration.Tests;

/// <summary>A vDisk with <c>backing: none</c> (the benchmark's null device) next to an engine vDisk, through a real client.</summary>
public sealed class NullVDiskTests
{
    [Test]
    public void A_null_lun_discards_writes_and_reads_zeros_while_an_engine_lun_keeps_data()
    {
        string config = ApplianceProcess.SimpleConfig("256MiB", vdisks: 2).Replace(
            "  - name: disk1\n    container: default\n    size: 256MiB",
            "  - name: disk1\n    container: default\n    size: 256MiB\n    backing: none");
        Assert.That(config, Does.Contain("backing: none"));
        using var appliance = ApplianceProcess.Start(config);

        string Url(int lun) => $"iscsi://{appliance.Portal}/{ApplianceProcess.DefaultTarget}/{lun}";
        var engine = Client.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 4096 64k", "-c", "read -P 0x5a 4096 64k", Url(0)]);
        Assert.That(engine.ExitCode, Is.EqualTo(0), engine.All);
        Assert.That(engine.All, Does.Not.Contain("Pattern verification failed"));

        var none = Client.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 4096 64k", "-c", "read -P 0 4096 64k", Url(1)]);
        Assert.That(none.ExitCode, Is.EqualTo(0), none.All);
        Assert.That(none.All, Does.Contain("wrote 65536/65536"));
        Assert.That(none.All, Does.Not.Contain("Pattern verification failed"));

        var inq = Client.Run("iscsi-readcapacity16", [Url(1)]);
        Assert.That(inq.ExitCode, Is.EqualTo(0), inq.All);
        Assert.That(inq.Stdout, Does.Contain("Total size:268435456"));
    }
}
