using System.Globalization;
using System.Text.RegularExpressions;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// NFS data integrity through the real appliance at high queue depth, checked with clients that keep every
/// request: QEMU's NFS block driver (qemu-io with hundreds of aio_writes in flight, qemu-img bench -d 64,
/// qemu-img convert -W), libnfs's nfs-cp there and back, and fio's nfs engine only at depth 1.
/// </summary>
/// <remarks>
/// Why not fio at depth: fio 3.33's nfs engine waits for completions only while all of its iodepth slots
/// are busy (its getevents never blocks otherwise), so a job ends with up to iodepth-1 requests in flight;
/// its cleanup unmounts, libnfs 4.0.0 first drops the NFS connection, and those requests fail with "Failed
/// NFS operation(code:-14)" while the job still reports err=0. Those not yet at the server are lost:
/// with 1 MiB writes at depth 32, a 128 MiB job reports err=0 with io=97-116 MiB and a verify at depth 1
/// then finds "bad magic header 0", against nfs-ganesha slowed by SIGSTOP/SIGCONT as against this
/// appliance. At depth 1 every request completes before the next is issued. QEMU uses the same libnfs but
/// waits for every request before it unmounts.
/// The appliance runs in its own network namespace with the embedded portmapper on port 111: qemu's NFS
/// driver takes no port options and asks the portmapper.
/// </remarks>
[TestFixture]
[NonParallelizable]
public sealed class NfsIntegrityTests
{
    private const string QemuImg = "/usr/bin/qemu-img";
    private const string QemuIo = "/usr/bin/qemu-io";
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromMinutes(10);

    private NetworkNamespace _netns = null!;
    private ApplianceProcess _appliance = null!;
    private string _tmp = null!;

    [OneTimeSetUp]
    public void Start()
    {
        foreach (string tool in new[] { QemuImg, QemuIo, "/usr/bin/nfs-cp" })
        {
            if (!File.Exists(tool))
                Assert.Ignore($"{tool} is not installed (tests/setup/install-deps.sh installs it)");
        }
        var netns = NetworkNamespace.TryCreate(out string why);
        if (netns is null)
            Assert.Ignore("these tests need a network namespace for port 111: " + why);
        _netns = netns;
        _appliance = ApplianceProcess.Start(ApplianceProcess.NfsConfig(), portmapper: "embedded", netns: _netns);
        string log = _appliance.LogWhenContains("NFS: serving");
        Assert.That(log, Does.Contain("portmapper: embedded on 127.0.0.1:111"), "qemu's NFS driver needs the portmapper on port 111");
        _tmp = Path.Combine(_appliance.WorkDir, "local");
        Directory.CreateDirectory(_tmp);
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _appliance?.Dispose();
        _netns?.Dispose();
    }

    /// <summary>A file on /vmstore as QEMU names it (through the portmapper).</summary>
    private static string QemuUrl(string file) => "nfs://127.0.0.1/vmstore/" + file;

    private Client.Result Run(string tool, params string[] args) => _netns.Run(tool, args, ClientTimeout);

    /// <summary>Runs a client that must succeed and say nothing on stderr (a warning there is a finding too).</summary>
    private Client.Result Ok(string tool, params string[] args)
    {
        var r = Run(tool, args);
        Assert.That(r.ExitCode, Is.EqualTo(0), $"{Path.GetFileName(tool)} {string.Join(' ', args)}:\n{r.All}");
        Assert.That(r.Stderr.Trim(), Is.Empty, $"{Path.GetFileName(tool)} {string.Join(' ', args)} warned:\n{r.All}");
        return r;
    }

    /// <summary>Kills the appliance (no drain, no checkpoint) and starts it again on the same data and ports.</summary>
    private void KillAndRestart()
    {
        _appliance.Kill();
        Assert.That(_appliance.Log, Does.Not.Contain("NFS: stopped"), "killed, not stopped");
        _appliance = _appliance.Restart();
        Assert.That(_appliance.LogWhenContains("NFS: serving"), Does.Contain("portmapper: embedded on 127.0.0.1:111"));
    }

    private static void AssertCompareIdentical(Client.Result compare, string what)
    {
        Assert.That(compare.ExitCode, Is.EqualTo(0), what + ":\n" + compare.All);
        Assert.That(compare.Stdout, Does.Contain("Images are identical."), what);
    }

    // One region of an image written by one request: disjoint from every other, so the order in which
    // requests in flight complete cannot change what the image must hold.
    private readonly record struct Region(long Offset, int Length, byte Pattern);

    /// <summary>
    /// Regions of mixed sizes (512 B to just over 1 MiB, crossing the server's transfer size) tiling
    /// [start, start + span) with a pattern per region that differs from both neighbours, in random order.
    /// </summary>
    private static List<Region> MixedRegions(long start, long span, int seed)
    {
        int[] sizes = [512, 4096, 8192, 65536, 131072 + 512, 1048576 + 4096];
        var rng = new Random(seed);
        var regions = new List<Region>();
        long off = start;
        int i = 0;
        while (off < start + span)
        {
            int len = (int)Math.Min(sizes[rng.Next(sizes.Length)], start + span - off);
            regions.Add(new Region(off, len, (byte)(1 + (i % 250))));
            off += len;
            i++;
        }
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(regions));
        return regions;
    }

    [Test]
    public void Qemu_io_aio_writes_in_flight_together_read_back_exactly_also_after_sigkill()
    {
        const long Size = 64L << 20;
        Ok(QemuImg, "create", "-f", "raw", QemuUrl("aio.raw"), Size.ToString(CultureInfo.InvariantCulture));

        // Every aio_write is issued without waiting for the one before; aio_flush waits for them all and
        // then sends COMMIT (qemu-io's default cache mode passes flushes to the driver).
        var regions = MixedRegions(0, 48L << 20, seed: 13);
        var write = new List<string> { "-f", "raw", QemuUrl("aio.raw") };
        foreach (var r in regions)
            write.AddRange(["-c", $"aio_write -P {r.Pattern} {r.Offset} {r.Length}"]);
        write.AddRange(["-c", "aio_flush"]);
        var wrote = Ok(QemuIo, [.. write]);
        Assert.That(Regex.Matches(wrote.Stdout, @"^wrote (\d+)/\1 bytes at offset", RegexOptions.Multiline).Count, Is.EqualTo(regions.Count),
            "every aio_write completes whole:\n" + wrote.Stdout);
        // The premise of the test: the completions come back in another order than the writes were issued, so
        // they were in flight together (the appliance runs up to 128 calls of a connection at once, and a
        // 512-byte write overtakes a 1 MiB one).
        var completed = Regex.Matches(wrote.Stdout, @"^wrote \d+/\d+ bytes at offset (\d+)", RegexOptions.Multiline).Select(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.That(completed, Is.Not.EqualTo(regions.Select(r => r.Offset).ToList()), "many writes were in flight at once");

        // A high-depth 4 KiB load over the rest: every other block, then the blocks between, two patterns.
        Ok(QemuImg, "bench", "-f", "raw", "-w", "-d", "64", "-c", "2048", "-s", "4096", "-S", "8192", "-o", (48L << 20).ToString(CultureInfo.InvariantCulture), "--pattern=90", QemuUrl("aio.raw"));
        Ok(QemuImg, "bench", "-f", "raw", "-w", "-d", "64", "-c", "2048", "-s", "4096", "-S", "8192", "-o", ((48L << 20) + 4096).ToString(CultureInfo.InvariantCulture), "--pattern=165", QemuUrl("aio.raw"));
        Ok(QemuIo, "-f", "raw", QemuUrl("aio.raw"), "-c", "flush");

        // The expected image, byte for byte, for qemu-img compare.
        string expected = Path.Combine(_tmp, "aio-expected.raw");
        var image = new byte[Size];
        foreach (var r in regions)
            image.AsSpan((int)r.Offset, r.Length).Fill(r.Pattern);
        for (long off = 48L << 20; off < (48L << 20) + 2048L * 8192; off += 8192)
        {
            image.AsSpan((int)off, 4096).Fill(90);
            image.AsSpan((int)off + 4096, 4096).Fill(165);
        }
        File.WriteAllBytes(expected, image);

        void Check(string when)
        {
            var read = new List<string> { "-f", "raw", QemuUrl("aio.raw") };
            foreach (var r in regions.OrderBy(r => r.Offset))
                read.AddRange(["-c", $"read -P {r.Pattern} {r.Offset} {r.Length}"]);
            var back = Run(QemuIo, [.. read]);
            Assert.That(back.All, Does.Not.Contain("Pattern verification failed"), when);
            Assert.That(back.ExitCode, Is.EqualTo(0), when + ":\n" + back.All);
            Assert.That(Regex.Matches(back.Stdout, @"^read (\d+)/\1 bytes at offset", RegexOptions.Multiline).Count, Is.EqualTo(regions.Count), when);
            AssertCompareIdentical(Run(QemuImg, "compare", "-f", "raw", "-F", "raw", expected, QemuUrl("aio.raw")), when);
        }

        Check("after the writes");
        KillAndRestart();
        Check("after SIGKILL and restart");

        // Control: the checks above can fail. A region read with its neighbour's pattern does, and
        // qemu-img compare finds one 4 KiB block overwritten behind its back at that block's offset.
        var first = regions.MinBy(r => r.Offset);
        var wrong = Run(QemuIo, "-f", "raw", QemuUrl("aio.raw"), "-c", $"read -P {first.Pattern + 1} {first.Offset} {first.Length}");
        Assert.That(wrong.ExitCode, Is.EqualTo(1), wrong.All);
        Assert.That(wrong.Stdout, Does.Contain("Pattern verification failed at offset 0"));
        Ok(QemuIo, "-f", "raw", QemuUrl("aio.raw"), "-c", "write -P 0 40M 4k"); // 0: a pattern no write above used
        var differ = Run(QemuImg, "compare", "-f", "raw", "-F", "raw", expected, QemuUrl("aio.raw"));
        Assert.That(differ.ExitCode, Is.EqualTo(1), differ.All);
        Assert.That(differ.Stdout, Does.Contain($"Content mismatch at offset {40 << 20}!"));
    }

    [Test]
    public void Qemu_img_convert_with_out_of_order_writes_compares_identical_also_after_sigkill()
    {
        // 96 MiB: random 1 MiB pieces, some left zero (convert skips them on a fresh target), and an
        // unaligned random run across piece boundaries.
        string source = Path.Combine(_tmp, "convert-source.raw");
        var data = new byte[96 << 20];
        var rng = new Random(29);
        for (int piece = 0; piece < 96; piece++)
        {
            if (piece % 7 != 3)
                rng.NextBytes(data.AsSpan(piece << 20, 1 << 20));
        }
        rng.NextBytes(data.AsSpan((3 << 20) - 777, 5000));
        File.WriteAllBytes(source, data);

        // -W: out-of-order writes; -m 16: sixteen coroutines, each with requests in flight. -t writeback: the
        // target is flushed (COMMIT) when convert closes it, where convert's default cache mode (unsafe) would not.
        var convert = Ok(QemuImg, "convert", "-W", "-m", "16", "-t", "writeback", "-f", "raw", "-O", "raw", source, QemuUrl("convert.raw"));
        Assert.That(convert.Stdout.Trim(), Is.Empty, convert.All);
        AssertCompareIdentical(Run(QemuImg, "compare", "-f", "raw", "-F", "raw", source, QemuUrl("convert.raw")), "after convert");
        var info = Ok(QemuImg, "info", "-f", "raw", QemuUrl("convert.raw"));
        Assert.That(info.Stdout, Does.Contain("virtual size: 96 MiB"));

        KillAndRestart();
        AssertCompareIdentical(Run(QemuImg, "compare", "-f", "raw", "-F", "raw", source, QemuUrl("convert.raw")), "after SIGKILL and restart");

        // Control: one source byte changed, compare names its offset.
        data[(61 << 20) + 12345] ^= 0x5a;
        File.WriteAllBytes(source, data);
        var differ = Run(QemuImg, "compare", "-f", "raw", "-F", "raw", source, QemuUrl("convert.raw"));
        Assert.That(differ.ExitCode, Is.EqualTo(1), differ.All);
        Assert.That(differ.Stdout, Does.Contain($"Content mismatch at offset {(61 << 20) + 12288}!"), "the 512-byte sector holding the changed byte (compare reports sectors)");
    }

    [Test]
    public void Nfs_cp_of_a_large_random_file_comes_back_identical()
    {
        string local = Path.Combine(_tmp, "big.bin");
        const int Size = (160 << 20) + 12345; // not a multiple of any transfer size
        var data = new byte[Size];
        new Random(31).NextBytes(data);
        File.WriteAllBytes(local, data);
        Ok("/usr/bin/nfs-cp", local, _appliance.NfsUrl("/vmstore/big.bin"));
        string back = Path.Combine(_tmp, "big.back");
        Ok("/usr/bin/nfs-cp", _appliance.NfsUrl("/vmstore/big.bin"), back);
        Assert.That(new FileInfo(back).Length, Is.EqualTo(Size));
        Assert.That(FirstDifference(back, data), Is.EqualTo(-1), "the copy back differs from what was sent");

        // Control: a byte changed on the server (through QEMU's driver) shows up in the next copy back.
        Ok(QemuIo, "-f", "raw", QemuUrl("big.bin"), "-c", "write -P 0 100M 512");
        string again = Path.Combine(_tmp, "big.again");
        Ok("/usr/bin/nfs-cp", _appliance.NfsUrl("/vmstore/big.bin"), again);
        long at = FirstDifference(again, data);
        Assert.That(at, Is.InRange(100L << 20, (100L << 20) + 511), "the changed sector is found");
    }

    /// <summary>The first offset at which the file differs from <paramref name="expected"/> (length included), or -1.</summary>
    private static long FirstDifference(string path, byte[] expected)
    {
        var actual = File.ReadAllBytes(path);
        int n = Math.Min(actual.Length, expected.Length);
        int common = actual.AsSpan(0, n).CommonPrefixLength(expected.AsSpan(0, n));
        if (common < n)
            return common;
        return actual.Length == expected.Length ? -1 : n;
    }

    [Test]
    public void Fio_at_depth_one_verifies_crc32c_and_reports_no_client_failures()
    {
        if (!File.Exists(Paths.Fio))
            Assert.Ignore($"{Paths.Fio} is missing (tests/setup/install-deps.sh builds fio with the nfs engine)");
        string url = $"nfs://127.0.0.1/vmstore?nfsport={_appliance.NfsPort}&mountport={_appliance.MountPort}";
        Client.Result Fio(string[] args) => _netns.Run(Paths.Fio, args, ClientTimeout, _appliance.WorkDir);

        FioNfs.LayOut(Fio, url, "fio-qd1.bin");
        FioNfs.WriteWithHeaders(Fio, url, "fio-qd1.bin");
        FioNfs.VerifyPasses(Fio, url, "fio-qd1.bin");
        KillAndRestart();
        FioNfs.VerifyPasses(Fio, url, "fio-qd1.bin");
        FioNfs.VerifyFailsOnUnwrittenFile(Fio, url, "fio-plain.bin");
    }
}

/// <summary>
/// fio's nfs engine as integrity tests may use it: at depth 1 only (see <see cref="NfsIntegrityTests"/> for
/// what it does at depth), laid out by a sequential job (it creates files only then), written with crc32c
/// headers and checked by a separate verify-only pass as DESIGN.md describes, and failed on any line in
/// which the client reports a failed request.
/// </summary>
internal static class FioNfs
{
    public const int SizeMiB = 16;

    /// <summary>Lines a clean fio nfs job never prints: each means a request failed or data did not check.</summary>
    private static readonly string[] ClientFailures =
    [
        "Failed NFS operation", // the engine's callback saw an error: with err=0 below, a request fio stopped counting
        "nfs: ", // "nfs: Failed to queue nfs op", "nfs: socket is in an unrecoverable error state", mount errors
        "Got NFS EOF",
        "verify: bad",
        "io_u error",
        "fio: ",
    ];

    public static string[] Common(string url, string file) =>
        ["--ioengine=nfs", $"--nfs_url={url}", $"--filename={file}", $"--size={SizeMiB}m"];

    // --iodepth=1: the engine then waits for each request before issuing the next, so none is in flight when
    // the job unmounts. Depth above 1 loses the last requests of the job (see NfsIntegrityTests).
    public static string[] RandomJob(string url, string file) =>
        [.. Common(url, file), "--name=randwrite", "--rw=randwrite", "--bs=4k", "--iodepth=1", "--verify=crc32c", "--randrepeat=1"];

    /// <summary>Asserts a fio run succeeded with err=0 and without any client failure line.</summary>
    public static void AssertClean(Client.Result r, string what)
    {
        Assert.That(r.ExitCode, Is.EqualTo(0), what + ":\n" + r.All);
        Assert.That(r.All, Does.Contain("err= 0"), what);
        foreach (string line in r.All.Split('\n'))
        {
            foreach (string failure in ClientFailures)
                Assert.That(line, Does.Not.Contain(failure), $"{what}: the client reports a failure:\n{r.All}");
        }
    }

    public static void LayOut(Func<string[], Client.Result> fio, string url, string file) =>
        AssertClean(fio([.. Common(url, file), "--name=layout", "--rw=write", "--bs=1m", "--iodepth=1"]), "layout of " + file);

    public static void WriteWithHeaders(Func<string[], Client.Result> fio, string url, string file)
    {
        var write = fio([.. RandomJob(url, file), "--do_verify=0"]);
        AssertClean(write, "random writes to " + file);
        Assert.That(write.All, Does.Contain($"io={SizeMiB}.0MiB"), "every write completed and was counted");
    }

    public static void VerifyPasses(Func<string[], Client.Result> fio, string url, string file)
    {
        var verify = fio([.. RandomJob(url, file), "--verify_only=1"]);
        AssertClean(verify, "verify of " + file);
        Assert.That(verify.All, Does.Contain($"io={SizeMiB}.0MiB"), "every block was read back and verified");
    }

    /// <summary>A file laid out without fio's headers must fail the same verify pass, or a pass proves nothing.</summary>
    public static void VerifyFailsOnUnwrittenFile(Func<string[], Client.Result> fio, string url, string file)
    {
        LayOut(fio, url, file);
        var bad = fio([.. RandomJob(url, file), "--verify_only=1"]);
        Assert.That(bad.ExitCode, Is.Not.EqualTo(0), "verifying a file without fio's headers must fail: " + bad.All);
        Assert.That(bad.All, Does.Contain("verify: bad magic header"));
    }
}
