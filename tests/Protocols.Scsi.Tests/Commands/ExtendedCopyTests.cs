using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

/// <summary>Builds EXTENDED COPY (LID1) parameter lists as libiscsi and ESXi do.</summary>
internal static class Xcopy
{
    public readonly record struct Segment(ushort Source, ushort Destination, ushort Blocks, ulong SourceLba, ulong DestinationLba, byte Type = 0x02, bool Dc = false);

    /// <summary>An identification descriptor (E4h) naming a unit by its NAA designator.</summary>
    public static byte[] Cscd(byte[] naa, int blockSize = 512, byte type = 0xE4, byte deviceType = 0, byte luIdType = 0)
    {
        var d = new byte[32];
        d[0] = type;
        d[1] = (byte)((luIdType << 6) | deviceType);
        d[4] = 0x01; // binary
        d[5] = 0x03; // LU association, NAA
        d[7] = (byte)naa.Length;
        naa.CopyTo(d, 8);
        d[29] = (byte)(blockSize >> 16);
        d[30] = (byte)(blockSize >> 8);
        d[31] = (byte)blockSize;
        return d;
    }

    public static byte[] List(byte listId, int usage, byte[][] cscds, Segment[] segments)
    {
        int cscdLength = cscds.Sum(c => c.Length);
        var list = new byte[16 + cscdLength + 28 * segments.Length];
        list[0] = listId;
        list[1] = (byte)(usage << 3);
        BinaryPrimitives.WriteUInt16BigEndian(list.AsSpan(2), (ushort)cscdLength);
        BinaryPrimitives.WriteUInt32BigEndian(list.AsSpan(8), (uint)(28 * segments.Length));
        int pos = 16;
        foreach (var c in cscds)
        {
            c.CopyTo(list, pos);
            pos += c.Length;
        }
        foreach (var s in segments)
        {
            var d = list.AsSpan(pos, 28);
            d[0] = s.Type;
            d[1] = (byte)(s.Dc ? 0x02 : 0);
            BinaryPrimitives.WriteUInt16BigEndian(d[2..], 0x18);
            BinaryPrimitives.WriteUInt16BigEndian(d[4..], s.Source);
            BinaryPrimitives.WriteUInt16BigEndian(d[6..], s.Destination);
            BinaryPrimitives.WriteUInt16BigEndian(d[10..], s.Blocks);
            BinaryPrimitives.WriteUInt64BigEndian(d[12..], s.SourceLba);
            BinaryPrimitives.WriteUInt64BigEndian(d[20..], s.DestinationLba);
            pos += 28;
        }
        return list;
    }
}

public class ExtendedCopyTests
{
    private static readonly byte[] OtherNaa = [0x60, 0x01, 0x40, 0x50, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11, 0x22, 0x33, 0x99];

    private static ScsiTask Copy(LuFixture f, byte[] list, ITNexus? nexus = null) => f.Run(Cdbs.ExtendedCopy((uint)list.Length), list, nexus: nexus);

    [Test]
    public void CopiesWithinTheUnit()
    {
        var f = LuFixture.Create(blocks: 4096);
        var data = f.Pattern(100, seed: 7);
        data.CopyTo(f.Memory.Bytes[(10 * 512)..]);
        var list = Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 100, 10, 3000)]);
        TaskAssert.Good(Copy(f, list));
        Assert.That(f.DiskBytes(3000, 100), Is.EqualTo(data));
    }

    [Test]
    public void CopiesBetweenUnitsOfTheRegistry_ThroughAnyTarget()
    {
        var registry = new LogicalUnitRegistry();
        var source = LuFixture.Create(blocks: 8192);
        var destination = LuFixture.Create(blocks: 8192, naa: OtherNaa);
        registry.Add(source.Unit);
        registry.Add(destination.Unit);
        var data = f(source, 5000);
        // Two segments, more than one chunk each (a chunk is 1 MiB = 2048 blocks).
        var list = Xcopy.List(2, 0, [Xcopy.Cscd(LuFixture.Naa), Xcopy.Cscd(OtherNaa)],
            [new(0, 1, 2500, 0, 100), new(0, 1, 2500, 2500, 2600)]);
        TaskAssert.Good(Copy(source, list));
        Assert.That(destination.DiskBytes(100, 5000), Is.EqualTo(data));
        Assert.That(source.Disk.Writes, Is.Empty, "nothing written to the source");

        static byte[] f(LuFixture lu, int blocks)
        {
            var d = lu.Pattern(blocks, seed: 3);
            d.CopyTo(lu.Memory.Bytes);
            return d;
        }
    }

    [Test]
    public void DestinationCount_WithDcSet()
    {
        var f = LuFixture.Create(blocks: 4096);
        var data = f.Pattern(8);
        data.CopyTo(f.Memory.Bytes);
        var list = Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 8, 0, 100, Dc: true)]);
        TaskAssert.Good(Copy(f, list));
        Assert.That(f.DiskBytes(100, 8), Is.EqualTo(data));
    }

    [Test]
    public void EmptyListIsGood_ZeroBlocksCopyNothing()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.ExtendedCopy(0)));
        TaskAssert.Good(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 0, 0, 10)])));
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void ParameterListLengthErrors()
    {
        var f = LuFixture.Create();
        var list = Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 1, 0, 10)]);
        TaskAssert.Check(f.Run(Cdbs.ExtendedCopy(16 + 32 - 1), list[..(16 + 32 - 1)]), SenseCode.ParameterListLengthError);
        TaskAssert.Check(f.Run(Cdbs.ExtendedCopy((uint)list.Length - 1), list[..^1]), SenseCode.ParameterListLengthError);
        TaskAssert.Check(f.Run(Cdbs.ExtendedCopy(8), new byte[8]), SenseCode.ParameterListLengthError);
        TaskAssert.Check(f.Run(Cdbs.ExtendedCopy((uint)list.Length), list[..20]), SenseCode.ParameterListLengthError);
        // More descriptors than MAXIMUM DESCRIPTOR LIST LENGTH, whatever else is wrong with them.
        var big = Xcopy.List(1, 0, Enumerable.Repeat(Xcopy.Cscd(LuFixture.Naa), 9).ToArray(),
            Enumerable.Repeat(new Xcopy.Segment(0, 0, 1, 0, 10), 140).ToArray());
        TaskAssert.Check(Copy(f, big), SenseCode.ParameterListLengthError);
    }

    [Test]
    public void TooManyDescriptors()
    {
        var f = LuFixture.Create();
        var cscds = Xcopy.List(1, 0, Enumerable.Repeat(Xcopy.Cscd(LuFixture.Naa), LogicalUnit.MaxCscdDescriptors + 1).ToArray(), [new(0, 0, 1, 0, 10)]);
        TaskAssert.Check(Copy(f, cscds), SenseCode.TooManyTargetDescriptors);
        var segments = Xcopy.List(2, 0, [Xcopy.Cscd(LuFixture.Naa)], Enumerable.Repeat(new Xcopy.Segment(0, 0, 1, 0, 10), LogicalUnit.MaxSegmentDescriptors + 1).ToArray());
        TaskAssert.Check(Copy(f, segments), SenseCode.TooManySegmentDescriptors);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void UnsupportedDescriptorTypes()
    {
        var f = LuFixture.Create();
        var fc = Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa, type: 0xE0)], [new(0, 0, 1, 0, 10)]);
        var sense = TaskAssert.Check(Copy(f, fc), SenseCode.UnsupportedTargetDescriptorTypeCode);
        Assert.That(sense.FieldPointer, Is.EqualTo(16));
        var stream = Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 1, 0, 10, Type: 0x03)]);
        TaskAssert.Check(Copy(f, stream), SenseCode.UnsupportedSegmentDescriptorTypeCode);
    }

    [Test]
    public void InvalidFields()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidParameter(Copy(f, Xcopy.List(1, 1, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 1, 0, 10)])), 1, 4);
        TaskAssert.InvalidParameter(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa, deviceType: 1)], [new(0, 0, 1, 0, 10)])), 17, 4);
        TaskAssert.InvalidParameter(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa, blockSize: 4096)], [new(0, 0, 1, 0, 10)])), 16 + 29, 7);
        // SPC-4: LU ID TYPE is ignored.
        TaskAssert.Good(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa, luIdType: 3)], [new(0, 0, 1, 0, 10)])));
    }

    [Test]
    public void ErrorsWhileCopying_AreCopyAborted_WithTheSegmentNumber()
    {
        var f = LuFixture.Create(blocks: 2048);
        ulong end = f.Blocks;
        var unknown = Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa), Xcopy.Cscd(OtherNaa)], [new(0, 0, 1, 0, 10), new(0, 1, 1, 0, 10)]);
        var task = Copy(f, unknown);
        TaskAssert.Check(task, SenseCode.CopyTargetDeviceNotReachable);
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(task.Sense[8..]), Is.EqualTo(1), "COMMAND-SPECIFIC INFORMATION: segment 1");
        Assert.That(f.DiskBytes(10, 1), Is.EqualTo(f.DiskBytes(0, 1)), "segment 0 was copied");
        TaskAssert.Check(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 1, 1, 0, 10)])), SenseCode.CopyTargetDeviceNotReachable);
        TaskAssert.Check(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 16, 0, end - 1)])), SenseCode.CopyAborted);
        TaskAssert.Check(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 16, end - 1, 0)])), SenseCode.CopyAborted);
        f.Disk.Fail("read", Director.IoStatus.MediumError);
        TaskAssert.Check(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 16, 0, 100)])), SenseCode.CopyAborted);
        f.Disk.Heal();
        f.Unit.SoftwareWriteProtect = true;
        TaskAssert.Check(Copy(f, Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 16, 0, 100)])), SenseCode.CopyAborted); // the destination is write protected
    }

    [Test]
    public void ADestinationReservedByAnotherInitiator_AbortsTheCopy()
    {
        var registry = new LogicalUnitRegistry();
        var source = LuFixture.Create();
        var destination = LuFixture.Create(naa: OtherNaa);
        registry.Add(source.Unit);
        registry.Add(destination.Unit);
        var other = destination.AddNexus("iqn.1994-05.com.example:other");
        TaskAssert.Good(destination.Run(Cdbs.PersistentReserveOut(0x06), Cdbs.PrOutParameters(0, 9), nexus: other));
        TaskAssert.Good(destination.Run(Cdbs.PersistentReserveOut(0x01, LogicalUnit.PrWriteExclusive), Cdbs.PrOutParameters(9), nexus: other));
        var list = Xcopy.List(1, 0, [Xcopy.Cscd(LuFixture.Naa), Xcopy.Cscd(OtherNaa)], [new(0, 1, 8, 0, 0)]);
        TaskAssert.Check(Copy(source, list), SenseCode.CopyAborted);
        Assert.That(destination.Disk.Writes, Is.Empty);
    }

    [Test]
    public void ReceiveCopyResults_CopyStatus()
    {
        var f = LuFixture.Create(blocks: 8192);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReceiveCopyResults(0x00, 7)), 2, 7);
        TaskAssert.Good(Copy(f, Xcopy.List(7, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 2048, 0, 4096), new(0, 0, 10, 0, 6000)])));
        var task = f.Run(Cdbs.ReceiveCopyResults(0x00, 7));
        TaskAssert.Good(task);
        var d = task.DataIn.ToArray();
        Assert.That(LuFixture.U32(d, 0), Is.EqualTo(8), "AVAILABLE DATA");
        Assert.That(d[4], Is.EqualTo(0x01), "completed without errors");
        Assert.That(LuFixture.U16(d, 5), Is.EqualTo(2), "SEGMENTS PROCESSED");
        Assert.That(d[7], Is.Zero, "TRANSFER COUNT UNITS: bytes");
        Assert.That(LuFixture.U32(d, 8), Is.EqualTo(2058 * 512));
        // Another nexus's list 7 is another copy.
        var other = f.AddNexus();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReceiveCopyResults(0x00, 7), nexus: other), 2, 7);
        // LIST ID USAGE 11b: nothing is kept.
        TaskAssert.Good(Copy(f, Xcopy.List(8, 3, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 1, 0, 100)])));
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReceiveCopyResults(0x00, 8)), 2, 7);
        // RECEIVE DATA: no held data.
        Assert.That(f.Run(Cdbs.ReceiveCopyResults(0x01, 7)).DataIn.ToArray(), Is.EqualTo(new byte[4]));
    }

    [Test]
    public void ReceiveCopyResults_FailedSegmentDetails()
    {
        var f = LuFixture.Create();
        TaskAssert.Check(Copy(f, Xcopy.List(3, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 2, 1, 0, 10)])), SenseCode.CopyTargetDeviceNotReachable);
        var status = f.Run(Cdbs.ReceiveCopyResults(0x00, 3)).DataIn.Span;
        Assert.That(status[4], Is.EqualTo(0x02), "completed with errors");
        var details = f.Run(Cdbs.ReceiveCopyResults(0x04, 3));
        TaskAssert.Good(details);
        var d = details.DataIn.Span;
        Assert.That(d[56], Is.EqualTo((byte)ScsiStatus.CheckCondition));
        int senseLength = LuFixture.U16(d, 58);
        Assert.That(LuFixture.U32(d, 0), Is.EqualTo(56 + senseLength));
        Assert.That(Sense.Parse(d.Slice(60, senseLength)).Code, Is.EqualTo(SenseCode.CopyTargetDeviceNotReachable));
    }

    [Test]
    public void ReceiveCopyResults_OperatingParameters()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReceiveCopyResults(0x03));
        TaskAssert.Good(task);
        var d = task.DataIn.Span;
        Assert.That(LuFixture.U32(d, 0), Is.EqualTo(d.Length - 4));
        Assert.That(LuFixture.U32(d, 0), Is.GreaterThanOrEqualTo(40), "libiscsi needs at least 40");
        Assert.That(d[4] & 1, Is.EqualTo(1), "SNLID");
        Assert.That(LuFixture.U16(d, 8), Is.EqualTo(LogicalUnit.MaxCscdDescriptors));
        Assert.That(LuFixture.U16(d, 10), Is.EqualTo(LogicalUnit.MaxSegmentDescriptors));
        Assert.That(LuFixture.U32(d, 12), Is.EqualTo(LogicalUnit.MaxDescriptorListLength));
        Assert.That(LuFixture.U32(d, 16), Is.EqualTo(65535 * 512), "MAXIMUM SEGMENT LENGTH");
        Assert.That(d[37], Is.EqualTo(9), "DATA SEGMENT GRANULARITY: 2^9");
        Assert.That(d[43], Is.EqualTo(2));
        Assert.That(d[44..46].ToArray(), Is.EqualTo(new byte[] { 0x02, 0xE4 }));
    }

    [Test]
    public void AListIdentifierInUse_IsOperationInProgress()
    {
        var f = LuFixture.Create(blocks: 8192);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        f.Disk.BeforeCall = _ => release.Task;
        var first = f.NewTask(Cdbs.ExtendedCopy(16 + 32 + 28), Xcopy.List(5, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 8, 0, 100)]));
        var running = f.Unit.ExecuteAsync(first).AsTask();
        Assert.That(running.Wait(200), Is.False);
        var status = f.Run(Cdbs.ReceiveCopyResults(0x00, 5)).DataIn.Span[4];
        Assert.That(status, Is.Zero, "in progress");
        TaskAssert.Check(Copy(f, Xcopy.List(5, 0, [Xcopy.Cscd(LuFixture.Naa)], [new(0, 0, 8, 0, 200)])), SenseCode.OperationInProgress);
        release.SetResult();
        Assert.That(running.Wait(5000), Is.True);
        TaskAssert.Good(first);
    }

    [Test]
    public void StandardInquiry_Announces3pc()
    {
        var f = LuFixture.Create();
        Assert.That(f.Run(Cdbs.Inquiry()).DataIn.Span[5] & 0x08, Is.EqualTo(0x08));
    }
}

public class LogicalUnitRegistryTests
{
    [Test]
    public void TargetsAddTheirUnits_SharedUnitsOnce()
    {
        var registry = new LogicalUnitRegistry();
        var f = LuFixture.Create();
        var a = new ScsiTarget("iqn.2026-11.test:a", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, registry);
        var b = new ScsiTarget("iqn.2026-11.test:b", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, registry);
        a.AddLogicalUnit(0, f.Unit);
        b.AddLogicalUnit(3, f.Unit);
        Assert.That(registry.Count, Is.EqualTo(1));
        Assert.That(registry.Find(LuFixture.Naa), Is.SameAs(f.Unit));
        Assert.That(f.Unit.CopyRegistry, Is.SameAs(registry));
        Assert.That(registry.Remove(f.Unit), Is.True);
        Assert.That(registry.Find(LuFixture.Naa), Is.Null);
    }
}
