using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>SCSI Response (RFC 7143 11.4) writer.</summary>
public class ScsiResponseTests
{
    [Test]
    public void Check_condition_with_underflow_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        ScsiResponse.WriteHeader(bhs, itt: 0x14000000, status: 0x02, ScsiResponse.CommandCompleted, ScsiResponse.FlagResidualUnderflow,
            residual: 0x200, expDataSN: 3, dataSegmentLength: ScsiResponse.DataSegmentLength(18));
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            21 82 00 02 | 00 00 00 14
            00 00 00 00 | 00 00 00 00
            14 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 03
            00 00 00 00 | 00 00 02 00
            """))));
    }

    [Test]
    public void Good_with_overflow_and_target_failure_flags()
    {
        var bhs = new byte[48];
        ScsiResponse.WriteHeader(bhs, 1, 0x00, ScsiResponse.TargetFailure, ScsiResponse.FlagResidualOverflow, 7, 0, 0);
        Assert.That(bhs[1], Is.EqualTo(0x84));
        Assert.That(bhs[2], Is.EqualTo(0x01));
        Assert.That(bhs[3], Is.EqualTo(0x00));
        Assert.That(bhs.AsSpan(44, 4).ToArray(), Is.EqualTo(new byte[] { 0, 0, 0, 7 }));
    }

    [Test]
    public void Sense_data_segment_length_includes_the_two_byte_length_prefix()
    {
        Assert.That(ScsiResponse.DataSegmentLength(0), Is.EqualTo(0));
        Assert.That(ScsiResponse.DataSegmentLength(18), Is.EqualTo(20));
    }
}
