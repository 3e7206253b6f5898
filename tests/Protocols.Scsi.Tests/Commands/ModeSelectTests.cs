using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class ModeSelectTests
{
    /// <summary>What an initiator does: MODE SENSE the page (DBD), clear PS, change bits, send it back.</summary>
    private static byte[] Page6(LuFixture f, byte page, Action<byte[]> change)
    {
        var sensed = f.Run(Cdbs.ModeSense6(page, dbd: true)).DataIn.ToArray();
        var list = new byte[sensed.Length];
        sensed.AsSpan(4).CopyTo(list.AsSpan(4));
        list[2] = sensed[2]; // device-specific parameter echoed back: ignored
        list[4] &= 0x3F;
        var pageBytes = list.AsSpan(4).ToArray();
        change(pageBytes);
        pageBytes.CopyTo(list, 4);
        return list;
    }

    [Test]
    public void WriteCacheOff_RoundTrips_AndMakesWritesDurable()
    {
        var f = LuFixture.Create(writeCache: true);
        var list = Page6(f, 0x08, p => p[2] &= unchecked((byte)~0x04));
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(list.Length), list));
        Assert.That(f.Unit.WriteCacheEnabled, Is.False);
        Assert.That(f.Run(Cdbs.ModeSense6(0x08, dbd: true)).DataIn.Span[6] & 0x04, Is.Zero);
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]));
        Assert.That(f.Disk.Writes.Last().Flags, Is.EqualTo(IoFlags.ForceUnitAccess));

        list = Page6(f, 0x08, p => p[2] |= 0x04);
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(list.Length), list));
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]));
        Assert.That(f.Disk.Writes.Last().Flags, Is.EqualTo(IoFlags.None));
    }

    [Test]
    public void ModeSelect10_WithBlockDescriptor_RoundTrips()
    {
        var f = LuFixture.Create();
        var sensed = f.Run(Cdbs.ModeSense10(0x0A)).DataIn.ToArray();
        sensed[0] = sensed[1] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
        sensed[16 + 2] |= 0x04; // D_SENSE
        TaskAssert.Good(f.Run(Cdbs.ModeSelect10(sensed.Length), sensed));
        Assert.That(f.Unit.DescriptorSense, Is.True);
    }

    [Test]
    public void DSense_SwitchesCheckConditionsToDescriptorFormat()
    {
        var f = LuFixture.Create();
        var fixedSense = TaskAssert.Check(f.Run(Cdbs.Block(0x88, ulong.MaxValue, 1)), SenseCode.LbaOutOfRange);
        Assert.That(fixedSense.Descriptor, Is.False);
        var list = Page6(f, 0x0A, p => p[2] |= 0x04);
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(list.Length), list));
        var task = f.Run(Cdbs.Block(0x88, ulong.MaxValue, 1));
        Assert.That(task.Sense[0], Is.EqualTo(0x72));
        Assert.That(TaskAssert.Check(task, SenseCode.LbaOutOfRange).Descriptor, Is.True);
        Assert.That(f.Run(Cdbs.ModeSense6(0x0A, dbd: true)).DataIn.Span[6] & 0x04, Is.EqualTo(0x04));
    }

    [Test]
    public void Swp_WriteProtectsUntilCleared()
    {
        var f = LuFixture.Create();
        var list = Page6(f, 0x0A, p => p[4] |= 0x08);
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(list.Length), list));
        TaskAssert.Good(f.Run(Cdbs.Block(0x28, 0, 1)));
        TaskAssert.Check(f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]), SenseCode.SoftwareWriteProtected);
        Assert.That(f.Run(Cdbs.ModeSense6(0x0A)).DataIn.Span[2] & 0x80, Is.EqualTo(0x80), "WP");
        list = Page6(f, 0x0A, p => p[4] &= unchecked((byte)~0x08));
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(list.Length), list));
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]));
    }

    [Test]
    public void AChange_IsAUnitAttentionForTheOtherNexusesOnly()
    {
        var f = LuFixture.Create();
        var other = f.AddNexus();
        var list = Page6(f, 0x08, p => p[2] &= unchecked((byte)~0x04));
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(list.Length), list));
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady()));
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady(), nexus: other), SenseCode.ModeParametersChanged);
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady(), nexus: other));
    }

    [Test]
    public void NoChange_NoUnitAttention()
    {
        var f = LuFixture.Create();
        var other = f.AddNexus();
        var list = Page6(f, 0x08, _ => { });
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(list.Length), list));
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady(), nexus: other));
    }

    [Test]
    public void SavePages_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        var list = Page6(f, 0x08, p => p[2] &= unchecked((byte)~0x04));
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ModeSelect6(list.Length, sp: true), list), 1, 0);
        Assert.That(f.Unit.WriteCacheEnabled, Is.True);
    }

    [Test]
    public void NonChangeableBit_IsInvalidFieldInParameterList()
    {
        var f = LuFixture.Create();
        var list = Page6(f, 0x08, p => p[2] |= 0x01); // RCD
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(list.Length), list), 4 + 2, 0);
        list = Page6(f, 0x0A, p => p[8] = 0xEF); // BUSY TIMEOUT PERIOD, bit 4 cleared
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(list.Length), list), 4 + 8, 4);
    }

    [Test]
    public void AnError_ChangesNothing_EvenInAnEarlierPage()
    {
        var f = LuFixture.Create();
        var caching = Page6(f, 0x08, p => p[2] &= unchecked((byte)~0x04));
        var control = Page6(f, 0x0A, p => p[3] = 0x00); // QUEUE ALGORITHM MODIFIER is not changeable
        var list = caching.Concat(control.AsSpan(4).ToArray()).ToArray();
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(list.Length), list), 4 + 20 + 3, 4);
        Assert.That(f.Unit.WriteCacheEnabled, Is.True);
    }

    [Test]
    public void PsBit_IsReservedInModeSelect()
    {
        var f = LuFixture.Create();
        var list = Page6(f, 0x08, p => p[0] |= 0x80);
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(list.Length), list), 4, 7);
    }

    [Test]
    public void UnknownPageOrSubpage_IsInvalidFieldInParameterList()
    {
        var f = LuFixture.Create();
        byte[] list = [0, 0, 0, 0, 0x19, 0x02, 0, 0];
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(list.Length), list), 4, 5);
        list = [0, 0, 0, 0, 0x48, 0x01, 0x00, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(list.Length), list), 4, 6);
    }

    [Test]
    public void WrongPageLength_IsInvalidFieldInParameterList()
    {
        var f = LuFixture.Create();
        var list = Page6(f, 0x0A, _ => { });
        list[5] = 0x08;
        Array.Resize(ref list, 4 + 10);
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(list.Length), list), 5, 7);
    }

    [Test]
    public void TruncatedList_IsParameterListLengthError()
    {
        var f = LuFixture.Create();
        var list = Page6(f, 0x08, p => p[2] &= unchecked((byte)~0x04));
        TaskAssert.Check(f.Run(Cdbs.ModeSelect6(list.Length - 1), list[..^1]), SenseCode.ParameterListLengthError);
        TaskAssert.Check(f.Run(Cdbs.ModeSelect6(3), list[..3]), SenseCode.ParameterListLengthError);
        Assert.That(f.Unit.WriteCacheEnabled, Is.True);
    }

    [Test]
    public void EmptyList_IsGood()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(0), Array.Empty<byte>()));
    }

    [Test]
    public void BlockDescriptor_MayRestateButNotChangeTheGeometry()
    {
        var f = LuFixture.Create();
        var sensed = f.Run(Cdbs.ModeSense6(0x08)).DataIn.ToArray();
        sensed[0] = 0;
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(sensed.Length), sensed));
        var zeroCount = (byte[])sensed.Clone();
        zeroCount[4] = zeroCount[5] = zeroCount[6] = zeroCount[7] = 0;
        TaskAssert.Good(f.Run(Cdbs.ModeSelect6(zeroCount.Length), zeroCount));
        var bigger = (byte[])sensed.Clone();
        bigger[10] = 0x10; // 4096-byte blocks
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(bigger.Length), bigger), 4 + 5, 7);
        var badLength = (byte[])sensed.Clone();
        badLength[3] = 4;
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(badLength.Length), badLength), 3, 7);
    }

    [Test]
    public void MediumType_MustBeZero()
    {
        var f = LuFixture.Create();
        var list = Page6(f, 0x08, _ => { });
        list[1] = 0x01;
        TaskAssert.InvalidParameter(f.Run(Cdbs.ModeSelect6(list.Length), list), 1, 7);
    }

    [Test]
    public void PageFormatZero_WithPages_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        var list = Page6(f, 0x08, _ => { });
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ModeSelect6(list.Length, pf: false), list), 1, 4);
    }

    [Test]
    public void LogicalUnitReset_RestoresTheDefaults()
    {
        var f = LuFixture.Create(writeCache: true);
        f.Unit.WriteCacheEnabled = false;
        f.Unit.DescriptorSense = true;
        f.Unit.SoftwareWriteProtect = true;
        f.Unit.Reset(f.Nexus);
        Assert.That(f.Unit.WriteCacheEnabled, Is.True);
        Assert.That(f.Unit.DescriptorSense, Is.False);
        Assert.That(f.Unit.SoftwareWriteProtect, Is.False);
    }
}
