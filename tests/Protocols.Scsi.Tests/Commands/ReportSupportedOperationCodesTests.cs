namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class ReportSupportedOperationCodesTests
{
    private readonly record struct Descriptor(byte Opcode, ushort ServiceAction, bool ServiceActionValid, bool TimeoutsPresent, ushort CdbLength, ushort TimeoutsLength);

    private static List<Descriptor> All(LuFixture f, bool rctd = false)
    {
        var task = f.Run(Cdbs.ReportSupportedOpcodes(0, rctd: rctd));
        TaskAssert.Good(task);
        var d = task.DataIn.ToArray();
        Assert.That(LuFixture.U32(d, 0) + 4, Is.EqualTo(d.Length), "COMMAND DATA LENGTH");
        var list = new List<Descriptor>();
        for (int pos = 4; pos < d.Length;)
        {
            bool ctdp = (d[pos + 5] & 0x02) != 0;
            list.Add(new Descriptor(d[pos], LuFixture.U16(d, pos + 2), (d[pos + 5] & 0x01) != 0, ctdp, LuFixture.U16(d, pos + 6),
                ctdp ? LuFixture.U16(d, pos + 8) : (ushort)0));
            pos += ctdp ? 20 : 8;
        }
        return list;
    }

    [Test]
    public void AllCommands_ListEveryImplementedCommandInOrder()
    {
        var f = LuFixture.Create();
        var all = All(f);
        var codes = all.Select(d => (d.Opcode, d.ServiceAction)).ToList();
        Assert.That(codes.Select(c => c.Opcode * 256 + c.ServiceAction), Is.Ordered);
        Assert.That(codes, Does.Contain(((byte)0x28, (ushort)0)));
        Assert.That(codes, Does.Contain(((byte)0x9E, (ushort)0x10)));
        Assert.That(codes, Does.Contain(((byte)0x9E, (ushort)0x12)));
        Assert.That(codes, Does.Contain(((byte)0xA3, (ushort)0x0C)));
        Assert.That(codes, Does.Contain(((byte)0x42, (ushort)0)), "UNMAP on a thin unit");
        Assert.That(all.Where(d => !d.ServiceActionValid).Select(d => d.ServiceAction), Is.All.Zero, "SERVACTV clear means SA zero");
        Assert.That(all.Where(d => d.Opcode is 0x9E or 0xA3).Select(d => d.ServiceActionValid), Is.All.True);
        Assert.That(all.Select(d => d.TimeoutsPresent), Is.All.False, "no CTDP without RCTD");
        Assert.That(all.Single(d => d.Opcode == 0x88).CdbLength, Is.EqualTo(16));
        Assert.That(all.Single(d => d.Opcode == 0x12).CdbLength, Is.EqualTo(6));
    }

    [Test]
    public void AllCommands_WithTimeouts()
    {
        var f = LuFixture.Create();
        var all = All(f, rctd: true);
        Assert.That(all, Is.Not.Empty);
        Assert.That(all.Select(d => d.TimeoutsPresent), Is.All.True);
        Assert.That(all.Select(d => d.TimeoutsLength), Is.All.EqualTo(0x0A));
        Assert.That(all.Count, Is.EqualTo(All(f).Count));
    }

    [Test]
    public void ThickUnit_DoesNotListTheProvisioningCommands_AndRefusesThem()
    {
        var f = LuFixture.Create(thin: false);
        var codes = All(f).Select(d => (d.Opcode, d.ServiceAction)).ToList();
        Assert.That(codes, Does.Not.Contain(((byte)0x42, (ushort)0)));
        Assert.That(codes, Does.Not.Contain(((byte)0x9E, (ushort)0x12)));
        Assert.That(codes, Does.Contain(((byte)0x93, (ushort)0)), "WRITE SAME without UNMAP works on any unit");
        TaskAssert.Check(f.Run(Cdbs.Unmap(24), Cdbs.UnmapList((0, 1))), SenseCode.InvalidOpcode);
    }

    [Test]
    public void OneCommand_Read10_GoldenBytes()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReportSupportedOpcodes(1, 0x28));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0, 0x03, 0, 10, 0x28, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0x07 }));
    }

    [TestCase(0x28, 0x18)]
    [TestCase(0x2A, 0x18)]
    [TestCase(0xA8, 0x18)]
    [TestCase(0x8A, 0x18)]
    [TestCase(0x2E, 0x10)]
    [TestCase(0x2F, 0x10)]
    [TestCase(0x8F, 0x10)]
    public void OneCommand_UsageShowsDpoFua_MatchingModeSenseDpoFua(int opcode, int bits)
    {
        var f = LuFixture.Create();
        Assert.That(f.Run(Cdbs.ModeSense6(0x3F)).DataIn.Span[2] & 0x10, Is.EqualTo(0x10), "DPOFUA");
        var usage = f.Run(Cdbs.ReportSupportedOpcodes(1, (byte)opcode)).DataIn.Span[4..];
        Assert.That(usage[1] & bits, Is.EqualTo(bits));
    }

    [Test]
    public void OneCommand_WithServiceAction()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReportSupportedOpcodes(2, 0x9E, 0x10, rctd: true));
        TaskAssert.Good(task);
        var d = task.DataIn.ToArray();
        Assert.That(d[1], Is.EqualTo(0x83), "CTDP, SUPPORT 011b");
        Assert.That(LuFixture.U16(d, 2), Is.EqualTo(16));
        Assert.That(d[4], Is.EqualTo(0x9E));
        Assert.That(d[5], Is.EqualTo(0x10), "the service action byte holds the service action");
        Assert.That(LuFixture.U16(d, 20), Is.EqualTo(0x0A), "timeouts descriptor");
        Assert.That(d.Length, Is.EqualTo(4 + 16 + 12));
    }

    [Test]
    public void OneCommand_OptionsMustMatchWhetherTheCodeHasServiceActions()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReportSupportedOpcodes(1, 0x9E, 0x10)), 2);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReportSupportedOpcodes(2, 0x28)), 2);
        TaskAssert.Good(f.Run(Cdbs.ReportSupportedOpcodes(3, 0x28, 0x55)));
        TaskAssert.Good(f.Run(Cdbs.ReportSupportedOpcodes(3, 0x9E, 0x10)));
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReportSupportedOpcodes(4)), 2);
    }

    [Test]
    public void OneCommand_Unsupported_IsSupportOne()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReportSupportedOpcodes(1, 0x04));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0, 0x01, 0, 0 }));
        task = f.Run(Cdbs.ReportSupportedOpcodes(2, 0x9E, 0x1F));
        Assert.That(task.DataIn.Span[1], Is.EqualTo(0x01));
    }

    [Test]
    public void EveryListedCommand_CanBeAskedForAlone()
    {
        var f = LuFixture.Create();
        foreach (var d in All(f))
        {
            var task = f.Run(Cdbs.ReportSupportedOpcodes(d.ServiceActionValid ? (byte)2 : (byte)1, d.Opcode, d.ServiceAction));
            TaskAssert.Good(task);
            var one = task.DataIn.Span;
            Assert.That(one[1] & 0x07, Is.EqualTo(3));
            Assert.That(LuFixture.U16(one, 2), Is.EqualTo(d.CdbLength));
            Assert.That(one[4], Is.EqualTo(d.Opcode));
            Assert.That(one[4 + d.CdbLength - 1], Is.EqualTo(0x07), "CONTROL byte usage");
        }
    }

    [Test]
    public void AllocationLength_Truncates()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReportSupportedOpcodes(0, allocation: 10));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(10));
        Assert.That(task.TransferLength, Is.EqualTo(10));
    }
}
