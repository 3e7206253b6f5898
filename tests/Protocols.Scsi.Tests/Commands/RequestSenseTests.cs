namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class RequestSenseTests
{
    [Test]
    public void NothingPending_NoSense_FixedFormatGoldenBytes()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.RequestSense());
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0x70, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }));
    }

    [Test]
    public void DescBit_DescriptorFormat()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.RequestSense(desc: true));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0x72, 0, 0, 0, 0, 0, 0, 0 }));
    }

    [Test]
    public void PendingUnitAttention_IsReturnedAsDataAndCleared()
    {
        var f = LuFixture.Create(clearUnitAttention: false);
        var task = f.Run(Cdbs.RequestSense());
        TaskAssert.Good(task);
        Assert.That(Sense.Parse(task.DataIn.Span).Code, Is.EqualTo(SenseCode.PowerOnResetOrBusDeviceReset));
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady()));
    }

    [Test]
    public void AllocationLength_Truncates()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.RequestSense(allocation: 8));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(8));
        Assert.That(task.TransferLength, Is.EqualTo(8));
        task = f.Run(Cdbs.RequestSense(allocation: 0));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.Zero);
    }

    [Test]
    public void StoppedUnit_ReportsInitializingCommandRequired()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false)));
        var task = f.Run(Cdbs.RequestSense());
        Assert.That(Sense.Parse(task.DataIn.Span).Code, Is.EqualTo(SenseCode.NotReadyInitializingCommandRequired));
    }
}

public class StartStopUnitTests
{
    [Test]
    public void Stop_on_a_shared_lun_writes_the_cache_but_keeps_the_unit_ready_by_default()
    {
        var f = LuFixture.Create(honourStop: false);
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false)));
        Assert.That(f.Unit.Stopped, Is.False);
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady()));
        Assert.That(f.Disk.Calls.Count(c => c.Operation == "flush"), Is.GreaterThan(0), "the stop still writes the cache out");
    }

    [Test]
    public void Stop_FlushesThenRefusesMediumAccessUntilStart()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false)));
        Assert.That(f.Memory.Flushes, Is.EqualTo(1));
        Assert.That(f.Unit.Stopped, Is.True);
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady()), SenseCode.NotReadyInitializingCommandRequired);
        TaskAssert.Check(f.Run(Cdbs.Block(0x28, 0, 1)), SenseCode.NotReadyInitializingCommandRequired);
        TaskAssert.Check(f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]), SenseCode.NotReadyInitializingCommandRequired);
        TaskAssert.Check(f.Run(Cdbs.Block(0x35, 0, 0)), SenseCode.NotReadyInitializingCommandRequired);
        TaskAssert.Good(f.Run(Cdbs.Inquiry()));
        TaskAssert.Good(f.Run(Cdbs.ReadCapacity10()));
        TaskAssert.Good(f.Run(Cdbs.ModeSense6(0x3F)));
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: true)));
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady()));
        TaskAssert.Good(f.Run(Cdbs.Block(0x28, 0, 1)));
    }

    [Test]
    public void NoFlush_StopsWithoutFlushing()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false, noFlush: true)));
        Assert.That(f.Memory.Flushes, Is.Zero);
        Assert.That(f.Unit.Stopped, Is.True);
    }

    [Test]
    public void FailedFlush_ReportsAndDoesNotStop()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("flush", StorageAppliance.Director.IoStatus.WriteError);
        TaskAssert.Check(f.Run(Cdbs.StartStopUnit(start: false)), SenseCode.WriteError);
        Assert.That(f.Unit.Stopped, Is.False);
    }

    [Test]
    public void Immediate_ReturnsBeforeTheFlushAndStops()
    {
        var f = LuFixture.Create();
        f.Disk.Asynchronous = true;
        var task = f.NewTask(Cdbs.StartStopUnit(start: false, immed: true));
        var pending = f.Unit.ExecuteAsync(task);
        Assert.That(pending.IsCompleted, Is.True, "IMMED: status as soon as the CDB is validated");
        TaskAssert.Good(task);
        Assert.That(f.Unit.Stopped, Is.True);
    }

    [Test]
    public void LoadEject_WithRemovalPrevented_IsRefused()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(1)));
        TaskAssert.Check(f.Run(Cdbs.StartStopUnit(start: false, loej: true)), SenseCode.MediumRemovalPrevented);
        Assert.That(f.Unit.Stopped, Is.False);
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady()));
        // Stopping without LOEJ is not a removal.
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false)));
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: true, loej: true)));
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(0)));
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false, loej: true)));
        Assert.That(f.Unit.Stopped, Is.True, "the fixed medium stays; the unit stops");
    }

    [TestCase(0x1, 0)]
    [TestCase(0x2, 0)]
    [TestCase(0x2, 2)]
    [TestCase(0x3, 1)]
    [TestCase(0x7, 0)]
    [TestCase(0xA, 0)]
    [TestCase(0xB, 0)]
    public void PowerConditions_IgnoreStartAndLoej(int condition, int modifier)
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false, loej: true, immed: true, powerCondition: (byte)condition, modifier: (byte)modifier)));
        Assert.That(f.Unit.Stopped, Is.False);
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady()));
    }

    [Test]
    public void ActivePowerCondition_LeavesTheStoppedCondition()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false)));
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false, powerCondition: 1)));
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady()));
    }

    [TestCase(0x4)]
    [TestCase(0x5)]
    [TestCase(0x6)]
    [TestCase(0x8)]
    [TestCase(0xF)]
    public void ReservedPowerCondition_IsInvalidFieldInCdb(int condition)
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.StartStopUnit(start: true, powerCondition: (byte)condition)), 4, 7);
    }

    [TestCase(0x0, 1)]
    [TestCase(0x1, 1)]
    [TestCase(0x2, 3)]
    [TestCase(0x3, 2)]
    public void UndefinedModifier_IsInvalidFieldInCdb(int condition, int modifier)
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.StartStopUnit(start: true, powerCondition: (byte)condition, modifier: (byte)modifier)), 3, 3);
    }
}

public class PreventAllowMediumRemovalTests
{
    [Test]
    public void PreventAndAllow()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(1)));
        Assert.That(f.Unit.MediumRemovalPrevented, Is.True);
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(0)));
        Assert.That(f.Unit.MediumRemovalPrevented, Is.False);
    }

    [TestCase(2)]
    [TestCase(3)]
    public void ObsoleteValues_AreInvalidFieldInCdb(int prevent)
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.PreventAllow((byte)prevent)), 4, 1);
    }

    [Test]
    public void PreventionIsPerNexus_AndSeenByAll()
    {
        var f = LuFixture.Create();
        var other = f.AddNexus();
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(1)));
        TaskAssert.Check(f.Run(Cdbs.StartStopUnit(start: false, loej: true), nexus: other), SenseCode.MediumRemovalPrevented);
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(0), nexus: other)); // another nexus cannot lift it
        Assert.That(f.Unit.MediumRemovalPrevented, Is.True);
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(0)));
        Assert.That(f.Unit.MediumRemovalPrevented, Is.False);
    }

    [Test]
    public void NexusLoss_EndsItsPrevention()
    {
        var f = LuFixture.Create();
        var other = f.AddNexus();
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(1), nexus: other));
        f.Unit.RemoveNexus(other);
        Assert.That(f.Unit.MediumRemovalPrevented, Is.False);
        TaskAssert.Good(f.Run(Cdbs.StartStopUnit(start: false, loej: true)));
    }

    [Test]
    public void LogicalUnitReset_EndsEveryPrevention()
    {
        var f = LuFixture.Create();
        var other = f.AddNexus();
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(1)));
        TaskAssert.Good(f.Run(Cdbs.PreventAllow(1), nexus: other));
        f.Unit.Reset(f.Nexus);
        Assert.That(f.Unit.MediumRemovalPrevented, Is.False);
    }
}

public class SynchronizeCacheTests
{
    [TestCase(0x35)]
    [TestCase(0x91)]
    public void Flushes(int opcode)
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Block((byte)opcode, 0, 0)));
        TaskAssert.Good(f.Run(Cdbs.Block((byte)opcode, 10, 20)));
        Assert.That(f.Memory.Flushes, Is.EqualTo(2));
    }

    [Test]
    public void SyncNvAndGroupAreAccepted()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Block(0x35, 0, 1, 0x04, group: 5)));
    }

    [TestCase(0x35)]
    [TestCase(0x91)]
    public void RangePastTheEnd_IsLbaOutOfRange(int opcode)
    {
        var f = LuFixture.Create();
        TaskAssert.Check(f.Run(Cdbs.Block((byte)opcode, f.Blocks - 1, 2)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block((byte)opcode, f.Blocks + 1, 0)), SenseCode.LbaOutOfRange);
        Assert.That(f.Memory.Flushes, Is.Zero);
    }

    [Test]
    public void FlushFailure_IsReported()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("flush", StorageAppliance.Director.IoStatus.WriteError);
        TaskAssert.Check(f.Run(Cdbs.Block(0x35, 0, 0)), SenseCode.WriteError);
    }

    [Test]
    public void Immediate_ReturnsGoodBeforeTheFlushCompletes()
    {
        var f = LuFixture.Create();
        f.Disk.Asynchronous = true;
        f.Disk.Fail("flush", StorageAppliance.Director.IoStatus.WriteError);
        var task = f.NewTask(Cdbs.Block(0x91, 0, 0, 0x02));
        var pending = f.Unit.ExecuteAsync(task);
        Assert.That(pending.IsCompleted, Is.True);
        TaskAssert.Good(task);
        Assert.That(f.Disk.Calls.Single().Operation, Is.EqualTo("flush"));
    }
}

public class PreFetchTests
{
    [TestCase(0x34)]
    [TestCase(0x90)]
    public void FitsInTheCache_IsConditionMet_AfterReadingThrough(int opcode)
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.Block((byte)opcode, 8, 16));
        Assert.That(task.Status, Is.EqualTo(ScsiStatus.ConditionMet));
        Assert.That(task.SenseLength, Is.Zero);
        var read = f.Disk.Calls.Single();
        Assert.That((read.Operation, read.Offset, read.Length), Is.EqualTo(("read", 8 * 512L, 16 * 512L)));
    }

    [Test]
    public void LargerThanTheCache_IsGood_AfterReadingWhatFits()
    {
        var f = LuFixture.Create(prefetchCacheBytes: 8 * 512);
        var task = f.Run(Cdbs.Block(0x34, 0, 16));
        Assert.That(task.Status, Is.EqualTo(ScsiStatus.Good));
        Assert.That(f.Disk.Calls.Sum(c => c.Length), Is.EqualTo(8 * 512));
    }

    [Test]
    public void ZeroLength_MeansToTheEnd()
    {
        var f = LuFixture.Create(blocks: 2048, prefetchCacheBytes: 100 * 512);
        Assert.That(f.Run(Cdbs.Block(0x34, 2000, 0)).Status, Is.EqualTo(ScsiStatus.ConditionMet), "48 blocks fit");
        Assert.That(f.Run(Cdbs.Block(0x34, 0, 0)).Status, Is.EqualTo(ScsiStatus.Good), "2048 blocks do not");
    }

    [Test]
    public void Immediate_AnswersAtOnce()
    {
        var f = LuFixture.Create();
        f.Disk.Asynchronous = true;
        var task = f.NewTask(Cdbs.Block(0x90, 0, 1, 0x02, group: 3));
        var pending = f.Unit.ExecuteAsync(task);
        Assert.That(pending.IsCompleted, Is.True);
        Assert.That(task.Status, Is.EqualTo(ScsiStatus.ConditionMet));
    }

    [Test]
    public void ReadFailure_IsReported()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("read", StorageAppliance.Director.IoStatus.MediumError);
        TaskAssert.Check(f.Run(Cdbs.Block(0x34, 3, 1)), SenseCode.UnrecoveredReadError);
    }

    [TestCase(0x34)]
    [TestCase(0x90)]
    public void BeyondTheEnd(int opcode)
    {
        var f = LuFixture.Create();
        TaskAssert.Check(f.Run(Cdbs.Block((byte)opcode, f.Blocks + 1, 0)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block((byte)opcode, f.Blocks - 1, 2)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block((byte)opcode, 0x80000000, 1)), SenseCode.LbaOutOfRange);
        Assert.That(f.Disk.Calls, Is.Empty);
    }
}
