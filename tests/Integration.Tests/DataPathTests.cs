
namespace StorageAppliance.Integration.Tests;

/// <summary>Data written by real initiators (fio, qemu-img) reads back exactly.</summary>
[TestFixture]
[NonParallelizable]
public sealed class DataPathTests
{
    [Test]
    public void Fio_random_4k_writes_at_queue_depth_32_verify_with_crc32c()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("1GiB"));
        string filename = appliance.Url().Replace(":", "\\:", StringComparison.Ordinal);
        var r = Client.Run(Paths.Fio,
        [
            "--name=verify", "--ioengine=libiscsi", $"--filename={filename}", "--initiator=iqn.2026-11.test:fio",
            "--rw=randwrite", "--bs=4k", "--iodepth=32", "--size=256m", "--verify=crc32c", "--do_verify=1",
            "--verify_fatal=1", "--randrepeat=0", "--output-format=normal",
        ], TimeSpan.FromMinutes(5));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        Assert.That(r.Stdout, Does.Contain("err= 0"), r.All);
        Assert.That(r.All, Does.Not.Contain("verify: bad"), r.All);
        Assert.That(r.Stdout, Does.Match(@"read: IOPS="), "the verify phase read the data back");
    }

    [Test]
    public void Fio_large_sequential_writes_use_r2t_and_verify()
    {
        // 1 MiB writes exceed FirstBurstLength, so most of each command's data is solicited with R2T.
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("1GiB", iscsiExtra: "  max_outstanding_r2t: 4\n  max_burst_length: 262144"));
        string filename = appliance.Url().Replace(":", "\\:", StringComparison.Ordinal);
        var r = Client.Run(Paths.Fio,
        [
            "--name=seq", "--ioengine=libiscsi", $"--filename={filename}", "--rw=write", "--bs=1m", "--iodepth=8",
            "--size=256m", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
        ], TimeSpan.FromMinutes(5));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        Assert.That(r.Stdout, Does.Contain("err= 0"), r.All);
    }

    [Test]
    public void Qemu_img_convert_of_a_1GiB_image_onto_a_lun_compares_equal()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("2GiB"));
        string image = Path.Combine(appliance.WorkDir, "source.raw");
        WritePatternImage(image, 1L << 30);
        var convert = Client.Run("qemu-img", ["convert", "-n", "-p", "-f", "raw", "-O", "raw", image, appliance.Url()], TimeSpan.FromMinutes(5));
        Assert.That(convert.ExitCode, Is.EqualTo(0), convert.All);
        var compare = Client.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, appliance.Url()], TimeSpan.FromMinutes(5));
        Assert.That(compare.ExitCode, Is.EqualTo(0), compare.All);
        Assert.That(compare.Stdout, Does.Contain("Images are identical"));

        // And the comparison can fail: change one sector on the LUN and compare again.
        var io = Client.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 4096 512", appliance.Url()]);
        Assert.That(io.ExitCode, Is.EqualTo(0), io.All);
        var differs = Client.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, appliance.Url()], TimeSpan.FromMinutes(5));
        Assert.That(differs.ExitCode, Is.EqualTo(1), differs.All);
        Assert.That(differs.Stdout, Does.Contain("Content mismatch at offset 4096"));
    }

    /// <summary>A 1 GiB image of varied content: random 64 KiB runs, repeated runs, and zero runs.</summary>
    private static void WritePatternImage(string path, long size)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var buffer = new byte[1 << 16];
        var rng = new Random(1234);
        for (long off = 0; off < size; off += buffer.Length)
        {
            int kind = rng.Next(4);
            if (kind == 0)
                Array.Clear(buffer);
            else if (kind == 1)
                Array.Fill(buffer, (byte)rng.Next(256));
            else
                rng.NextBytes(buffer);
            fs.Write(buffer);
        }
    }
}
