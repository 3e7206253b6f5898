using System.Net;
using System.Security.Cryptography;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests.Integration;

/// <summary>Real, independent clients (libnfs's nfs-ls, nfs-cp, nfs-cat) against the server on loopback TCP.</summary>
[TestFixture]
[NonParallelizable]
public class LibnfsClientTests
{
    private InProcessNfsServer _server = null!;
    private string _tmp = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        ExternalTool.Require("nfs-cp");
        _server = new InProcessNfsServer();
        await _server.StartAsync();
        _tmp = Path.Combine(_server.Dir, "local");
        Directory.CreateDirectory(_tmp);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }

    private static string Sha(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(f));
    }

    [Test]
    public async Task Files_of_many_sizes_copy_in_and_out_unchanged()
    {
        int[] sizes = [0, 1, 511, 4095, 4096, 4097, 65539, 1 << 20, (1 << 20) + 1, (5 << 20) + 123, 17 << 20];
        foreach (int size in sizes)
        {
            string local = Path.Combine(_tmp, $"in-{size}");
            var data = new byte[size];
            new Random(size).NextBytes(data);
            await File.WriteAllBytesAsync(local, data);
            var up = await ExternalTool.RunAsync("nfs-cp", [local, _server.Url($"/export/f-{size}")]);
            Assert.That(up.ExitCode, Is.EqualTo(0), $"upload of {size} bytes: {up}");
            string back = Path.Combine(_tmp, $"out-{size}");
            var down = await ExternalTool.RunAsync("nfs-cp", [_server.Url($"/export/f-{size}"), back]);
            Assert.That(down.ExitCode, Is.EqualTo(0), $"download of {size} bytes: {down}");
            Assert.That(Sha(back), Is.EqualTo(Sha(local)), $"{size} bytes");
        }
        var ls = await ExternalTool.RunAsync("nfs-ls", [_server.Url("/export")]);
        Assert.That(ls.ExitCode, Is.EqualTo(0), ls.ToString());
        foreach (int size in sizes)
            Assert.That(ls.Output, Does.Match($@"\s{size}\s+f-{size}\b"), $"nfs-ls shows f-{size} with its size");
    }

    [Test]
    public async Task Nfs_cat_prints_a_file()
    {
        string local = Path.Combine(_tmp, "hello.txt");
        await File.WriteAllTextAsync(local, "hello from the appliance\nsecond line\n");
        Assert.That((await ExternalTool.RunAsync("nfs-cp", [local, _server.Url("/export/hello.txt")])).ExitCode, Is.EqualTo(0));
        var cat = await ExternalTool.RunAsync("nfs-cat", [_server.Url("/export/hello.txt")]);
        Assert.That(cat.ExitCode, Is.EqualTo(0), cat.ToString());
        Assert.That(cat.Output, Does.StartWith("hello from the appliance\nsecond line\n"));
    }

    [Test]
    public async Task Nfs_ls_recursive_sees_subdirectories()
    {
        await using var c = await TcpNfs.ConnectAsync(_server);
        var root = await c.MountAsync("/export");
        var dir = await c.MkDirAsync(root, "tree");
        var sub = await c.MkDirAsync(dir, "leaf");
        await c.CreateAsync(sub, "deep.bin");
        var ls = await ExternalTool.RunAsync("nfs-ls", ["-R", _server.Url("/export/tree")]);
        Assert.That(ls.ExitCode, Is.EqualTo(0), ls.ToString());
        Assert.That(ls.Output, Does.Contain("leaf"));
        Assert.That(ls.Output, Does.Contain("deep.bin"));
    }

    [Test]
    public async Task A_read_only_export_refuses_writes_with_rofs()
    {
        string local = Path.Combine(_tmp, "ro-attempt");
        await File.WriteAllBytesAsync(local, new byte[100]);
        var r = await ExternalTool.RunAsync("nfs-cp", [local, _server.Url("/ro/attempt")]);
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Output, Does.Contain("NFS3ERR_ROFS"));
        var ls = await ExternalTool.RunAsync("nfs-ls", [_server.Url("/ro")]);
        Assert.That(ls.ExitCode, Is.EqualTo(0), "reading the read-only export works: " + ls);
    }

    [Test]
    public async Task A_client_outside_the_allow_list_is_refused_at_mnt()
    {
        var r = await ExternalTool.RunAsync("nfs-ls", [_server.Url("/private")]);
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Output, Does.Contain("MNT3ERR_ACCES"));
    }

    [Test]
    public async Task A_deleted_file_handle_is_stale_over_tcp()
    {
        await using var c = await TcpNfs.ConnectAsync(_server);
        var root = await c.MountAsync("/export");
        var fh = await c.CreateAsync(root, "doomed");
        Assert.That(await c.GetAttrStatusAsync(fh), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await c.RemoveAsync(root, "doomed"), Is.EqualTo(Nfsstat3.Ok));
        Assert.That(await c.GetAttrStatusAsync(fh), Is.EqualTo(Nfsstat3.Stale));
        var ls = await ExternalTool.RunAsync("nfs-ls", [_server.Url("/export")]);
        Assert.That(ls.Output, Does.Not.Contain("doomed"));
    }

    /// <summary>A tiny NFS client over a real TCP connection, for set-ups the libnfs utilities cannot express.</summary>
    private sealed class TcpNfs : IAsyncDisposable
    {
        private readonly RpcTcpClient _nfs;
        private readonly RpcTcpClient _mount;

        private TcpNfs(RpcTcpClient nfs, RpcTcpClient mount)
        {
            _nfs = nfs;
            _mount = mount;
        }

        public static async Task<TcpNfs> ConnectAsync(InProcessNfsServer s) => new(
            await RpcTcpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, s.NfsPort), TimeSpan.FromSeconds(5)),
            await RpcTcpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, s.MountPort), TimeSpan.FromSeconds(5)));

        public async Task<byte[]> MountAsync(string path)
        {
            var r = await _mount.CallAsync(100005, 3, 1, new XdrBuilder().Str(path));
            var x = new XdrReader(r.Results);
            Assert.That(x.TryReadUInt32(out uint st) && st == 0);
            x.TryReadOpaque(64, out var fh);
            return fh.ToArray();
        }

        private async Task<(Nfsstat3, byte[])> CallAsync(uint proc, byte[] args)
        {
            var r = await _nfs.CallAsync(100003, 3, proc, args);
            Assert.That(r.AcceptStat, Is.EqualTo(AcceptStat.Success));
            return ((Nfsstat3)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(r.Results), r.Results[4..]);
        }

        private static byte[] FhOf(byte[] body)
        {
            var x = new XdrReader(body);
            x.TryReadBool(out _);
            x.TryReadOpaque(64, out var fh);
            return fh.ToArray();
        }

        public async Task<byte[]> MkDirAsync(byte[] dir, string name)
        {
            var (st, body) = await CallAsync(9, new XdrBuilder().Opaque(dir).Str(name).Sattr(mode: 0x1ed));
            Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
            return FhOf(body);
        }

        public async Task<byte[]> CreateAsync(byte[] dir, string name)
        {
            var (st, body) = await CallAsync(8, new XdrBuilder().Opaque(dir).Str(name).U32(1).Sattr(mode: 0x1a4));
            Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
            return FhOf(body);
        }

        public async Task<Nfsstat3> RemoveAsync(byte[] dir, string name) => (await CallAsync(12, new XdrBuilder().Opaque(dir).Str(name))).Item1;

        public async Task<Nfsstat3> GetAttrStatusAsync(byte[] fh) => (await CallAsync(1, new XdrBuilder().Opaque(fh))).Item1;

        public async ValueTask DisposeAsync()
        {
            await _nfs.DisposeAsync();
            await _mount.DisposeAsync();
        }
    }
}
