using System.Text.Json;

namespace StorageAppliance.Integration.Tests;

/// <summary>Dedup and compression through iSCSI with qemu-img, the Curator's CLI, and a SIGKILL (issue 7).</summary>
[TestFixture]
public sealed class DataReductionTests
{
    private const string Reduce = "    dedup: true\n    compression: lz4\n    post_process_delay: 1s";

    [Test]
    public void Clones_written_through_iscsi_are_stored_once_compressed_and_survive_a_sigkill()
    {
        var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("96MiB", vdisks: 3, containerExtra: Reduce));
        try
        {
            string image = Path.Combine(appliance.WorkDir, "base.raw");
            WriteImage(image, 64L << 20, seed: 7);
            string clone = Path.Combine(appliance.WorkDir, "clone.raw");
            File.Copy(image, clone);
            using (var f = new FileStream(clone, FileMode.Open, FileAccess.Write))
            {
                // A clone changed in a few places, as a booted VM would change its copy.
                foreach (long at in new[] { 4096L, 10L << 20, 33L << 20 })
                {
                    f.Position = at;
                    f.Write(System.Text.Encoding.ASCII.GetBytes($"hostname-of-clone-at-{at}"));
                }
            }
            foreach (var (file, lun) in new[] { (image, 0), (clone, 1) })
            {
                var convert = Client.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", file, appliance.Url(lun: lun)], TimeSpan.FromMinutes(2));
                Assert.That(convert.ExitCode, Is.EqualTo(0), convert.All);
            }
            // A partial rewrite: 8 KiB into LUN 2 lands in a slot; the Curator reduces it once quiet (post_process_delay 1s).
            string small = Path.Combine(appliance.WorkDir, "small.raw");
            File.WriteAllBytes(small, Enumerable.Range(0, 8192).Select(i => (byte)(i % 251)).ToArray());
            Assert.That(Client.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 0 8k", appliance.Url(lun: 2)]).ExitCode, Is.EqualTo(0));
            Thread.Sleep(1500);

            var scan = appliance.Cli("curator", "scan");
            Assert.That(scan.ExitCode, Is.EqualTo(0), scan.All);
            Assert.That(scan.Stdout, Does.Contain("blocks reduced").And.Contain("problems"), scan.All);
            Assert.That(scan.Stdout, Does.Match(@"blocks reduced \(post-process\)\s+[1-9]"), "LUN 2's partly written block was reduced: " + scan.All);

            var (logical, stored) = ContainerFigures(appliance);
            long nonZero = NonZeroBytes(image);
            // Logical bytes: what both clones map (zero runs inside a chunk with data count, wholly zero chunks do not).
            Assert.That(logical, Is.InRange(2 * nonZero, 2 * (64L << 20) + (1 << 20)), "logical bytes: the data both clones hold");
            Assert.That(stored, Is.LessThan(0.5 * nonZero), $"stored {stored} for two clones of {nonZero} bytes of data: once, and compressed");

            appliance.Kill();
            appliance = appliance.Restart();
            foreach (var (file, lun) in new[] { (image, 0), (clone, 1) })
            {
                var compare = Client.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", file, appliance.Url(lun: lun)], TimeSpan.FromMinutes(2));
                Assert.That(compare.ExitCode, Is.EqualTo(0), $"LUN {lun} after SIGKILL: {compare.All}");
            }
            var read = Client.Run("qemu-io", ["-f", "raw", "-c", "read -P 0x5a 0 8k", appliance.Url(lun: 2)]);
            Assert.That(read.ExitCode, Is.EqualTo(0), read.All);
            Assert.That(read.All, Does.Not.Contain("Pattern verification failed"));

            var json = appliance.Cli("curator", "scan", "--json");
            Assert.That(json.ExitCode, Is.EqualTo(0), json.All);
            using var report = JsonDocument.Parse(json.Stdout);
            Assert.That(report.RootElement.GetProperty("problems").GetArrayLength(), Is.Zero);
            Assert.That(report.RootElement.GetProperty("extentsVerified").GetInt32(), Is.GreaterThan(100), "the scrub read every extent back");
        }
        finally
        {
            appliance.Dispose();
        }
    }

    [Test]
    public void Nfs_copies_of_one_file_are_stored_once_and_read_back_after_a_sigkill()
    {
        if (!File.Exists("/usr/bin/nfs-cp"))
            Assert.Ignore("nfs-cp is not installed (tests/setup/install-deps.sh installs it)");
        var appliance = ApplianceProcess.Start(ApplianceProcess.NfsConfig(containerExtra: Reduce), portmapper: "off");
        try
        {
            string local = Path.Combine(appliance.WorkDir, "image.bin");
            var data = new byte[16 << 20];
            new Random(11).NextBytes(data);
            File.WriteAllBytes(local, data);
            foreach (var name in new[] { "a.img", "b.img" })
            {
                var up = Client.Run("/usr/bin/nfs-cp", [local, appliance.NfsUrl("/vmstore/" + name)], TimeSpan.FromMinutes(2));
                Assert.That(up.ExitCode, Is.EqualTo(0), up.All);
            }
            Thread.Sleep(1500); // post_process_delay 1s: blocks a round saw only in part are reduced by the scan
            var scan = appliance.Cli("curator", "scan", "--no-scrub");
            Assert.That(scan.ExitCode, Is.EqualTo(0), scan.All);
            var (logical, stored) = ContainerFigures(appliance);
            Assert.That(logical, Is.EqualTo(2L * data.Length), "both files' data");
            Assert.That(stored, Is.LessThan(data.Length * 1.05), $"stored {stored} for two copies of {data.Length} random bytes: once");

            appliance.Kill();
            appliance = appliance.Restart();
            foreach (var name in new[] { "a.img", "b.img" })
            {
                string back = Path.Combine(appliance.WorkDir, "back-" + name);
                var down = Client.Run("/usr/bin/nfs-cp", [appliance.NfsUrl("/vmstore/" + name), back], TimeSpan.FromMinutes(2));
                Assert.That(down.ExitCode, Is.EqualTo(0), down.All);
                Assert.That(File.ReadAllBytes(back), Is.EqualTo(data), $"{name} after SIGKILL");
            }
        }
        finally
        {
            appliance.Dispose();
        }
    }

    private static (long Logical, long Stored) ContainerFigures(ApplianceProcess appliance)
    {
        var r = appliance.Cli("stats", "--json", "--interval", "0");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        using var doc = JsonDocument.Parse(r.Stdout);
        var c = doc.RootElement.GetProperty("dataReduction").GetProperty("containers")[0];
        return (c.GetProperty("logicalBytes").GetInt64(), c.GetProperty("storedBytes").GetInt64());
    }

    private static long NonZeroBytes(string path)
    {
        long n = 0;
        var data = File.ReadAllBytes(path);
        for (int i = 0; i < data.Length; i += 4096)
            if (data.AsSpan(i, Math.Min(4096, data.Length - i)).ContainsAnyExcept((byte)0))
                n += Math.Min(4096, data.Length - i);
        return n;
    }

    /// <summary>An OS-image-like file: 64 KiB runs of text-like bytes, random bytes and zeros.</summary>
    private static void WriteImage(string path, long size, int seed)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var buffer = new byte[1 << 16];
        var rng = new Random(seed);
        const string text = "Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nDepends: libgcc-s1\n";
        for (long off = 0; off < size; off += buffer.Length)
        {
            switch (rng.Next(4))
            {
                case 0:
                    Array.Clear(buffer);
                    break;
                case 1:
                    rng.NextBytes(buffer);
                    break;
                default:
                    for (int i = 0; i < buffer.Length; i++)
                        buffer[i] = (byte)text[(i * (off % 7 == 0 ? 1 : 3)) % text.Length];
                    break;
            }
            fs.Write(buffer);
        }
    }
}
