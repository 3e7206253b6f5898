using System.Text;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class InquiryTests
{
    [Test]
    public void StandardData_GoldenBytes()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.Inquiry(255));
        TaskAssert.Good(task);
        var d = task.DataIn.Span;
        Assert.That(d.Length, Is.EqualTo(96));
        Assert.That(d[..8].ToArray(), Is.EqualTo(new byte[] { 0x00, 0x00, 0x06, 0x02, 91, 0x18, 0x00, 0x02 }));
        Assert.That(Encoding.ASCII.GetString(d[8..16]), Is.EqualTo("STORAPPL"));
        Assert.That(Encoding.ASCII.GetString(d[16..32]), Is.EqualTo("vDisk           "));
        Assert.That(Encoding.ASCII.GetString(d[32..36]), Is.EqualTo("0001"));
        // version descriptors: SAM-5, iSCSI, SPC-4, SBC-3 (libiscsi looks for 04C0h to treat the LU as SBC-3)
        Assert.That(d[58..66].ToArray(), Is.EqualTo(new byte[] { 0x00, 0xA0, 0x09, 0x60, 0x04, 0x60, 0x04, 0xC0 }));
        Assert.That(d[66..96].ToArray(), Is.All.EqualTo(0));
        Assert.That(task.TransferLength, Is.EqualTo(96));
    }

    [TestCase(5)]
    [TestCase(36)]
    [TestCase(95)]
    [TestCase(255)]
    [TestCase(511)]
    [TestCase(512)]
    public void AllocationLength_TruncatesWithoutResidualOverflow(int allocation)
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.Inquiry((ushort)allocation));
        TaskAssert.Good(task);
        int expected = Math.Min(allocation, 96);
        Assert.That(task.DataIn.Length, Is.EqualTo(expected));
        Assert.That(task.TransferLength, Is.EqualTo(expected));
    }

    [Test]
    public void AllocationLength511And512_ReturnTheSameData()
    {
        var f = LuFixture.Create();
        var a = f.Run(Cdbs.Inquiry(511)).DataIn.ToArray();
        var b = f.Run(Cdbs.Inquiry(512)).DataIn.ToArray();
        Assert.That(a, Is.EqualTo(b));
    }

    [Test]
    public void PageCodeWithoutEvpd_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Inquiry(256, evpd: false, page: 1)), 2, 7);
    }

    [Test]
    public void ObsoleteCmdDtBit_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        var cdb = Cdbs.Inquiry();
        cdb[1] = 0x02;
        TaskAssert.InvalidCdbField(f.Run(cdb), 1, 1);
    }

    [Test]
    public void Inquiry_IsAnsweredDespiteAPendingUnitAttention_AndLeavesItPending()
    {
        var f = LuFixture.Create();
        var other = LuFixture.NewNexus("iqn.1994-05.com.example:late", 3);
        f.Unit.AddNexus(other);
        TaskAssert.Good(f.Run(Cdbs.Inquiry(), nexus: other));
        TaskAssert.Check(f.Run(Cdbs.TestUnitReady(), nexus: other), SenseCode.PowerOnResetOrBusDeviceReset);
        TaskAssert.Good(f.Run(Cdbs.TestUnitReady(), nexus: other));
    }
}

public class VitalProductDataTests
{
    private static byte[] Vpd(LuFixture f, byte page, ushort allocation = 255)
    {
        var task = f.Run(Cdbs.Inquiry(allocation, evpd: true, page: page));
        TaskAssert.Good(task);
        var d = task.DataIn.ToArray();
        Assert.That(d[1], Is.EqualTo(page), "page code");
        Assert.That(LuFixture.U16(d, 2) + 4, Is.EqualTo(d.Length), "page length matches the data");
        return d;
    }

    [Test]
    public void SupportedPages_AreSortedAndEachCanBeRead()
    {
        var f = LuFixture.Create();
        var d = Vpd(f, 0x00);
        var pages = d[4..];
        Assert.That(pages, Is.EqualTo(new byte[] { 0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2 }));
        Assert.That(pages, Is.Ordered);
        foreach (byte p in pages)
            Vpd(f, p);
    }

    [Test]
    public void UnsupportedPage_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Inquiry(255, evpd: true, page: 0x86)), 2);
    }

    [Test]
    public void UnitSerialNumber()
    {
        var f = LuFixture.Create();
        var d = Vpd(f, 0x80);
        Assert.That(Encoding.ASCII.GetString(d, 4, d.Length - 4), Is.EqualTo("SN0001"));
    }

    private static List<(byte CodeSet, byte Protocol, bool Piv, int Association, int Type, byte[] Value)> Designators(byte[] page)
    {
        var list = new List<(byte, byte, bool, int, int, byte[])>();
        for (int pos = 4; pos < page.Length; pos += 4 + page[pos + 3])
            list.Add(((byte)(page[pos] & 0x0F), (byte)(page[pos] >> 4), (page[pos + 1] & 0x80) != 0, (page[pos + 1] >> 4) & 3, page[pos + 1] & 0x0F,
                page.AsSpan(pos + 4, page[pos + 3]).ToArray()));
        return list;
    }

    [Test]
    public void DeviceIdentification_CarriesEveryDesignator()
    {
        var f = LuFixture.Create();
        var ds = Designators(Vpd(f, 0x83));

        var naa = ds.Single(d => d.Type == 3);
        Assert.That(naa.CodeSet, Is.EqualTo(1));
        Assert.That(naa.Association, Is.EqualTo(0), "logical unit association");
        Assert.That(naa.Value, Is.EqualTo(LuFixture.Naa));
        Assert.That(naa.Value[0] >> 4, Is.EqualTo(6), "NAA 6");

        var vendor = ds.Single(d => d.Type == 1);
        Assert.That(vendor.CodeSet, Is.EqualTo(2));
        Assert.That(Encoding.ASCII.GetString(vendor.Value), Is.EqualTo("STORAPPLSN0001"));

        var names = ds.Where(d => d.Type == 8).ToList();
        var port = names.Single(d => d.Association == 1);
        Assert.That(port.CodeSet, Is.EqualTo(3), "UTF-8");
        Assert.That(port.Piv, Is.True);
        Assert.That(port.Protocol, Is.EqualTo(5), "iSCSI");
        Assert.That(port.Value.Length % 4, Is.Zero, "padded to a multiple of 4");
        Assert.That(Encoding.UTF8.GetString(port.Value).TrimEnd('\0'), Is.EqualTo(LuFixture.TargetPort));
        Assert.That(port.Value[LuFixture.TargetPort.Length], Is.Zero, "null terminated");
        var device = names.Single(d => d.Association == 2);
        Assert.That(Encoding.UTF8.GetString(device.Value).TrimEnd('\0'), Is.EqualTo("iqn.2026-11.io.storageappliance:disk1"));

        var relative = ds.Single(d => d.Type == 4);
        Assert.That(relative.Association, Is.EqualTo(1));
        Assert.That(relative.Value, Is.EqualTo(new byte[] { 0, 0, 0, 1 }));

        var group = ds.Single(d => d.Type == 5);
        Assert.That(group.Association, Is.EqualTo(1));
        Assert.That(group.Value, Is.EqualTo(new byte[] { 0, 0, 0, 1 }));
    }

    [Test]
    public void DeviceIdentification_ReportsThePortOfTheAskingNexus()
    {
        var f = LuFixture.Create();
        var other = LuFixture.NewNexus("iqn.1994-05.com.example:h2", 7, "iqn.2026-11.io.storageappliance:disk1,t,0x0002");
        f.Unit.AddNexus(other);
        var task = f.Run(Cdbs.Inquiry(255, evpd: true, page: 0x83), nexus: other);
        var ds = Designators(task.DataIn.ToArray());
        Assert.That(ds.Single(d => d.Type == 4).Value, Is.EqualTo(new byte[] { 0, 0, 0, 7 }));
        Assert.That(Encoding.UTF8.GetString(ds.Single(d => d.Type == 8 && d.Association == 1).Value).TrimEnd('\0'), Does.EndWith(",t,0x0002"));
        Assert.That(ds.Single(d => d.Type == 3).Value, Is.EqualTo(LuFixture.Naa), "the LU name is the same through every port");
    }

    [Test]
    public void BlockLimits_ThinUnit()
    {
        var f = LuFixture.Create();
        var d = Vpd(f, 0xB0);
        Assert.That(d.Length, Is.EqualTo(64), "SBC-3 page length 3Ch");
        Assert.That(d[4] & 1, Is.EqualTo(0), "WSNZ: zero blocks means to the end of the medium");
        Assert.That(LuFixture.U32(d, 8), Is.EqualTo(32768), "MAXIMUM TRANSFER LENGTH");
        Assert.That(LuFixture.U32(d, 20), Is.EqualTo(1u << 20), "MAXIMUM UNMAP LBA COUNT");
        Assert.That(LuFixture.U32(d, 24), Is.EqualTo(256), "MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT");
        Assert.That(LuFixture.U32(d, 28), Is.EqualTo(8), "OPTIMAL UNMAP GRANULARITY: 4 KiB of 512-byte blocks");
        Assert.That(LuFixture.U64(d, 36), Is.EqualTo(32768), "MAXIMUM WRITE SAME LENGTH");
        Assert.That(LuFixture.U32(d, 44), Is.EqualTo(2048), "MAXIMUM ATOMIC TRANSFER LENGTH: 1 MiB");
        Assert.That(LuFixture.U32(d, 48), Is.Zero, "ATOMIC ALIGNMENT");
        Assert.That(LuFixture.U32(d, 52), Is.Zero, "ATOMIC TRANSFER LENGTH GRANULARITY");
        Assert.That(LuFixture.U32(d, 56), Is.Zero, "no atomic boundaries");
    }

    [Test]
    public void BlockLimits_ThickUnitReportsNoUnmapLimits()
    {
        var f = LuFixture.Create(thin: false);
        var d = Vpd(f, 0xB0);
        Assert.That(LuFixture.U32(d, 20), Is.Zero);
        Assert.That(LuFixture.U32(d, 24), Is.Zero);
    }

    [Test]
    public void BlockDeviceCharacteristics_NonRotating()
    {
        var f = LuFixture.Create();
        var d = Vpd(f, 0xB1);
        Assert.That(d.Length, Is.EqualTo(64));
        Assert.That(LuFixture.U16(d, 4), Is.EqualTo(1), "MEDIUM ROTATION RATE 0001h: non-rotating");
    }

    [Test]
    public void LogicalBlockProvisioning_Thin()
    {
        var f = LuFixture.Create();
        var d = Vpd(f, 0xB2);
        Assert.That(d, Is.EqualTo(new byte[] { 0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x02, 0x00 }));
    }

    [TestCase(false, true)]
    [TestCase(true, false)]
    public void LogicalBlockProvisioning_NotManagedUnlessThinAndUnmappable(bool thin, bool supportsUnmap)
    {
        var f = LuFixture.Create(thin: thin, supportsUnmap: supportsUnmap);
        var d = Vpd(f, 0xB2);
        Assert.That(d[5], Is.Zero);
        Assert.That(d[6], Is.Zero, "fully provisioned");
    }

    [Test]
    public void VpdAllocationLength_Truncates()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.Inquiry(10, evpd: true, page: 0xB0));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(10));
        Assert.That(task.TransferLength, Is.EqualTo(10));
    }
}
