using System.Buffers.Binary;
using System.Text;

namespace StorageAppliance.Protocols.Scsi;

// INQUIRY (SPC-4 6.6): byte 1 EVPD (bit 0), byte 2 PAGE CODE, bytes 3..4 ALLOCATION LENGTH
//
//   standard INQUIRY data (96 bytes)
//   +-------+-------------------------------------------------------------+
//   |   0   | PERIPHERAL QUALIFIER (000b) | DEVICE TYPE (00h, direct access)|
//   |   1   | RMB (0: not removable)                                      |
//   |   2   | VERSION (06h: SPC-4)                                        |
//   |   3   | NORMACA | HISUP | RESPONSE DATA FORMAT (2)                  |
//   |   4   | ADDITIONAL LENGTH (91)                                      |
//   |   5   | SCCS ACC TPGS(01b) 3PC(1) PROTECT(0)                        |
//   |   7   | CMDQUE (1)                                                  |
//   | 8-15  | T10 VENDOR IDENTIFICATION                                   |
//   | 16-31 | PRODUCT IDENTIFICATION                                      |
//   | 32-35 | PRODUCT REVISION LEVEL                                      |
//   | 58-73 | VERSION DESCRIPTORS 1-8                                     |
//   +-------+-------------------------------------------------------------+
public sealed partial class LogicalUnit
{
    private const int StandardInquiryLength = 96;

    // Version descriptors (SPC-4 table 144): SAM-5, iSCSI (RFC 7143 transport), SPC-4, SBC-3 (no version claimed).
    private const ushort VersionSam5 = 0x00A0;
    private const ushort VersionIscsi = 0x0960;
    private const ushort VersionSpc4 = 0x0460;
    private const ushort VersionSbc3 = 0x04C0;

    private void Inquiry(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool evpd = (cdb[1] & 0x01) != 0;
        byte pageCode = cdb[2];
        uint allocation = task.CdbUInt16(3);
        if (evpd)
        {
            VitalProductData(task, pageCode, allocation);
            return;
        }
        // SPC-4 6.6: "If the EVPD bit is set to zero and the PAGE CODE field is not set to zero, the device
        // server shall terminate the command with ... ILLEGAL REQUEST ... INVALID FIELD IN CDB."
        if (pageCode != 0)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2, 7));
            return;
        }
        var d = task.AllocateDataIn(StandardInquiryLength);
        d[0] = 0x00; // peripheral qualifier 000b, direct access block device
        d[1] = 0x00; // RMB = 0
        d[2] = 0x06; // SPC-4
        d[3] = 0x02; // response data format 2
        d[4] = StandardInquiryLength - 5;
        // TPGS 01b: implicit ALUA (REPORT TARGET PORT GROUPS, every port active/optimized); 3PC: EXTENDED COPY;
        // no protection information.
        d[5] = 0x10 | 0x08;
        d[7] = 0x02; // CMDQUE
        WriteAscii(d.Slice(8, 8), Options.VendorId);
        WriteAscii(d.Slice(16, 16), Options.ProductId);
        WriteAscii(d.Slice(32, 4), Options.ProductRevision);
        BinaryPrimitives.WriteUInt16BigEndian(d[58..], VersionSam5);
        BinaryPrimitives.WriteUInt16BigEndian(d[60..], VersionIscsi);
        BinaryPrimitives.WriteUInt16BigEndian(d[62..], VersionSpc4);
        BinaryPrimitives.WriteUInt16BigEndian(d[64..], VersionSbc3);
        task.CompleteDataIn(allocation);
        task.SetGood();
    }

    /// <summary>Writes printable ASCII, left-aligned and padded with spaces (SPC-4, ASCII data field requirements).</summary>
    internal static void WriteAscii(Span<byte> field, string value)
    {
        field.Fill((byte)' ');
        int n = Math.Min(field.Length, value.Length);
        for (int i = 0; i < n; i++)
        {
            char c = value[i];
            field[i] = c is >= ' ' and <= '~' ? (byte)c : (byte)'_';
        }
    }

    /// <summary>Writes a UTF-8 SCSI name string: null-terminated, zero-padded to a multiple of 4 (SPC-4, SCSI name string designator).</summary>
    internal static int WriteNameString(Span<byte> field, string name)
    {
        int n = Encoding.UTF8.GetBytes(name, field);
        int padded = NameStringLength(name);
        field[n..padded].Clear();
        return padded;
    }

    internal static int NameStringLength(string name) => (Encoding.UTF8.GetByteCount(name) + 4) & ~3;
}
