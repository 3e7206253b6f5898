using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

namespace StorageAppliance.Protocols.Scsi.Tests;

/// <summary>A logical unit over an in-memory vDisk (through a recording, fault-injecting wrapper), with one nexus.</summary>
public sealed class LuFixture
{
    public const string TargetPort = "iqn.2026-11.io.storageappliance:disk1,t,0x0001";

    public static readonly byte[] Naa = [0x60, 0x01, 0x40, 0x50, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11, 0x22, 0x33, 0x44];

    private LuFixture(MemoryVDisk memory, FaultyVDisk disk, LogicalUnit unit, ITNexus nexus)
    {
        Memory = memory;
        Disk = disk;
        Unit = unit;
        Nexus = nexus;
    }

    public MemoryVDisk Memory { get; }

    public FaultyVDisk Disk { get; }

    public LogicalUnit Unit { get; }

    public ITNexus Nexus { get; }

    public int BlockSize => Unit.BlockSize;

    public ulong Blocks => Unit.BlockCount;

    public static LuFixture Create(
        long blocks = 2048,
        int blockSize = 512,
        bool thin = true,
        bool supportsUnmap = true,
        bool writeCache = true,
        bool readOnly = false,
        uint maxTransferBlocks = 32768,
        long prefetchCacheBytes = 32 << 20,
        bool clearUnitAttention = true,
        bool honourStop = true,
        byte[]? naa = null)
    {
        var memory = new MemoryVDisk(blocks * blockSize, supportsUnmap);
        var disk = new FaultyVDisk(memory);
        var options = new LogicalUnitOptions
        {
            LogicalBlockSize = blockSize,
            SerialNumber = "SN0001",
            NaaDesignator = naa ?? Naa,
            ThinProvisioned = thin,
            WriteCacheEnabled = writeCache,
            ReadOnly = readOnly,
            MaximumTransferLengthBlocks = maxTransferBlocks,
            PrefetchCacheBytes = prefetchCacheBytes,
            HonourStop = honourStop,
        };
        var unit = new LogicalUnit(disk, options, NullLogger.Instance);
        var nexus = NewNexus("iqn.1994-05.com.example:host1", 1);
        unit.AddNexus(nexus);
        var f = new LuFixture(memory, disk, unit, nexus);
        if (clearUnitAttention)
            f.Run(Cdbs.TestUnitReady());
        return f;
    }

    /// <summary>A fixture around a unit built by the test (over its own vDisk: <see cref="Memory"/> and <see cref="Disk"/> are then null), its unit attention consumed.</summary>
    public static LuFixture For(LogicalUnit unit)
    {
        var nexus = NewNexus("iqn.1994-05.com.example:host1", 1);
        unit.AddNexus(nexus);
        var f = new LuFixture(null!, null!, unit, nexus);
        f.Run(Cdbs.TestUnitReady());
        return f;
    }

    public static ITNexus NewNexus(string initiator, ushort relativePort, string targetPort = TargetPort) =>
        new(initiator, initiator + ",i,0x23d000000001", targetPort, relativePort);

    /// <summary>A second nexus, its power-on unit attention already consumed.</summary>
    public ITNexus AddNexus(string initiator = "iqn.1994-05.com.example:host2")
    {
        var nexus = NewNexus(initiator, 2);
        Unit.AddNexus(nexus);
        Run(Cdbs.TestUnitReady(), nexus: nexus);
        return nexus;
    }

    /// <summary>Runs one command to completion. The expected length defaults to what the CDB implies.</summary>
    public ScsiTask Run(byte[] cdb, byte[]? dataOut = null, uint? expectedLength = null, ITNexus? nexus = null)
    {
        var task = NewTask(cdb, dataOut, expectedLength, nexus);
        Unit.ExecuteAsync(task).AsTask().GetAwaiter().GetResult();
        return task;
    }

    public ScsiTask NewTask(byte[] cdb, byte[]? dataOut = null, uint? expectedLength = null, ITNexus? nexus = null)
    {
        var task = new ScsiTask { Nexus = nexus ?? Nexus };
        cdb.CopyTo(task.CdbBuffer, 0);
        task.CdbLength = cdb.Length;
        task.DataOut = dataOut ?? ReadOnlyMemory<byte>.Empty;
        task.Direction = dataOut is not null ? DataDirection.Write : DataDirection.Read;
        task.ExpectedTransferLength = expectedLength ?? (dataOut is not null ? (uint)dataOut.Length : 1u << 24);
        return task;
    }

    /// <summary>Fills blocks with a pattern that differs per block and per byte.</summary>
    public byte[] Pattern(int blocks, byte seed = 1)
    {
        var data = new byte[blocks * BlockSize];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(seed + i * 7 + i / BlockSize);
        return data;
    }

    public byte[] DiskBytes(ulong lba, int blocks) => Memory.Bytes.Slice((int)lba * BlockSize, blocks * BlockSize).ToArray();

    public static ushort U16(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt16BigEndian(d[at..]);

    public static uint U32(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt32BigEndian(d[at..]);

    public static ulong U64(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt64BigEndian(d[at..]);
}
