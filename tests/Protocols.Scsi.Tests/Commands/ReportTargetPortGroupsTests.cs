namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class ReportTargetPortGroupsTests
{
    [Test]
    public void LengthOnlyFormat_OneActiveOptimizedGroupWithThePort()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReportTargetPortGroups());
        TaskAssert.Good(task);
        // RETURN DATA LENGTH 12; group: active/optimized, AO_SUP, group 1, count 1; port: relative id 1.
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[]
        {
            0, 0, 0, 12,
            0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, 0x00, 0x01,
        }));
    }

    [Test]
    public void ExtendedFormat_AndEveryPortTheUnitIsSeenThrough()
    {
        var f = LuFixture.Create();
        f.Unit.AddNexus(LuFixture.NewNexus("iqn.1994-05.com.example:host2", 2, "iqn.2026-11.io.storageappliance:disk1,t,0x0002"));
        f.Unit.AddNexus(new ITNexus("iqn.1994-05.com.example:host3", "iqn.1994-05.com.example:host3,i,0x1", "iqn.2026-11.io.storageappliance:x,t,0x0009", 9) { TargetPortGroup = 2 });
        var task = f.Run(Cdbs.ReportTargetPortGroups(format: 1));
        TaskAssert.Good(task);
        var d = task.DataIn.Span;
        Assert.That(LuFixture.U32(d, 0), Is.EqualTo(d.Length - 4));
        Assert.That(d[4], Is.EqualTo(0x10), "FORMAT TYPE 001b");
        Assert.That(LuFixture.U16(d, 8 + 2), Is.EqualTo(1));
        Assert.That(d[8 + 7], Is.EqualTo(2), "ports 1 and 2 in group 1");
        Assert.That(LuFixture.U16(d, 16 + 2), Is.EqualTo(1));
        Assert.That(LuFixture.U16(d, 20 + 2), Is.EqualTo(2));
        Assert.That(LuFixture.U16(d, 24 + 2), Is.EqualTo(2), "group 2");
        Assert.That(LuFixture.U16(d, 32 + 2), Is.EqualTo(9));
    }

    [Test]
    public void UnknownFormat_AndAllocationLength()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReportTargetPortGroups(format: 2)), 1, 7);
        var task = f.Run(Cdbs.ReportTargetPortGroups(allocation: 6));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(6));
    }

    [Test]
    public void StandardInquiry_SaysImplicitAlua()
    {
        var f = LuFixture.Create();
        Assert.That((f.Run(Cdbs.Inquiry()).DataIn.Span[5] >> 4) & 0x03, Is.EqualTo(1), "TPGS 01b");
    }
}
