namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class ModeSenseTests
{
    private static readonly byte[] CachingWce = [0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    private static readonly byte[] Control = [0x0A, 0x0A, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00];
    private static readonly byte[] InformationalExceptions = [0x1C, 0x0A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    [Test]
    public void ModeSense6_AllPages_GoldenBytes()
    {
        var f = LuFixture.Create(blocks: 2048);
        var task = f.Run(Cdbs.ModeSense6(0x3F));
        TaskAssert.Good(task);
        byte[] expected =
        [
            55, 0x00, 0x10, 8, // MODE DATA LENGTH, MEDIUM TYPE, DPOFUA, BLOCK DESCRIPTOR LENGTH
            0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00, // 2048 blocks of 512 bytes
            .. CachingWce, .. Control, .. InformationalExceptions,
        ];
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void ModeSense10_LongLba()
    {
        var f = LuFixture.Create(blocks: 2048);
        var task = f.Run(Cdbs.ModeSense10(0x08, llbaa: true));
        TaskAssert.Good(task);
        var d = task.DataIn.ToArray();
        Assert.That(d[..8], Is.EqualTo(new byte[] { 0, 42, 0x00, 0x10, 0x01, 0x00, 0, 16 }));
        Assert.That(LuFixture.U64(d, 8), Is.EqualTo(2048));
        Assert.That(LuFixture.U32(d, 20), Is.EqualTo(512));
        Assert.That(d[24..], Is.EqualTo(CachingWce));
    }

    [Test]
    public void ModeSense10_ShortDescriptorAndDbd()
    {
        var f = LuFixture.Create();
        var d = f.Run(Cdbs.ModeSense10(0x0A)).DataIn.ToArray();
        Assert.That(LuFixture.U16(d, 6), Is.EqualTo(8));
        Assert.That(d[16..], Is.EqualTo(Control));
        d = f.Run(Cdbs.ModeSense10(0x0A, dbd: true)).DataIn.ToArray();
        Assert.That(d[..8], Is.EqualTo(new byte[] { 0, 18, 0, 0x10, 0, 0, 0, 0 }));
        Assert.That(d[8..], Is.EqualTo(Control));
    }

    [Test]
    public void ControlPage_DirectlyAndInAllPages_Agree()
    {
        var f = LuFixture.Create();
        var direct = f.Run(Cdbs.ModeSense6(0x0A, dbd: true)).DataIn.ToArray()[4..];
        var all = f.Run(Cdbs.ModeSense6(0x3F, dbd: true)).DataIn.ToArray();
        Assert.That(all.AsSpan(4 + 20, 12).ToArray(), Is.EqualTo(direct));
    }

    [Test]
    public void ChangeableValues_ShowWceDSenseAndSwp()
    {
        var f = LuFixture.Create();
        var d = f.Run(Cdbs.ModeSense6(0x3F, pc: 1, dbd: true)).DataIn.ToArray();
        var caching = d.AsSpan(4, 20).ToArray();
        var control = d.AsSpan(24, 12).ToArray();
        var iec = d.AsSpan(36, 12).ToArray();
        Assert.That(caching[2], Is.EqualTo(0x04));
        Assert.That(caching[3..], Is.All.Zero);
        Assert.That(control[2], Is.EqualTo(0x04));
        Assert.That(control[4], Is.EqualTo(0x08));
        Assert.That(control[3], Is.Zero);
        Assert.That(iec[2..], Is.All.Zero);
    }

    [Test]
    public void DefaultValues_FollowTheConfiguration_NotTheCurrentState()
    {
        var f = LuFixture.Create(writeCache: true);
        f.Unit.WriteCacheEnabled = false;
        Assert.That(f.Run(Cdbs.ModeSense6(0x08, pc: 2, dbd: true)).DataIn.Span[6], Is.EqualTo(0x04));
        Assert.That(f.Run(Cdbs.ModeSense6(0x08, pc: 0, dbd: true)).DataIn.Span[6], Is.Zero);
    }

    [Test]
    public void SavedValues_AreNotSupported()
    {
        var f = LuFixture.Create();
        var sense = TaskAssert.Check(f.Run(Cdbs.ModeSense6(0x3F, pc: 3)), SenseCode.SavingParametersNotSupported);
        Assert.That(sense.FieldPointer, Is.EqualTo(2));
        Assert.That(sense.BitPointer, Is.EqualTo(7));
    }

    [Test]
    public void UnsupportedPage_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ModeSense6(0x19)), 2, 5);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ModeSense6(0x00)), 2, 5);
    }

    [Test]
    public void Subpages()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ModeSense6(0x0A, subpage: 0x01)), 3, 7);
        var all = f.Run(Cdbs.ModeSense6(0x3F, subpage: 0xFF));
        TaskAssert.Good(all);
        Assert.That(all.DataIn.ToArray(), Is.EqualTo(f.Run(Cdbs.ModeSense6(0x3F)).DataIn.ToArray()));
    }

    [Test]
    public void AllocationLength4_ReturnsTheHeaderWithoutResidualOverflow()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ModeSense6(0x3F, allocation: 4), expectedLength: 4);
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(4));
        Assert.That(task.TransferLength, Is.EqualTo(4));
        Assert.That(task.DataIn.Span[0], Is.EqualTo(55), "the MODE DATA LENGTH still tells the whole length");
    }

    [Test]
    public void AllocationLength255_ReturnsLessAndSaysSo()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ModeSense6(0x3F, allocation: 255), expectedLength: 255);
        Assert.That(task.TransferLength, Is.EqualTo(56), "the transport turns this into a residual underflow");
    }

    [Test]
    public void WriteProtectBit_ForReadOnlyOrSwp()
    {
        var f = LuFixture.Create(readOnly: true);
        Assert.That(f.Run(Cdbs.ModeSense6(0x3F)).DataIn.Span[2], Is.EqualTo(0x90));
        f = LuFixture.Create();
        f.Unit.SoftwareWriteProtect = true;
        Assert.That(f.Run(Cdbs.ModeSense10(0x3F)).DataIn.Span[3], Is.EqualTo(0x90));
    }
}
