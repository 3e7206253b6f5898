using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

namespace StorageAppliance.Protocols.Scsi.Tests;

/// <summary>STYLE.md 5 and 7: READ and WRITE allocate nothing per command once buffers are pooled.</summary>
public class HotPathTests
{
    [Test]
    public void ReadAndWrite_AllocateNothingPerCommand()
    {
        var unit = new LogicalUnit(new MemoryVDisk(1 << 20), new LogicalUnitOptions { SerialNumber = "s", NaaDesignator = LuFixture.Naa }, NullLogger.Instance);
        var nexus = LuFixture.NewNexus("iqn.1994-05.com.example:h", 1);
        unit.AddNexus(nexus);
        var task = new ScsiTask();
        var data = new byte[8 * 512];
        byte[] read = Cdbs.Block(0x28, 16, 8, 0x08);
        byte[] write = Cdbs.Block(0x8A, 16, 8, 0x18);

        void Run(byte[] cdb, bool isWrite)
        {
            task.Reset();
            task.Nexus = nexus;
            cdb.CopyTo(task.CdbBuffer, 0);
            task.CdbLength = cdb.Length;
            task.ExpectedTransferLength = (uint)data.Length;
            task.DataOut = isWrite ? data : ReadOnlyMemory<byte>.Empty;
            var pending = unit.ExecuteAsync(task);
            if (!pending.IsCompletedSuccessfully)
                throw new InvalidOperationException("expected synchronous completion");
        }

        for (int i = 0; i < 10; i++) // unit attention, pool warm-up, JIT
        {
            Run(write, true);
            Run(read, false);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Run(write, true);
            Run(read, false);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        TaskAssert.Good(task);
        Assert.That(allocated, Is.Zero);
    }
}
