using System.Text;

namespace StorageAppliance.Protocols.Scsi;

// INQUIRY (SPC-4 6.6)
public sealed partial class LogicalUnit
{
    private void Inquiry(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool evpd = (cdb[1] & 0x01) != 0;
        int alloc = task.CdbUInt16(3);
        if (evpd)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 0));
            return;
        }
        if (cdb[2] != 0)
        {
            // SPC-4: a non-zero PAGE CODE with EVPD zero is an error.
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2));
            return;
        }
        var d = task.AllocateDataIn(96);
        d[0] = 0x00; // peripheral qualifier 0, direct access block device
        d[2] = 0x06; // SPC-4
        d[3] = 0x02; // response data format 2, HISUP 0
        d[4] = 96 - 5;
        d[7] = 0x02; // CMDQUE
        WriteAscii(d.Slice(8, 8), Options.VendorId);
        WriteAscii(d.Slice(16, 16), Options.ProductId);
        WriteAscii(d.Slice(32, 4), Options.ProductRevision);
        task.TruncateDataIn(Math.Min(alloc, 96));
        task.SetGood();
    }

    internal static void WriteAscii(Span<byte> field, string value)
    {
        field.Fill((byte)' ');
        int n = Math.Min(field.Length, value.Length);
        Encoding.ASCII.GetBytes(value.AsSpan(0, n), field);
    }
}
