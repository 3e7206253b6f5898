using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Security;
using StorageAppliance.Protocols.Iscsi.Tests.Support;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>An <see cref="IscsiServer"/> with one target node: LUN 0 over a 1 MiB in-memory vDisk of 512-byte blocks.</summary>
public sealed class TargetFixture
{
    public const string TargetName = "iqn.2026-01.io.storageappliance.test:disk0";
    public const string TargetAlias = "disk zero";
    public const string InitiatorName = "iqn.1994-05.com.example:host1";
    public const int BlockSize = 512;
    public const int Blocks = 2048;

    public static readonly byte[] Naa = [0x60, 0x01, 0x40, 0x50, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11, 0x22, 0x33, 0x44];

    private ulong _nextIsid = 0x80_0000_0001UL;

    private TargetFixture(IscsiServer server, MemoryVDisk disk, IscsiTargetNode node, RecordingLoggerFactory log)
    {
        Server = server;
        Disk = disk;
        Node = node;
        Log = log;
    }

    public IscsiServer Server { get; }

    public MemoryVDisk Disk { get; }

    public IscsiTargetNode Node { get; }

    public RecordingLoggerFactory Log { get; }

    public static TargetFixture Create(
        TargetLimits? limits = null,
        ChapCredentials? chap = null,
        ChapCredentials? mutualChap = null,
        IEnumerable<string>? allowedInitiators = null,
        TimeSpan? loginTimeout = null,
        int queueDepth = 16,
        TimeSpan? nopInInterval = null,
        TimeSpan? nopInTimeout = null,
        ChapCredentials? discoveryChap = null)
    {
        var log = new RecordingLoggerFactory();
        var options = new IscsiServerOptions
        {
            Limits = limits ?? new TargetLimits(),
            QueueDepth = queueDepth,
            NopInInterval = nopInInterval ?? TimeSpan.Zero, // by default no unsolicited pings in the middle of a test
            NopInTimeout = nopInTimeout ?? TimeSpan.FromSeconds(30),
            LoginTimeout = loginTimeout ?? TimeSpan.FromSeconds(20),
            DiscoveryChap = discoveryChap,
        };
        var server = new IscsiServer(options, log);
        var disk = new MemoryVDisk((long)Blocks * BlockSize);
        var scsi = new ScsiTarget(TargetName, NullLogger.Instance);
        var unit = new LogicalUnit(disk, new LogicalUnitOptions { SerialNumber = "ISCSI0001", NaaDesignator = Naa }, NullLogger.Instance);
        scsi.AddLogicalUnit(0, unit);
        var node = new IscsiTargetNode(TargetName, TargetAlias, scsi, chap, mutualChap, allowedInitiators);
        server.AddTarget(node);
        return new TargetFixture(server, disk, node, log);
    }

    /// <summary>Adds a second target node (no LUNs) to the same portal group.</summary>
    public IscsiTargetNode AddTarget(string name, IEnumerable<string>? allowedInitiators = null, ChapCredentials? chap = null)
    {
        var node = new IscsiTargetNode(name, null, new ScsiTarget(name, NullLogger.Instance), chap, null, allowedInitiators);
        Server.AddTarget(node);
        return node;
    }

    /// <summary>A new connection; each gets its own ISID unless one is given (so it is its own session).</summary>
    public TestInitiator Connect(string initiatorName = InitiatorName, ulong? isid = null) =>
        new(Server, initiatorName, isid ?? _nextIsid++);

    /// <summary>A connection logged in to the target, its power-on unit attention already consumed.</summary>
    public async Task<TestInitiator> LoggedInAsync(params (string Key, string Value)[] keys)
    {
        var initiator = Connect();
        await initiator.LoginAsync(TargetName, keys);
        var tur = await initiator.CommandAsync(Pdus.TestUnitReady(), 0);
        Assert.That(tur.Status, Is.EqualTo(0x02), "the first command of a new nexus reports the power-on unit attention");
        return initiator;
    }

    /// <summary>Fails if any handler threw inside the target (logged as a fault instead of crashing).</summary>
    public void AssertNoFaults()
    {
        Assert.That(Log.Faults.Select(f => $"{f.EventId}: {f.Message}: {f.Exception}"), Is.Empty);
        Assert.That(Log.Messages(3004).Where(m => m.Contains("internal error") || m.Contains("transport error")), Is.Empty);
    }
}
