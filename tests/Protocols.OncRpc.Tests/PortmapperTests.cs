using System.Buffers.Binary;
using System.Net;
using StorageAppliance.Protocols.OncRpc.Portmapper;
using StorageAppliance.Protocols.OncRpc.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc.Tests;

public class PortmapperTests
{
    private static byte[] Mapping(uint prog, uint vers, uint prot, uint port)
    {
        var b = new byte[16];
        var w = new XdrWriter(b);
        w.WriteUInt32(prog);
        w.WriteUInt32(vers);
        w.WriteUInt32(prot);
        w.WriteUInt32(port);
        return b;
    }

    private static byte[] Rpcb(uint prog, uint vers, string netid, string addr = "", string owner = "")
    {
        var b = new byte[256];
        var w = new XdrWriter(b);
        w.WriteUInt32(prog);
        w.WriteUInt32(vers);
        w.WriteString(netid);
        w.WriteString(addr);
        w.WriteString(owner);
        return b.AsSpan(0, w.Position).ToArray();
    }

    private static (PortmapRegistry, PipeRpcClient) Start()
    {
        var registry = new PortmapRegistry();
        registry.RegisterTcp(100003, 3, new IPEndPoint(IPAddress.Any, 2049));
        registry.RegisterTcp(100005, 3, new IPEndPoint(IPAddress.Loopback, 20048));
        return (registry, new PipeRpcClient(PipeRpcClient.NewServer(new PortmapProgram(registry))));
    }

    [Test]
    public async Task Getport_returns_registered_ports_and_zero_otherwise()
    {
        var (_, c) = Start();
        await using var _c = c;
        var r = await c.CallAsync(100000, 2, 3, Mapping(100003, 3, 6, 0));
        Assert.That(Convert.ToHexString(r.Results), Is.EqualTo("00000801"));
        r = await c.CallAsync(100000, 2, 3, Mapping(100005, 3, 6, 0));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(r.Results), Is.EqualTo(20048u));
        r = await c.CallAsync(100000, 2, 3, Mapping(100003, 4, 6, 0));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(r.Results), Is.EqualTo(0u));
        r = await c.CallAsync(100000, 2, 3, Mapping(100003, 3, 17, 0));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(r.Results), Is.EqualTo(0u), "no UDP registration");
    }

    [Test]
    public async Task Set_unset_and_dump_version_2()
    {
        var (_, c) = Start();
        await using var _c = c;
        var set = await c.CallAsync(100000, 2, 1, Mapping(400000, 1, 6, 5555));
        Assert.That(Convert.ToHexString(set.Results), Is.EqualTo("00000001"));
        var again = await c.CallAsync(100000, 2, 1, Mapping(400000, 1, 6, 5556));
        Assert.That(Convert.ToHexString(again.Results), Is.EqualTo("00000000"), "an existing mapping is not replaced");
        var dump = await c.CallAsync(100000, 2, 4, default);
        // 3 entries of (bool, prog, vers, prot, port), then FALSE.
        Assert.That(dump.Results.Length, Is.EqualTo(3 * 20 + 4));
        Assert.That(Convert.ToHexString(dump.Results.AsSpan(40, 20)), Is.EqualTo("00000001" + "00061A80" + "00000001" + "00000006" + "000015B3"));
        var unset = await c.CallAsync(100000, 2, 2, Mapping(400000, 1, 0, 0));
        Assert.That(Convert.ToHexString(unset.Results), Is.EqualTo("00000001"));
        var gone = await c.CallAsync(100000, 2, 3, Mapping(400000, 1, 6, 0));
        Assert.That(Convert.ToHexString(gone.Results), Is.EqualTo("00000000"));
    }

    [Test]
    public async Task Getaddr_v3_and_v4_answer_universal_addresses()
    {
        var (_, c) = Start();
        await using var _c = c;
        var r = await c.CallAsync(100000, 3, 3, Rpcb(100005, 3, "tcp"));
        var reader = new XdrReader(r.Results);
        Assert.That(reader.TryReadString(100, out string addr));
        Assert.That(addr, Is.EqualTo("127.0.0.1.78.80"));
        r = await c.CallAsync(100000, 4, 3, Rpcb(100003, 3, "tcp"));
        reader = new XdrReader(r.Results);
        reader.TryReadString(100, out addr);
        Assert.That(addr, Is.EqualTo("0.0.0.0.8.1"), "wildcard stays a wildcard on an in-memory transport");
        r = await c.CallAsync(100000, 4, 3, Rpcb(100099, 3, "tcp"));
        reader = new XdrReader(r.Results);
        reader.TryReadString(100, out addr);
        Assert.That(addr, Is.Empty);
        r = await c.CallAsync(100000, 4, 9, Rpcb(100005, 1, "tcp"));
        reader = new XdrReader(r.Results);
        reader.TryReadString(100, out addr);
        Assert.That(addr, Is.Empty, "GETVERSADDR wants exactly that version");
    }

    [Test]
    public async Task Dump_v4_lists_rpcb_entries()
    {
        var (_, c) = Start();
        await using var _c = c;
        var r = await c.CallAsync(100000, 4, 4, default);
        var reader = new XdrReader(r.Results);
        var seen = new List<string>();
        while (reader.TryReadBool(out bool more) && more)
        {
            reader.TryReadUInt32(out uint prog);
            reader.TryReadUInt32(out uint vers);
            reader.TryReadString(64, out string netid);
            reader.TryReadString(64, out string addr);
            reader.TryReadString(64, out _);
            seen.Add($"{prog}/{vers}/{netid}/{addr}");
        }
        Assert.That(seen, Is.EquivalentTo(new[] { "100003/3/tcp/0.0.0.0.8.1", "100005/3/tcp/127.0.0.1.78.80" }));
    }

    [Test]
    public async Task Malformed_portmap_arguments_are_garbage_args()
    {
        var (_, c) = Start();
        await using var _c = c;
        Assert.That((await c.CallAsync(100000, 2, 3, new byte[6])).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        Assert.That((await c.CallAsync(100000, 3, 3, Convert.FromHexString("000186a300000003" + "00000100"))).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        Assert.That((await c.CallAsync(100000, 2, 5, default)).AcceptStat, Is.EqualTo(AcceptStat.ProcUnavail), "CALLIT is not offered");
    }

    [Test]
    public async Task Embedded_portmapper_serves_over_tcp_on_a_free_port()
    {
        await using var host = new PortmapperHost(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await host.StartAsync(PortmapperMode.Embedded, new IPEndPoint(IPAddress.Loopback, 0), [(100003u, 3u, new IPEndPoint(IPAddress.Loopback, 2049))]);
        Assert.That(host.ActiveMode, Is.EqualTo(PortmapperMode.Embedded));
        await using var client = await RpcTcpClient.ConnectAsync(host.EmbeddedEndPoint!, TimeSpan.FromSeconds(2));
        var r = await client.CallAsync(100000, 2, 3, Mapping(100003, 3, 6, 0));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(r.Results), Is.EqualTo(2049u));
        await host.StopAsync();
    }

    [Test]
    public async Task System_mode_registers_with_a_running_rpcbind_and_unregisters_at_stop()
    {
        // A stand-in for the system rpcbind: our own portmapper on a free port.
        var registry = new PortmapRegistry();
        var server = PipeRpcClient.NewServer(new PortmapProgram(registry));
        await using var listener = new RpcTcpListener(server, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var rpcbind = listener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        registry.Set(new PortmapEntry(100003, 3, "tcp", "0.0.0.0.8.1", "kernel")); // someone else's stale registration

        await using var host = new PortmapperHost(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await host.StartAsync(PortmapperMode.Auto, rpcbind, [(100003u, 3u, new IPEndPoint(IPAddress.Loopback, 7049)), (100005u, 3u, new IPEndPoint(IPAddress.Loopback, 7048))]);
        Assert.That(host.ActiveMode, Is.EqualTo(PortmapperMode.System));
        Assert.That(registry.Find(100003, 3, "tcp", false)!.Value.Port, Is.EqualTo(7049), "ours replaces the stale mapping");
        Assert.That(registry.Find(100005, 3, "tcp", false)!.Value.Port, Is.EqualTo(7048));
        await host.StopAsync();
        Assert.That(registry.Find(100003, 3, "tcp", false), Is.Null);
        Assert.That(registry.Find(100005, 3, "tcp", false), Is.Null);
    }

    [Test]
    public async Task System_mode_without_rpcbind_says_so_and_runs_without()
    {
        await using var host = new PortmapperHost(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        // A port nothing listens on.
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int free = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await host.StartAsync(PortmapperMode.System, new IPEndPoint(IPAddress.Loopback, free), [(100003u, 3u, new IPEndPoint(IPAddress.Loopback, 7049))]);
        Assert.That(host.ActiveMode, Is.EqualTo(PortmapperMode.Off));
    }

    [Test]
    public void Universal_addresses_round_trip()
    {
        string ua = PortmapRegistry.ToUniversalAddress(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 2049));
        Assert.That(ua, Is.EqualTo("10.1.2.3.8.1"));
        Assert.That(PortmapRegistry.PortOf(ua), Is.EqualTo(2049));
        Assert.That(PortmapRegistry.HostOf(ua), Is.EqualTo(IPAddress.Parse("10.1.2.3")));
        Assert.That(PortmapRegistry.PortOf("::1.0.111"), Is.EqualTo(111));
    }
}
