using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

namespace StorageAppliance.Protocols.Scsi.Tests;

public class ScsiTargetTests
{
    private static (ScsiTarget Target, LogicalUnit Unit, ITNexus Nexus) Create()
    {
        var target = new ScsiTarget("iqn.2026-11.io.storageappliance:t", NullLogger.Instance);
        var unit = new LogicalUnit(new MemoryVDisk(1 << 20), new LogicalUnitOptions { SerialNumber = "s", NaaDesignator = LuFixture.Naa }, NullLogger.Instance);
        target.AddLogicalUnit(0, unit);
        var nexus = LuFixture.NewNexus("iqn.1994-05.com.example:h", 1);
        target.AddNexus(nexus);
        return (target, unit, nexus);
    }

    private static ScsiTask Run(ScsiTarget target, ITNexus nexus, ulong lun, byte[] cdb)
    {
        var task = new ScsiTask { Nexus = nexus, Lun = lun, CdbLength = cdb.Length, ExpectedTransferLength = 4096 };
        cdb.CopyTo(task.CdbBuffer, 0);
        target.ExecuteAsync(task).AsTask().Wait();
        return task;
    }

    [Test]
    public void AUnitsAbortRequest_ReachesEveryTargetThatExportsIt_WithItsLun()
    {
        var registry = new LogicalUnitRegistry();
        var unit = new LogicalUnit(new MemoryVDisk(1 << 20), new LogicalUnitOptions { SerialNumber = "s", NaaDesignator = LuFixture.Naa }, NullLogger.Instance);
        var a = new ScsiTarget("iqn.2026-11.io.storageappliance:a", NullLogger.Instance, registry);
        var b = new ScsiTarget("iqn.2026-11.io.storageappliance:b", NullLogger.Instance, registry);
        a.AddLogicalUnit(0, unit);
        b.AddLogicalUnit(7, unit);
        b.AddLogicalUnit(8, unit); // the same unit twice in one target: each LUN is told once
        var seen = new List<(string, ulong, int)>();
        a.AbortTasksRequested += r => seen.Add(("a", r.Lun, r.Nexuses.Count));
        b.AbortTasksRequested += r =>
        {
            seen.Add(("b", r.Lun, r.Nexuses.Count));
            r.Track(Task.CompletedTask);
        };
        // A PREEMPT AND ABORT through target a, preempting a nexus of target b.
        var na = LuFixture.NewNexus("iqn.1994-05.com.example:h1", 1, "iqn.2026-11.io.storageappliance:a,t,0x0001");
        var nb = LuFixture.NewNexus("iqn.1994-05.com.example:h2", 1, "iqn.2026-11.io.storageappliance:b,t,0x0001");
        a.AddNexus(na);
        b.AddNexus(nb);
        Run(a, na, 0, Cdbs.TestUnitReady());
        Run(b, nb, 7, Cdbs.TestUnitReady());
        TaskAssert.Good(RunOut(a, na, 0, Cdbs.PersistentReserveOut(0x06), Cdbs.PrOutParameters(0, 1)));
        TaskAssert.Good(RunOut(b, nb, 7, Cdbs.PersistentReserveOut(0x06), Cdbs.PrOutParameters(0, 2)));
        TaskAssert.Good(RunOut(a, na, 0, Cdbs.PersistentReserveOut(0x05, LogicalUnit.PrExclusiveAccess), Cdbs.PrOutParameters(1, 2)));
        Assert.That(seen, Is.EquivalentTo(new[] { ("a", 0UL, 1), ("b", 7UL, 1), ("b", 8UL, 1) }));
        Assert.That(registry.Find(LuFixture.Naa), Is.SameAs(unit));
    }

    private static ScsiTask RunOut(ScsiTarget target, ITNexus nexus, ulong lun, byte[] cdb, byte[] data)
    {
        var task = new ScsiTask { Nexus = nexus, Lun = lun, CdbLength = cdb.Length, ExpectedTransferLength = (uint)data.Length, DataOut = data };
        cdb.CopyTo(task.CdbBuffer, 0);
        target.ExecuteAsync(task).AsTask().Wait();
        return task;
    }

    [Test]
    public void MissingLun_InquiryHasQualifier011b()
    {
        var (target, _, nexus) = Create();
        var task = Run(target, nexus, 5, Cdbs.Inquiry(255));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Span[0], Is.EqualTo(0x7F));
        Assert.That(task.TransferLength, Is.EqualTo(36));
    }

    [Test]
    public void MissingLun_OtherCommandsAreLogicalUnitNotSupported()
    {
        var (target, _, nexus) = Create();
        TaskAssert.Check(Run(target, nexus, 5, Cdbs.TestUnitReady()), SenseCode.LogicalUnitNotSupported);
        var sense = Run(target, nexus, 5, Cdbs.RequestSense());
        TaskAssert.Good(sense);
        Assert.That(Sense.Parse(sense.DataIn.Span).Code, Is.EqualTo(SenseCode.LogicalUnitNotSupported));
    }

    [Test]
    public void ReportLuns_AnsweredForAnyLun_WithoutConsumingUnitAttentions()
    {
        var (target, unit, nexus) = Create();
        target.AddLogicalUnit(300, new LogicalUnit(new MemoryVDisk(1 << 20), new LogicalUnitOptions { SerialNumber = "t", NaaDesignator = LuFixture.Naa }, NullLogger.Instance));
        var task = Run(target, nexus, 0, Cdbs.ReportLuns());
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0x2C, 0, 0, 0, 0, 0, 0 }));
        Assert.That(unit.PendingUnitAttentions(nexus), Is.Not.Empty);
        var truncated = Run(target, nexus, 0, Cdbs.ReportLuns(16));
        Assert.That(truncated.DataIn.Length, Is.EqualTo(16));
        Assert.That(truncated.TransferLength, Is.EqualTo(16));
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(6)]
    [TestCase(10)]
    [TestCase(11)]
    public void ReportLuns_CdbShorterThanTwelveBytes_IsInvalidFieldInCdb(int length)
    {
        // Found by the scsi-cdb fuzz target: REPORT LUNS read its allocation length past the end of a short CDB.
        var (target, _, nexus) = Create();
        var cdb = Cdbs.ReportLuns()[..length];
        if (length > 0)
            cdb[0] = ScsiOpcode.ReportLuns;
        var task = new ScsiTask { Nexus = nexus, Lun = 0, CdbLength = length, ExpectedTransferLength = 4096 };
        task.CdbBuffer[0] = ScsiOpcode.ReportLuns;
        cdb.CopyTo(task.CdbBuffer, 0);
        target.ExecuteAsync(task).AsTask().Wait();
        TaskAssert.InvalidCdbField(task, 0, 7);
    }

    [Test]
    public void NewLun_IsAnnounced_AndReportLunsClearsTheAnnouncement()
    {
        var (target, unit, nexus) = Create();
        Run(target, nexus, 0, Cdbs.TestUnitReady());
        target.AddLogicalUnit(1, new LogicalUnit(new MemoryVDisk(1 << 20), new LogicalUnitOptions { SerialNumber = "u", NaaDesignator = LuFixture.Naa }, NullLogger.Instance));
        Assert.That(unit.PendingUnitAttentions(nexus), Is.EqualTo(new[] { SenseCode.ReportedLunsDataHasChanged }));
        TaskAssert.Good(Run(target, nexus, 0, Cdbs.ReportLuns()));
        TaskAssert.Good(Run(target, nexus, 0, Cdbs.TestUnitReady()));
    }

    [Test]
    public void TargetReset_ClearsPreventionAndTellsEveryNexus()
    {
        var (target, unit, nexus) = Create();
        Run(target, nexus, 0, Cdbs.TestUnitReady());
        TaskAssert.Good(Run(target, nexus, 0, Cdbs.PreventAllow(1)));
        target.ResetTarget(nexus, cold: false);
        Assert.That(unit.MediumRemovalPrevented, Is.False);
        TaskAssert.Check(Run(target, nexus, 0, Cdbs.TestUnitReady()), SenseCode.PowerOnResetOrBusDeviceReset);
        target.ResetTarget(nexus, cold: true);
        TaskAssert.Check(Run(target, nexus, 0, Cdbs.TestUnitReady()), SenseCode.PowerOnOccurred);
    }

    [Test]
    public void LogoutOrConnectionLoss_EndsPrevention()
    {
        var (target, unit, nexus) = Create();
        Run(target, nexus, 0, Cdbs.TestUnitReady());
        TaskAssert.Good(Run(target, nexus, 0, Cdbs.PreventAllow(1)));
        target.RemoveNexus(nexus);
        Assert.That(unit.MediumRemovalPrevented, Is.False);
    }

    [Test]
    public void LogicalUnitReset_ReportsBusDeviceReset()
    {
        var (target, _, nexus) = Create();
        Run(target, nexus, 0, Cdbs.TestUnitReady());
        Assert.That(target.ResetLogicalUnit(0, nexus), Is.True);
        Assert.That(target.ResetLogicalUnit(9, nexus), Is.False);
        TaskAssert.Check(Run(target, nexus, 0, Cdbs.TestUnitReady()), SenseCode.BusDeviceResetFunctionOccurred);
    }
}

public class SenseDataTests
{
    [Test]
    public void Fixed_InformationTooLargeForFourBytes_IsNotValid()
    {
        var buffer = new byte[32];
        SenseData.Write(buffer, SenseCode.UnrecoveredReadError, false, 1UL << 33);
        Assert.That(buffer[0], Is.EqualTo(0x70), "VALID clear");
        Assert.That(buffer.AsSpan(3, 4).ToArray(), Is.All.Zero);
        SenseData.Write(buffer, SenseCode.UnrecoveredReadError, false, 0x12345678);
        Assert.That(buffer[0], Is.EqualTo(0xF0));
        Assert.That(buffer.AsSpan(3, 4).ToArray(), Is.EqualTo(new byte[] { 0x12, 0x34, 0x56, 0x78 }));
    }

    [Test]
    public void Descriptor_GoldenBytes()
    {
        var buffer = new byte[64];
        int n = SenseData.Write(buffer, SenseCode.InvalidFieldInCdb, true, 1UL << 33, SenseKeySpecific.CdbField(10, 7));
        Assert.That(buffer[..n], Is.EqualTo(new byte[]
        {
            0x72, 0x05, 0x24, 0x00, 0, 0, 0, 20,
            0x00, 0x0A, 0x80, 0, 0, 0, 0, 0x02, 0, 0, 0, 0,
            0x02, 0x06, 0, 0, 0xCF, 0x00, 0x0A, 0,
        }));
    }

    [Test]
    public void Fixed_SenseKeySpecific_GoldenBytes()
    {
        var buffer = new byte[32];
        int n = SenseData.Write(buffer, SenseCode.InvalidFieldInParameterList, false, null, SenseKeySpecific.ParameterField(6, 2));
        Assert.That(buffer[..n], Is.EqualTo(new byte[] { 0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x26, 0x00, 0, 0x8A, 0x00, 0x06 }));
    }
}
