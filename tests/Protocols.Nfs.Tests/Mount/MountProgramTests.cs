using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests.Mount;

public class MountProgramTests
{
    private NfsTestHost _host = null!;

    [SetUp]
    public void SetUp() => _host = new NfsTestHost();

    [TearDown]
    public async Task TearDown()
    {
        await _host.DisposeAsync();
        _host.DeleteFiles();
    }

    [Test]
    public async Task Mnt_returns_a_root_handle_of_at_most_56_bytes_and_auth_sys()
    {
        await using var c = _host.Connect();
        var reply = await c.Rpc.CallAsync(100005, 3, 1, new XdrBuilder().Str("/data"));
        var r = new XdrReader(reply.Results);
        Assert.That(r.TryReadUInt32(out uint st) && st == 0);
        Assert.That(r.TryReadOpaque(64, out var fh));
        Assert.That(fh.Length, Is.LessThanOrEqualTo(56));
        Assert.That(r.TryReadUInt32(out uint n) && n == 1);
        Assert.That(r.TryReadUInt32(out uint flavor) && flavor == 1);
        Assert.That(r.Remaining, Is.EqualTo(0));
    }

    [Test]
    public async Task Mnt_of_an_unknown_path_is_noent_and_of_a_subdirectory_works()
    {
        await using var c = _host.Connect();
        Assert.That((await c.MountAsync("/nope")).Status, Is.EqualTo(2u));
        Assert.That((await c.MountAsync("/dat")).Status, Is.EqualTo(2u));
        var (_, root) = await c.MountAsync("/data");
        var (_, sub) = await c.MkDirAsync(root, "sub");
        var (st, fh) = await c.MountAsync("/data/sub");
        Assert.That((st, fh), Is.EqualTo((0u, sub)));
        Assert.That((await c.MountAsync("/data/")).Handle, Is.EqualTo(root));
        await c.CreateAsync(root, "file");
        Assert.That((await c.MountAsync("/data/file")).Status, Is.EqualTo(20u), "MNT3ERR_NOTDIR");
    }

    [Test]
    public async Task A_client_outside_the_list_is_refused_at_mnt_and_on_nfs_calls()
    {
        await using var outsider = _host.Connect(from: "10.10.0.1");
        Assert.That((await outsider.MountAsync("/private")).Status, Is.EqualTo(13u), "MNT3ERR_ACCES");
        await using var insider = _host.Connect(from: "10.9.200.3");
        var (st, fh) = await insider.MountAsync("/private");
        Assert.That(st, Is.EqualTo(0u));
        await using var exact = _host.Connect(from: "192.0.2.7");
        Assert.That((await exact.MountAsync("/private")).Status, Is.EqualTo(0u));
        // A handle learnt elsewhere does not let the outsider in.
        Assert.That((await outsider.GetAttrAsync(fh)).Item1, Is.EqualTo(StorageAppliance.Protocols.Nfs.Nfs3.Nfsstat3.Acces));
        Assert.That((await outsider.MountAsync("/data")).Status, Is.EqualTo(0u), "an open export admits everyone");
    }

    [Test]
    public async Task Dump_lists_mounts_and_umnt_removes_them()
    {
        await using var c = _host.Connect(from: "192.0.2.50");
        await c.MountAsync("/data");
        await c.MountAsync("/ro");
        var dump = await c.Rpc.CallAsync(100005, 3, 2, default);
        var list = ReadMountList(dump.Results);
        Assert.That(list, Is.EquivalentTo(new[] { ("192.0.2.50", "/data"), ("192.0.2.50", "/ro") }));
        await c.Rpc.CallAsync(100005, 3, 3, new XdrBuilder().Str("/ro"));
        Assert.That(ReadMountList((await c.Rpc.CallAsync(100005, 3, 2, default)).Results), Is.EqualTo(new[] { ("192.0.2.50", "/data") }));
        await c.Rpc.CallAsync(100005, 3, 4, default);
        Assert.That(ReadMountList((await c.Rpc.CallAsync(100005, 3, 2, default)).Results), Is.Empty);
    }

    private static List<(string, string)> ReadMountList(byte[] results)
    {
        var r = new XdrReader(results);
        var list = new List<(string, string)>();
        while (r.TryReadBool(out bool more) && more)
        {
            r.TryReadString(255, out string host);
            r.TryReadString(1024, out string dir);
            list.Add((host, dir));
        }
        return list;
    }

    [Test]
    public async Task Export_lists_paths_and_client_groups()
    {
        await using var c = _host.Connect();
        var reply = await c.Rpc.CallAsync(100005, 3, 5, default);
        Assert.That(reply.AcceptStat, Is.EqualTo(AcceptStat.Success));
        var r = new XdrReader(reply.Results);
        var exports = new Dictionary<string, List<string>>();
        while (r.TryReadBool(out bool more) && more)
        {
            r.TryReadString(1024, out string dir);
            var groups = new List<string>();
            while (r.TryReadBool(out bool g) && g)
            {
                r.TryReadString(255, out string name);
                groups.Add(name);
            }
            exports[dir] = groups;
        }
        Assert.That(exports.Keys, Is.EquivalentTo(new[] { "/data", "/ro", "/squash", "/private" }));
        Assert.That(exports["/private"], Is.EqualTo(new[] { "10.9.0.0/16", "192.0.2.7" }));
        Assert.That(exports["/data"], Is.EqualTo(new[] { "*" }));
    }

    [Test]
    public async Task Malformed_mount_arguments_are_garbage_and_long_paths_nametoolong()
    {
        await using var c = _host.Connect();
        Assert.That((await c.Rpc.CallAsync(100005, 3, 1, new byte[2])).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        Assert.That((await c.Rpc.CallAsync(100005, 3, 1, new XdrBuilder().U32(10).U32(0))).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        Assert.That((await c.Rpc.CallAsync(100005, 3, 3, default)).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        var reply = await c.Rpc.CallAsync(100005, 3, 1, new XdrBuilder().Str("/" + new string('a', 1100)));
        Assert.That(Convert.ToHexString(reply.Results), Is.EqualTo("0000003F"));
        Assert.That((await c.Rpc.CallAsync(100005, 1, 0, default)).AcceptStat, Is.EqualTo(AcceptStat.ProgMismatch));
    }

    [Test]
    public void Options_validation_names_the_key_and_reason()
    {
        var bad = new NfsServerOptions
        {
            MountPort = 70000,
            Exports = [new ExportOptions { Path = "relative", Container = "" }, new ExportOptions { Path = "/a", Clients = ["10.0.0.0/33", "nonsense"] }, new ExportOptions { Path = "/a" }],
        };
        var errors = bad.Validate();
        Assert.That(errors, Has.Some.StartsWith("nfs.mount_port"));
        Assert.That(errors, Has.Some.StartsWith("exports[0].path"));
        Assert.That(errors, Has.Some.StartsWith("exports[0].container"));
        Assert.That(errors.Count(e => e.StartsWith("exports[1].clients")), Is.EqualTo(2));
        Assert.That(errors, Has.Some.StartsWith("exports[2].path").And.Contains("twice"));
        Assert.Throws<InvalidOperationException>(bad.ValidateOrThrow);
        Assert.That(new NfsServerOptions { Exports = NfsTestHost.DefaultExports }.Validate(), Is.Empty);
    }
}
