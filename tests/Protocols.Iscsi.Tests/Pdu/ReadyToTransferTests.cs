using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>Ready To Transfer (RFC 7143 11.8) writer.</summary>
public class ReadyToTransferTests
{
    [Test]
    public void R2t_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        ReadyToTransfer.WriteHeader(bhs, lun: 0x0001000000000000UL, itt: 0x11, ttt: 0x22, r2tSN: 3, bufferOffset: 0x10000, desiredLength: 0x40000);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            31 80 00 00 | 00 00 00 00
            00 01 00 00 | 00 00 00 00
            00 00 00 11 | 00 00 00 22
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 03
            00 01 00 00 | 00 04 00 00
            """))));
    }
}
