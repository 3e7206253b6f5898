namespace StorageAppliance.Protocols.Scsi.Tests;

public class UnitAttentionTests
{
    [Test]
    public void NewNexus_SeesPowerOnFirst_Once()
    {
        var f = LuFixture.Create(clearUnitAttention: false);
        TaskAssert.Check(f.Run(Cdbs.Block(0x28, 0, 1)), SenseCode.PowerOnResetOrBusDeviceReset);
        TaskAssert.Good(f.Run(Cdbs.Block(0x28, 0, 1)));
        Assert.That(f.Disk.Calls.Count, Is.EqualTo(1), "the command that reported the unit attention did nothing");
    }

    [Test]
    public void InquiryAndRequestSense_AreExempt()
    {
        var f = LuFixture.Create(clearUnitAttention: false);
        TaskAssert.Good(f.Run(Cdbs.Inquiry()));
        TaskAssert.Good(f.Run(Cdbs.Inquiry(evpd: true, page: 0x83)));
        Assert.That(f.Unit.PendingUnitAttentions(f.Nexus), Has.Length.EqualTo(1));
        TaskAssert.Good(f.Run(Cdbs.RequestSense()));
        Assert.That(f.Unit.PendingUnitAttentions(f.Nexus), Is.Empty, "REQUEST SENSE reports and clears it");
    }

    [Test]
    public void Conditions_AreReportedInTheOrderTheyArose_EachOnce()
    {
        var f = LuFixture.Create();
        var other = f.AddNexus();
        var list = new byte[24];
        f.Run(Cdbs.ModeSense6(0x08, dbd: true)).DataIn.Span.CopyTo(list);
        list[0] = 0;
        list[6] &= unchecked((byte)~0x04);
        f.Memory.Resize(4096 * 512);
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady()), SenseCode.CapacityDataHasChanged);
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(list.Length), list));
        f.Memory.Resize(8192 * 512); // the same condition again: not queued twice
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady(), nexus: other), SenseCode.CapacityDataHasChanged);
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady(), nexus: other), SenseCode.ModeParametersChanged);
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady(), nexus: other));
    }

    [Test]
    public void Reset_GoesFirstAndSupersedesOlderResetConditions()
    {
        var f = LuFixture.Create(clearUnitAttention: false);
        f.Unit.EstablishUnitAttention(f.Nexus, SenseCode.CapacityDataHasChanged);
        f.Unit.Reset(f.Nexus);
        Assert.That(f.Unit.PendingUnitAttentions(f.Nexus), Is.EqualTo(new[] { SenseCode.BusDeviceResetFunctionOccurred, SenseCode.CapacityDataHasChanged }));
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady()), SenseCode.BusDeviceResetFunctionOccurred);
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady()), SenseCode.CapacityDataHasChanged);
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady()));
    }

    [Test]
    public void Reset_ReachesEveryNexus()
    {
        var f = LuFixture.Create();
        var other = f.AddNexus();
        f.Unit.Reset(other);
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady()), SenseCode.BusDeviceResetFunctionOccurred);
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady(), nexus: other), SenseCode.BusDeviceResetFunctionOccurred);
    }

    [Test]
    public void UnitAttention_FollowsDSense()
    {
        var f = LuFixture.Create();
        f.Unit.DescriptorSense = true;
        f.Unit.EstablishUnitAttention(f.Nexus, SenseCode.ModeParametersChanged);
        var task = f.Run(Cdbs.TestUnitReady());
        Assert.That(task.Sense[0], Is.EqualTo(0x72));
        Assert.That(TaskAssert.Check(task, SenseCode.ModeParametersChanged).Descriptor, Is.True);
    }

    [Test]
    public void CapacityChange_ReachesEveryNexus()
    {
        var f = LuFixture.Create();
        var other = f.AddNexus();
        f.Memory.Resize(4096 * 512);
        Assert.That(f.Unit.PendingUnitAttentions(f.Nexus), Is.EqualTo(new[] { SenseCode.CapacityDataHasChanged }));
        Assert.That(f.Unit.PendingUnitAttentions(other), Is.EqualTo(new[] { SenseCode.CapacityDataHasChanged }));
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady(), nexus: other), SenseCode.CapacityDataHasChanged);
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady(), nexus: other));
    }
}
