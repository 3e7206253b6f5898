using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// NFS served by the real appliance process (out/appliance run --nfs-listen ...), files stored as vDisks of
/// the storage engine, driven by real clients: libnfs's nfs-ls/nfs-cp/nfs-cat, fio's nfs engine and
/// qemu-img. The exports are <see cref="ApplianceProcess.DefaultExports"/> in a container capped at 1 GiB.
/// </summary>
[TestFixture]
public sealed class NfsApplianceTests
{
    private const string Capped = "    max_capacity: 1GiB";
    private const uint Nfs3Ok = 0;
    private const uint Nfs3ErrStale = 70;

    private ApplianceProcess _appliance = null!;
    private string _tmp = null!;

    [OneTimeSetUp]
    public void Start()
    {
        Require("nfs-cp");
        _appliance = ApplianceProcess.Start(ApplianceProcess.NfsConfig(containerExtra: Capped), portmapper: "off");
        _tmp = Path.Combine(_appliance.WorkDir, "local");
        Directory.CreateDirectory(_tmp);
    }

    [OneTimeTearDown]
    public void Stop() => _appliance?.Dispose();

    private static void Require(string tool)
    {
        if (Path.IsPathRooted(tool) ? !File.Exists(tool) : !File.Exists("/usr/bin/" + tool))
            Assert.Ignore($"{tool} is not installed (tests/setup/install-deps.sh installs it)");
    }

    private static string Sha(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(f));
    }

    private static Client.Result Nfs(string tool, params string[] args) => Client.Run("/usr/bin/" + tool, args, TimeSpan.FromMinutes(3));

    [Test]
    public void Files_of_several_sizes_copy_in_and_out_unchanged_as_engine_vdisks()
    {
        int[] sizes = [0, 1, 4095, 4096, (1 << 20) + 7, 64 << 20];
        foreach (int size in sizes)
        {
            string local = Path.Combine(_tmp, $"in-{size}");
            var data = new byte[size];
            new Random(size).NextBytes(data);
            File.WriteAllBytes(local, data);
            var up = Nfs("nfs-cp", local, _appliance.NfsUrl($"/vmstore/f-{size}"));
            Assert.That(up.ExitCode, Is.EqualTo(0), $"upload of {size} bytes: {up.All}");
            string back = Path.Combine(_tmp, $"out-{size}");
            var down = Nfs("nfs-cp", _appliance.NfsUrl($"/vmstore/f-{size}"), back);
            Assert.That(down.ExitCode, Is.EqualTo(0), $"download of {size} bytes: {down.All}");
            Assert.That(Sha(back), Is.EqualTo(Sha(local)), $"{size} bytes come back unchanged");
        }
        var ls = Nfs("nfs-ls", _appliance.NfsUrl("/vmstore"));
        Assert.That(ls.ExitCode, Is.EqualTo(0), ls.All);
        foreach (int size in sizes)
            Assert.That(ls.Stdout, Does.Match($@"\s{size}\s+f-{size}\b"), $"nfs-ls shows f-{size} with its size");

        // The data went through the storage engine: each written file is a vDisk of the export's container.
        string log = _appliance.LogWhenContains("created in container default");
        int vdisks = Regex.Matches(log, @"vDisk nfs-[0-9a-f]{16} \(id [0-9a-f]+\) created in container default").Count;
        Assert.That(vdisks, Is.GreaterThanOrEqualTo(sizes.Length - 1), "one engine vDisk per non-empty file:\n" + log);
        Assert.That(Directory.GetFiles(Path.Combine(_appliance.WorkDir, "data"), "*.vdisk", SearchOption.AllDirectories), Is.Empty, "no file-backed vDisks");
    }

    [Test]
    public void Nfs_cat_prints_a_file()
    {
        string local = Path.Combine(_tmp, "hello.txt");
        File.WriteAllText(local, "hello from the appliance\nsecond line\n");
        var up = Nfs("nfs-cp", local, _appliance.NfsUrl("/vmstore/hello.txt"));
        Assert.That(up.ExitCode, Is.EqualTo(0), up.All);
        var cat = Nfs("nfs-cat", _appliance.NfsUrl("/vmstore/hello.txt"));
        Assert.That(cat.ExitCode, Is.EqualTo(0), cat.All);
        Assert.That(cat.Stdout, Does.StartWith("hello from the appliance\nsecond line\n"));
    }

    [Test]
    public void A_read_only_export_refuses_writes_with_rofs()
    {
        string local = Path.Combine(_tmp, "ro-attempt");
        File.WriteAllBytes(local, new byte[100]);
        var r = Nfs("nfs-cp", local, _appliance.NfsUrl("/ro/attempt"));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0), r.All);
        Assert.That(r.All, Does.Contain("NFS3ERR_ROFS"));
        var ls = Nfs("nfs-ls", _appliance.NfsUrl("/ro"));
        Assert.That(ls.ExitCode, Is.EqualTo(0), "reading the read-only export works: " + ls.All);
        Assert.That(ls.Stdout, Does.Not.Contain("attempt"));
    }

    [Test]
    public void A_client_outside_the_allow_list_is_refused_at_mnt()
    {
        var r = Nfs("nfs-ls", _appliance.NfsUrl("/private"));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0), r.All);
        Assert.That(r.All, Does.Contain("MNT3ERR_ACCES"));
        Assert.That(_appliance.LogWhenContains("refused mount of /private"), Does.Contain("refused mount of /private by 127.0.0.1"));
    }

    [Test]
    public void Root_squash_and_anonymous_ids_come_from_the_config()
    {
        // nfs-cp runs as root here (AUTH_SYS uid 0): kept on /vmstore (root_squash: false is the config's
        // default, unlike the front end's own default), mapped to anon_uid/anon_gid on /squash.
        string local = Path.Combine(_tmp, "owner");
        File.WriteAllText(local, "who owns me");
        Assert.That(Nfs("nfs-cp", local, _appliance.NfsUrl("/vmstore/owned")).ExitCode, Is.EqualTo(0));
        Assert.That(Nfs("nfs-cp", local, _appliance.NfsUrl("/squash/owned")).ExitCode, Is.EqualTo(0));
        Assert.That(Nfs("nfs-ls", _appliance.NfsUrl("/vmstore")).Stdout, Does.Match(@"\s0\s+0\s+11\s+owned\b"));
        Assert.That(Nfs("nfs-ls", _appliance.NfsUrl("/squash")).Stdout, Does.Match(@"\s4321\s+4322\s+11\s+owned\b"));
    }

    [Test]
    public async Task A_file_removed_through_nfs_leaves_a_stale_handle()
    {
        await using var c = await RawNfs.ConnectAsync(_appliance);
        var root = await c.MountAsync("/vmstore");
        var fh = await c.CreateAsync(root, "doomed");
        Assert.That(await c.GetAttrAsync(fh), Is.EqualTo(Nfs3Ok));
        Assert.That(Nfs("nfs-ls", _appliance.NfsUrl("/vmstore")).Stdout, Does.Contain("doomed"));
        Assert.That(await c.RemoveAsync(root, "doomed"), Is.EqualTo(Nfs3Ok));
        Assert.That(await c.GetAttrAsync(fh), Is.EqualTo(Nfs3ErrStale), "RFC 1813 NFS3ERR_STALE: \"The file referred to by that file handle no longer exists\"");
        Assert.That(Nfs("nfs-ls", _appliance.NfsUrl("/vmstore")).Stdout, Does.Not.Contain("doomed"));
    }

    [Test]
    public async Task Fsstat_reports_the_container_capacity_and_free_space()
    {
        await using var c = await RawNfs.ConnectAsync(_appliance);
        var root = await c.MountAsync("/vmstore");
        var (total, free) = await c.FsStatAsync(root);
        Assert.That(total, Is.EqualTo(1UL << 30), "the container's max_capacity");
        Assert.That(free, Is.LessThanOrEqualTo(total));

        string local = Path.Combine(_tmp, "space");
        var data = new byte[4 << 20];
        new Random(11).NextBytes(data);
        File.WriteAllBytes(local, data);
        Assert.That(Nfs("nfs-cp", local, _appliance.NfsUrl("/vmstore/space")).ExitCode, Is.EqualTo(0));
        var (_, after) = await c.FsStatAsync(root);
        Assert.That(after, Is.LessThanOrEqualTo(free - (ulong)data.Length), "4 MiB written is at least 4 MiB less free");
    }

    /// <summary>A few NFS calls over TCP that the libnfs utilities do not expose.</summary>
    internal sealed class RawNfs : IAsyncDisposable
    {
        private readonly RpcTcpClient _nfs;
        private readonly RpcTcpClient _mount;

        private RawNfs(RpcTcpClient nfs, RpcTcpClient mount)
        {
            _nfs = nfs;
            _mount = mount;
        }

        public static async Task<RawNfs> ConnectAsync(ApplianceProcess a) => new(
            await RpcTcpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, a.NfsPort), TimeSpan.FromSeconds(5)),
            await RpcTcpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, a.MountPort), TimeSpan.FromSeconds(5)));

        public async Task<byte[]> MountAsync(string path)
        {
            var r = await _mount.CallAsync(100005, 3, 1, new XdrBuilder().Str(path).ToArray(), TimeSpan.FromSeconds(30));
            return ReadMountHandle(r.Results);
        }

        private static byte[] ReadMountHandle(byte[] results)
        {
            var x = new XdrReader(results);
            Assert.That(x.TryReadUInt32(out uint st) && st == 0, $"MNT status {st}");
            Assert.That(x.TryReadOpaque(64, out var fh));
            return fh.ToArray();
        }

        private async Task<(uint Status, byte[] Body)> CallAsync(uint proc, XdrBuilder args)
        {
            var r = await _nfs.CallAsync(100003, 3, proc, args.ToArray(), TimeSpan.FromSeconds(30));
            Assert.That(r.AcceptStat, Is.EqualTo(AcceptStat.Success));
            return (System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(r.Results), r.Results[4..]);
        }

        // post_op_fh3 (CREATE) or nfs_fh3 (LOOKUP) at the start of a resok.
        private static byte[] HandleOf(byte[] body, bool optional)
        {
            var x = new XdrReader(body);
            if (optional)
                Assert.That(x.TryReadBool(out bool follows) && follows);
            Assert.That(x.TryReadOpaque(64, out var fh));
            return fh.ToArray();
        }

        public async Task<byte[]> CreateAsync(byte[] dir, string name)
        {
            var (st, body) = await CallAsync(8, new XdrBuilder().Opaque(dir).Str(name).U32(0).Sattr(mode: 0x1a4));
            Assert.That(st, Is.EqualTo(Nfs3Ok), "CREATE");
            return HandleOf(body, optional: true);
        }

        public async Task<byte[]> LookupAsync(byte[] dir, string name)
        {
            var (st, body) = await CallAsync(3, new XdrBuilder().Opaque(dir).Str(name));
            Assert.That(st, Is.EqualTo(Nfs3Ok), "LOOKUP " + name);
            return HandleOf(body, optional: false);
        }

        public async Task<uint> RemoveAsync(byte[] dir, string name) => (await CallAsync(12, new XdrBuilder().Opaque(dir).Str(name))).Status;

        public async Task<uint> GetAttrAsync(byte[] fh) => (await CallAsync(1, new XdrBuilder().Opaque(fh))).Status;

        /// <summary>COMMIT of the whole file (offset 0, count 0: RFC 1813 3.3.21, "the entire file").</summary>
        public async Task<uint> CommitAsync(byte[] fh) => (await CallAsync(21, new XdrBuilder().Opaque(fh).U64(0).U32(0))).Status;

        public async Task<(ulong Total, ulong Free)> FsStatAsync(byte[] fh)
        {
            var (st, body) = await CallAsync(18, new XdrBuilder().Opaque(fh));
            Assert.That(st, Is.EqualTo(Nfs3Ok), "FSSTAT");
            return ReadFsStat(body);
        }

        private static (ulong, ulong) ReadFsStat(byte[] body)
        {
            var x = new XdrReader(body);
            Assert.That(x.TryReadBool(out bool attrs));
            if (attrs)
                Assert.That(x.TrySkip(84), "fattr3");
            Assert.That(x.TryReadUInt64(out ulong tbytes) & x.TryReadUInt64(out ulong fbytes));
            return (tbytes, fbytes);
        }

        public async ValueTask DisposeAsync()
        {
            await _nfs.DisposeAsync();
            await _mount.DisposeAsync();
        }
    }
}

/// <summary>
/// The appliance's NFS data surviving a stop and a crash (fio nfs engine at depth 1, crc32c verify), qemu-img on
/// nfs:// through the portmapper, and start-up errors of the NFS options.
/// </summary>
[TestFixture]
public sealed class NfsApplianceRestartTests
{
    private static string FioUrl(ApplianceProcess a) => $"nfs://127.0.0.1/vmstore?nfsport={a.NfsPort}&mountport={a.MountPort}";

    // fio's nfs engine at depth 1 only, failing on any client failure line: at depth it drops the last
    // requests of a job and still reports err=0 (FioNfs, NfsIntegrityTests).
    private static Client.Result Fio(ApplianceProcess a, string[] args) =>
        Client.Run(Paths.Fio, args, TimeSpan.FromMinutes(5), workDir: a.WorkDir);

    /// <summary>Lays the file out (the nfs engine creates files only in a sequential write job), writes it randomly with crc32c headers.</summary>
    private static void LayOutAndWrite(ApplianceProcess a, string file)
    {
        FioNfs.LayOut(args => Fio(a, args), FioUrl(a), file);
        FioNfs.WriteWithHeaders(args => Fio(a, args), FioUrl(a), file);
    }

    private static void VerifyPasses(ApplianceProcess a, string file) => FioNfs.VerifyPasses(args => Fio(a, args), FioUrl(a), file);

    // A file laid out but never written with verify headers must fail the same verify pass, or a pass
    // above proves nothing about the data the appliance returned.
    private static void VerifyFailsOnUnwrittenFile(ApplianceProcess a) => FioNfs.VerifyFailsOnUnwrittenFile(args => Fio(a, args), FioUrl(a), "plain.bin");

    [Test]
    public void Fio_random_writes_verify_after_a_clean_stop_and_restart()
    {
        if (!File.Exists(Paths.Fio))
            Assert.Ignore($"{Paths.Fio} is missing (tests/setup/install-deps.sh builds fio with the nfs engine)");
        string config = ApplianceProcess.NfsConfig();
        var first = ApplianceProcess.Start(config, portmapper: "off");
        string workDir = first.WorkDir;
        try
        {
            LayOutAndWrite(first, "fio-verify.bin");
            Assert.That(first.Signal("TERM", TimeSpan.FromSeconds(30)), Is.True, "the appliance stops on SIGTERM");
            Assert.That(first.ExitCode, Is.EqualTo(0), first.Log);
            // Front ends stop before storage: NFS writes its pending attributes while the engine is still open.
            string log = first.Log;
            int nfsStopped = log.IndexOf("NFS: stopped", StringComparison.Ordinal);
            int storageClosed = log.IndexOf("Metadata store", log.IndexOf("Application is shutting down", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.That(nfsStopped, Is.GreaterThan(0), log);
            Assert.That(storageClosed, Is.GreaterThan(nfsStopped), "NFS stops before the storage engine closes:\n" + log);
        }
        finally
        {
            first.Dispose(keepWorkDir: true);
        }

        using var second = ApplianceProcess.Start(config, workDir, portmapper: "off");
        VerifyPasses(second, "fio-verify.bin");
        VerifyFailsOnUnwrittenFile(second);
    }

    [Test]
    public async Task Fio_random_writes_verify_after_sigkill_once_committed()
    {
        if (!File.Exists(Paths.Fio))
            Assert.Ignore($"{Paths.Fio} is missing (tests/setup/install-deps.sh builds fio with the nfs engine)");
        string config = ApplianceProcess.NfsConfig();
        var first = ApplianceProcess.Start(config, portmapper: "off");
        string workDir = first.WorkDir;
        try
        {
            LayOutAndWrite(first, "fio-crash.bin");
            // RFC 1813 3.3.21: "Procedure COMMIT forces or flushes data to stable storage that was previously
            // written with a WRITE procedure call with the stable field set to UNSTABLE." Commit explicitly,
            // whatever stability fio's writes asked for, then crash.
            await using (var c = await NfsApplianceTests.RawNfs.ConnectAsync(first))
            {
                var root = await c.MountAsync("/vmstore");
                var fh = await c.LookupAsync(root, "fio-crash.bin");
                Assert.That(await c.CommitAsync(fh), Is.EqualTo(0u), "COMMIT");
            }
            Assert.That(first.Signal("KILL", TimeSpan.FromSeconds(30)), Is.True);
            Assert.That(first.Log, Does.Not.Contain("NFS: stopped"), "killed, not stopped");
        }
        finally
        {
            first.Dispose(keepWorkDir: true);
        }

        using var second = ApplianceProcess.Start(config, workDir, portmapper: "off");
        VerifyPasses(second, "fio-crash.bin");
        VerifyFailsOnUnwrittenFile(second);
    }

    [Test]
    public void Qemu_img_create_convert_compare_over_nfs_through_the_portmapper()
    {
        if (!File.Exists("/usr/bin/qemu-img"))
            Assert.Ignore("qemu-img is not installed");
        // qemu's NFS driver takes no port options: it asks the portmapper on port 111 (embedded here, or
        // the system rpcbind the appliance registers with).
        using var a = ApplianceProcess.Start(ApplianceProcess.NfsConfig(), portmapper: "auto");
        string log = a.LogWhenContains("NFS: serving");
        if (log.Contains("portmapper: none", StringComparison.Ordinal))
            Assert.Ignore("neither port 111 nor a system rpcbind is available, and qemu's NFS driver needs the portmapper:\n" + log);
        var rpcinfo = Client.Run("/usr/sbin/rpcinfo", "-p", "127.0.0.1");
        if (!Regex.IsMatch(rpcinfo.Stdout, $@"100003\s+3\s+tcp\s+{a.NfsPort}\b"))
            Assert.Ignore("the portmapper on port 111 maps NFS to another server (another appliance registered first):\n" + rpcinfo.All);

        string raw = Path.Combine(a.WorkDir, "source.raw");
        var data = new byte[24 << 20];
        var rng = new Random(7);
        for (int i = 0; i < 40; i++)
            rng.NextBytes(data.AsSpan(rng.Next(0, (24 << 20) - 65536) & ~511, 65536));
        File.WriteAllBytes(raw, data);

        var create = Client.Run("/usr/bin/qemu-img", "create", "-f", "qcow2", "nfs://127.0.0.1/vmstore/disk.qcow2", "64M");
        Assert.That(create.ExitCode, Is.EqualTo(0), create.All);
        var info = Client.Run("/usr/bin/qemu-img", "info", "nfs://127.0.0.1/vmstore/disk.qcow2");
        Assert.That(info.All, Does.Contain("virtual size: 64 MiB"));

        var convert = Client.Run("/usr/bin/qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, "nfs://127.0.0.1/vmstore/conv.qcow2");
        Assert.That(convert.ExitCode, Is.EqualTo(0), convert.All);
        var compare = Client.Run("/usr/bin/qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, "nfs://127.0.0.1/vmstore/conv.qcow2");
        Assert.That(compare.ExitCode, Is.EqualTo(0), compare.All);
        Assert.That(compare.All, Does.Contain("Images are identical"));

        data[5 << 20] ^= 0xff;
        File.WriteAllBytes(raw, data);
        var differ = Client.Run("/usr/bin/qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, "nfs://127.0.0.1/vmstore/conv.qcow2");
        Assert.That(differ.ExitCode, Is.EqualTo(1), "a changed source must differ: " + differ.All);
    }

    [Test]
    public void An_nfs_port_in_use_stops_startup_with_exit_code_1()
    {
        var blocker = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        int port = ((IPEndPoint)blocker.LocalEndpoint).Port;
        string dir = Directory.CreateTempSubdirectory("sa-nfsport-").FullName;
        try
        {
            string config = Path.Combine(dir, "appliance.yaml");
            File.WriteAllText(config, ApplianceProcess.NfsConfig());
            var r = Client.Run(Paths.Appliance, ["run", "--config", config, "--data-dir", Path.Combine(dir, "data"),
                "--iscsi-listen", $"127.0.0.1:{ApplianceProcess.FreePort()}", "--nfs-listen", $"127.0.0.1:{port}", "--nfs-mount-port", "0", "--portmapper", "off"], TimeSpan.FromSeconds(60));
            Assert.That(r.ExitCode, Is.EqualTo(1), r.All);
            Assert.That(r.Stderr, Does.Contain($"appliance: cannot start: NFS cannot listen on 127.0.0.1:{port}: the address is already in use"));
        }
        finally
        {
            blocker.Stop();
            Directory.Delete(dir, true);
        }
    }

    [TestCase("--nfs-listen", "127.0.0.1", "has no port")]
    [TestCase("--nfs-listen", "localhost:2049", "is not an IP address")]
    [TestCase("--nfs-mount-port", "70000", "is not a port")]
    [TestCase("--nfs-mount-port", "-1", "is not a port")]
    [TestCase("--portmapper", "sometimes", "is not a portmapper mode")]
    public void A_bad_nfs_option_stops_startup_with_exit_code_2(string option, string value, string reason)
    {
        string dir = Directory.CreateTempSubdirectory("sa-nfsopt-").FullName;
        try
        {
            var r = Client.Run(Paths.Appliance, ["run", "--data-dir", dir, option, value], TimeSpan.FromSeconds(60));
            Assert.That(r.ExitCode, Is.EqualTo(2), r.All);
            Assert.That(r.Stderr, Does.Contain($"{option}: ").And.Contain(reason));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
