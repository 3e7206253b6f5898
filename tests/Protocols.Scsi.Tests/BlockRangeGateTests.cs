using System.Collections.Concurrent;
using StorageAppliance.Director;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

namespace StorageAppliance.Protocols.Scsi.Tests;

public class BlockRangeGateTests
{
    [Test]
    public void FastPath_IsOpenWhileNoExclusiveRangeIsAsked()
    {
        var gate = new BlockRangeGate();
        Assert.That(gate.TryEnterFast(), Is.True);
        Assert.That(gate.TryEnterFast(), Is.True);
        Assert.That(gate.FastHolders, Is.EqualTo(2));
        gate.ExitFast();
        gate.ExitFast();
        Assert.That(gate.FastHolders, Is.Zero);
        Assert.That(gate.SlowEntries, Is.Zero);
    }

    [Test]
    public void Exclusive_WaitsForTheFastPathToDrain_AndClosesIt()
    {
        var gate = new BlockRangeGate();
        Assert.That(gate.TryEnterFast(), Is.True);
        var exclusive = gate.EnterAsync(100, 1, exclusive: true);
        Assert.That(exclusive.IsCompleted, Is.False, "a fast-path command may touch the blocks");
        Assert.That(gate.TryEnterFast(), Is.False, "closed while an exclusive range waits");
        Assert.That(gate.FastHolders, Is.EqualTo(1), "the refused attempt backed out");
        gate.ExitFast();
        Assert.That(exclusive.AsTask().Wait(1000), Is.True);
        Assert.That(gate.TryEnterFast(), Is.False, "closed while it is held");
        gate.Release(exclusive.Result);
        Assert.That(gate.TryEnterFast(), Is.True, "open again");
        gate.ExitFast();
    }

    [Test]
    public void WhileClosed_OnlyOverlappingRangesWait()
    {
        var gate = new BlockRangeGate();
        var exclusive = gate.EnterAsync(100, 10, exclusive: true);
        Assert.That(exclusive.IsCompletedSuccessfully, Is.True);
        var overlapping = gate.EnterAsync(105, 1, exclusive: false);
        var before = gate.EnterAsync(90, 10, exclusive: false);
        var after = gate.EnterAsync(110, 5, exclusive: false);
        Assert.That(overlapping.IsCompleted, Is.False);
        Assert.That(before.IsCompletedSuccessfully && after.IsCompletedSuccessfully, Is.True, "[90,100) and [110,115) do not touch [100,110)");
        gate.Release(exclusive.Result);
        Assert.That(overlapping.AsTask().Wait(1000), Is.True);
        foreach (var lease in new[] { overlapping.Result, before.Result, after.Result })
            gate.Release(lease);
        Assert.That(gate.SlowEntries, Is.Zero);
        Assert.That(gate.Guards, Is.Zero);
    }

    [Test]
    public void OverlappingRequests_AreServedInArrivalOrder()
    {
        var gate = new BlockRangeGate();
        var longWrite = gate.EnterAsync(0, 1000, exclusive: false).Result; // e.g. a WRITE SAME on the slow path
        var caw = gate.EnterAsync(10, 1, exclusive: true);
        var laterWrite = gate.EnterAsync(10, 1, exclusive: false);
        Assert.That(caw.IsCompleted, Is.False);
        Assert.That(laterWrite.IsCompleted, Is.False, "a write that came after the COMPARE AND WRITE waits behind it");
        gate.Release(longWrite);
        Assert.That(caw.AsTask().Wait(1000), Is.True);
        Assert.That(laterWrite.IsCompleted, Is.False);
        gate.Release(caw.Result);
        Assert.That(laterWrite.AsTask().Wait(1000), Is.True);
        gate.Release(laterWrite.Result);
    }

    [Test]
    public void TwoExclusiveRanges_OverlappingWaitsNonOverlappingDoesNot()
    {
        var gate = new BlockRangeGate();
        var first = gate.EnterAsync(0, 8, exclusive: true).Result;
        var second = gate.EnterAsync(7, 2, exclusive: true);
        var third = gate.EnterAsync(9, 8, exclusive: true); // clear of both the held range and the waiting one
        Assert.That(second.IsCompleted, Is.False);
        Assert.That(third.IsCompletedSuccessfully, Is.True);
        gate.Release(first);
        gate.Release(third.Result);
        Assert.That(second.AsTask().Wait(1000), Is.True);
        gate.Release(second.Result);
        Assert.That(gate.Guards, Is.Zero);
    }

    [Test]
    public void RandomTraffic_NeverLetsAnythingOverlapAnExclusiveRange()
    {
        var gate = new BlockRangeGate();
        var busy = new int[64]; // per block: >0 shared holders, -1 exclusive
        var violations = 0;
        var workers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            for (int i = 0; i < 2000; i++)
            {
                ulong lba = (ulong)random.Next(0, 60);
                ulong blocks = (ulong)random.Next(1, 4);
                bool exclusive = random.Next(8) == 0;
                BlockRangeGate.Lease lease = default;
                bool fast = !exclusive && gate.TryEnterFast();
                if (!fast)
                    lease = await gate.EnterAsync(lba, blocks, exclusive);
                for (ulong b = lba; b < lba + blocks; b++)
                {
                    if (exclusive)
                    {
                        if (Interlocked.CompareExchange(ref busy[b], -1, 0) != 0)
                            Interlocked.Increment(ref violations);
                    }
                    else if (Interlocked.Increment(ref busy[b]) <= 0)
                    {
                        Interlocked.Increment(ref violations);
                    }
                }
                if (random.Next(4) == 0)
                    await Task.Yield();
                for (ulong b = lba; b < lba + blocks; b++)
                {
                    if (exclusive)
                        Interlocked.Exchange(ref busy[b], 0);
                    else
                        Interlocked.Decrement(ref busy[b]);
                }
                if (fast)
                    gate.ExitFast();
                else
                    gate.Release(lease);
            }
        })).ToArray();
        Assert.That(Task.WaitAll(workers, TimeSpan.FromSeconds(60)), Is.True, "no deadlock");
        Assert.That(violations, Is.Zero);
        Assert.That(gate.FastHolders + gate.Guards + gate.SlowEntries, Is.Zero);
    }
}

/// <summary>COMPARE AND WRITE, ORWRITE and WRITE ATOMIC against every other command on the same blocks.</summary>
public class AtomicityTests
{
    private static byte[] CompareAndWrite(ulong lba, byte blocks)
    {
        var c = Cdbs.Block(0x89, lba, 0);
        c[13] = blocks;
        return c;
    }

    /// <summary>Holds every vDisk call whose operation and offset match until <see cref="Open"/>.</summary>
    private sealed class Hold
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Hold(LuFixture f, string operation, long offset)
        {
            f.Disk.BeforeCall = call =>
            {
                if (call.Operation == operation && call.Offset == offset && !_open.Task.IsCompleted)
                {
                    _reached.TrySetResult();
                    return _open.Task;
                }
                return Task.CompletedTask;
            };
        }

        public bool Reached(int ms = 5000) => _reached.Task.Wait(ms);

        public void Open() => _open.TrySetResult();
    }

    [Test]
    public void APlainWrite_WaitsForACompareAndWriteInProgress()
    {
        var f = LuFixture.Create();
        var hold = new Hold(f, "read", 8 * 512);
        var caw = f.NewTask(CompareAndWrite(8, 1), [.. new byte[512], .. Enumerable.Repeat((byte)0xCA, 512)]);
        var cawRun = f.Unit.ExecuteAsync(caw).AsTask();
        Assert.That(hold.Reached(), Is.True);

        var write = f.NewTask(Cdbs.Block(0x2A, 8, 1), Enumerable.Repeat((byte)0x57, 512).ToArray());
        var writeRun = f.Unit.ExecuteAsync(write).AsTask();
        var elsewhere = f.NewTask(Cdbs.Block(0x2A, 9, 1), Enumerable.Repeat((byte)0x11, 512).ToArray());
        var elsewhereRun = f.Unit.ExecuteAsync(elsewhere).AsTask();
        Assert.That(elsewhereRun.Wait(5000), Is.True, "a write to other blocks is not held up");
        Assert.That(writeRun.Wait(300), Is.False, "the write to the same block waits");
        Assert.That(f.Disk.Writes.Count(w => w.Offset == 8 * 512), Is.Zero);

        hold.Open();
        Assert.That(Task.WaitAll([cawRun, writeRun], 5000), Is.True);
        TaskAssert.Good(caw);
        TaskAssert.Good(write);
        Assert.That(f.DiskBytes(8, 1), Is.All.EqualTo(0x57), "the write came after the COMPARE AND WRITE");
        var order = f.Disk.Snapshot().Where(c => c.Offset == 8 * 512).Select(c => c.Operation);
        Assert.That(order, Is.EqualTo(new[] { "read", "write", "write" }));
    }

    [TestCase("write same")]
    [TestCase("unmap")]
    [TestCase("write and verify")]
    [TestCase("orwrite")]
    [TestCase("read")]
    public void OtherCommandsOnTheBlocks_WaitToo(string kind)
    {
        var f = LuFixture.Create();
        // Hold the COMPARE AND WRITE between its read and its write (for a READ, in its write).
        var hold = new Hold(f, kind == "read" ? "write" : "read", 8 * 512);
        var caw = f.NewTask(CompareAndWrite(8, 1), [.. new byte[512], .. Enumerable.Repeat((byte)0xCA, 512)]);
        var cawRun = f.Unit.ExecuteAsync(caw).AsTask();
        Assert.That(hold.Reached(), Is.True);
        int callsBefore = f.Disk.Snapshot().Length;
        var other = kind switch
        {
            "write same" => f.NewTask(Cdbs.Block(0x93, 6, 4), new byte[512].Select(_ => (byte)0x33).ToArray()),
            "unmap" => f.NewTask(Cdbs.Unmap(24), Cdbs.UnmapList((8, 1))),
            "write and verify" => f.NewTask(Cdbs.Block(0x2E, 8, 1), Enumerable.Repeat((byte)0x44, 512).ToArray()),
            "orwrite" => f.NewTask(Cdbs.Block(0x8B, 8, 1), Enumerable.Repeat((byte)0x01, 512).ToArray()),
            _ => f.NewTask(Cdbs.Block(0x28, 8, 1)),
        };
        var otherRun = f.Unit.ExecuteAsync(other).AsTask();
        Assert.That(otherRun.Wait(300), Is.False, $"{kind} waits for the COMPARE AND WRITE");
        Assert.That(f.Disk.Snapshot().Skip(callsBefore), Is.Empty, $"nothing of the {kind} reached the vDisk meanwhile");
        hold.Open();
        Assert.That(Task.WaitAll([cawRun, otherRun], 5000), Is.True);
        TaskAssert.Good(caw);
        TaskAssert.Good(other);
        if (kind == "read")
            Assert.That(other.DataIn.ToArray(), Is.All.EqualTo(0xCA), "the read sees the COMPARE AND WRITE whole");
    }

    [Test]
    public void WriteAtomic_IsNeverSeenHalfWritten()
    {
        var f = LuFixture.Create();
        var hold = new Hold(f, "write", 16 * 512);
        var atomic = f.NewTask(Cdbs.WriteAtomic16(16, 4), Enumerable.Repeat((byte)0xA7, 4 * 512).ToArray());
        var atomicRun = f.Unit.ExecuteAsync(atomic).AsTask();
        Assert.That(hold.Reached(), Is.True);
        var read = f.NewTask(Cdbs.Block(0x28, 18, 1));
        var readRun = f.Unit.ExecuteAsync(read).AsTask();
        Assert.That(readRun.Wait(300), Is.False, "a read of its blocks waits for the atomic write");
        hold.Open();
        Assert.That(Task.WaitAll([atomicRun, readRun], 5000), Is.True);
        TaskAssert.Good(atomic);
        Assert.That(read.DataIn.ToArray(), Is.All.EqualTo(0xA7));
    }

    [Test]
    public void ARaceOfCompareAndWritesAndPlainWrites_NeverInterleavesOnTheBlock()
    {
        // Every vDisk call is stamped when it starts and when it ends. A COMPARE AND WRITE's read and write of the
        // lock block must form an interval no plain write of the block overlaps.
        var memory = new MemoryVDisk(1 << 20);
        var stamped = new StampingVDisk(memory);
        var unit = new LogicalUnit(stamped, new LogicalUnitOptions { SerialNumber = "s", NaaDesignator = LuFixture.Naa },
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var nexus = LuFixture.NewNexus("iqn.1994-05.com.example:race", 1);
        unit.AddNexus(nexus);
        Run(unit, nexus, Cdbs.TestUnitReady(), null);

        int cawGood = 0;
        var writers = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < 300; i++)
            {
                var data = Enumerable.Repeat((byte)(0x10 + w), 512).ToArray();
                var t = NewTask(nexus, Cdbs.Block(0x2A, 3, 1), data);
                await unit.ExecuteAsync(t);
            }
        }));
        var swappers = Enumerable.Range(0, 2).Select(s => Task.Run(async () =>
        {
            for (int i = 0; i < 300; i++)
            {
                var current = NewTask(nexus, Cdbs.Block(0x28, 3, 1), null);
                await unit.ExecuteAsync(current);
                var next = Enumerable.Repeat((byte)0xCA, 512).ToArray();
                var t = NewTask(nexus, CompareAndWrite(3, 1), [.. current.DataIn.ToArray(), .. next]);
                await unit.ExecuteAsync(t);
                if (t.Status == ScsiStatus.Good)
                    Interlocked.Increment(ref cawGood);
            }
        }));
        Assert.That(Task.WaitAll([.. writers, .. swappers], TimeSpan.FromSeconds(60)), Is.True);

        var calls = stamped.Calls.ToArray();
        var cawWrites = calls.Where(c => c.Operation == "write" && c.FirstByte == 0xCA).ToList();
        var plainWrites = calls.Where(c => c.Operation == "write" && c.FirstByte != 0xCA).ToList();
        Assert.That(cawWrites.Count, Is.EqualTo(cawGood));
        Assert.That(cawGood, Is.GreaterThan(0));
        foreach (var w in cawWrites)
        {
            // its compare read: the last read of the block that started before the write did
            var r = calls.Where(c => c.Operation == "read" && c.Start < w.Start && c.Tag == w.Tag).MaxBy(c => c.Start);
            Assert.That(r, Is.Not.Null);
            var overlapping = plainWrites.Where(p => p.Start < w.End && r!.Start < p.End).ToList();
            Assert.That(overlapping, Is.Empty, $"plain writes inside the COMPARE AND WRITE [{r!.Start},{w.End}]");
        }
    }

    private static ScsiTask NewTask(ITNexus nexus, byte[] cdb, byte[]? data)
    {
        var t = new ScsiTask { Nexus = nexus };
        cdb.CopyTo(t.CdbBuffer, 0);
        t.CdbLength = cdb.Length;
        t.DataOut = data ?? ReadOnlyMemory<byte>.Empty;
        t.ExpectedTransferLength = data is null ? 512u : (uint)data.Length;
        return t;
    }

    private static void Run(LogicalUnit unit, ITNexus nexus, byte[] cdb, byte[]? data) =>
        unit.ExecuteAsync(NewTask(nexus, cdb, data)).AsTask().GetAwaiter().GetResult();

    /// <summary>Stamps every call with a global sequence number at its start and end; completes asynchronously.</summary>
    private sealed class StampingVDisk(IVDisk inner) : IVDisk
    {
        private long _clock;

        public sealed record Call(string Operation, long Start, long End, byte FirstByte, int Tag);

        public ConcurrentQueue<Call> Calls { get; } = new();

        public long Id => inner.Id;

        public string Name => inner.Name;

        public long CapacityBytes => inner.CapacityBytes;

        public bool SupportsUnmap => inner.SupportsUnmap;

        public event Action<IVDisk>? CapacityChanged
        {
            add => inner.CapacityChanged += value;
            remove => inner.CapacityChanged -= value;
        }

        public async ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context)
        {
            long start = Interlocked.Increment(ref _clock);
            await Task.Yield();
            var status = await inner.ReadAsync(offset, destination, context);
            Calls.Enqueue(new Call("read", start, Interlocked.Increment(ref _clock), 0, (int)offset));
            return status;
        }

        public async ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context)
        {
            long start = Interlocked.Increment(ref _clock);
            await Task.Yield();
            var status = await inner.WriteAsync(offset, source, flags, context);
            Calls.Enqueue(new Call("write", start, Interlocked.Increment(ref _clock), source.Span[0], (int)offset));
            return status;
        }

        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => inner.UnmapAsync(offset, length, context);

        public ValueTask<IoStatus> FlushAsync(IoContext context) => inner.FlushAsync(context);

        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => inner.GetAllocationAsync(offset, maxLength, context);
    }
}
