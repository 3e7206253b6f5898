using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>SCSI Data-In (RFC 7143 11.7) writer.</summary>
public class DataInTests
{
    [Test]
    public void Last_data_in_with_status_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        DataIn.WriteHeader(bhs, DataIn.FlagFinal | DataIn.FlagStatus | DataIn.FlagUnderflow, status: 0x00, itt: 0x0a0b0c0d,
            dataSN: 7, bufferOffset: 0x3800, residual: 0x100, dataSegmentLength: 0x800);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            25 83 00 00 | 00 00 08 00
            00 00 00 00 | 00 00 00 00
            0a 0b 0c 0d | ff ff ff ff
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 07
            00 00 38 00 | 00 00 01 00
            """))));
    }

    [Test]
    public void Data_in_without_status_leaves_status_and_residual_zero()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        // RFC 7143 11.7.4: the status and residual fields are only valid with the S bit.
        DataIn.WriteHeader(bhs, 0, status: 0x02, itt: 1, dataSN: 0, bufferOffset: 0, residual: 99, dataSegmentLength: 512);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            25 00 00 00 | 00 00 02 00
            00 00 00 00 | 00 00 00 00
            00 00 00 01 | ff ff ff ff
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            """))));
    }

    [Test]
    public void Data_in_carries_a_non_good_status_with_the_s_bit()
    {
        var bhs = new byte[48];
        DataIn.WriteHeader(bhs, DataIn.FlagFinal | DataIn.FlagStatus, status: 0x08, itt: 1, dataSN: 0, bufferOffset: 0, residual: 0, dataSegmentLength: 4);
        Assert.That(bhs[3], Is.EqualTo(0x08));
    }
}
