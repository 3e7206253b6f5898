using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// READ DEFECT DATA (10) and (12) (SBC-3)
//
//   (10): byte 2 REQ_PLIST (bit 4) | REQ_GLIST (bit 3) | DEFECT LIST FORMAT (2:0), bytes 7..8 ALLOCATION LENGTH
//   (12): byte 1 REQ_PLIST | REQ_GLIST | DEFECT LIST FORMAT, bytes 2..5 ADDRESS DESCRIPTOR INDEX, 6..9 ALLOCATION LENGTH
//
//   header (10): reserved, PLISTV | GLISTV | DEFECT LIST FORMAT, DEFECT LIST LENGTH (2)
//   header (12): reserved, PLISTV | GLISTV | DEFECT LIST FORMAT, GENERATION CODE (2), DEFECT LIST LENGTH (4)
//
// A virtual disk has no grown or primary defects: both lists are valid and empty, in the format asked for.
public sealed partial class LogicalUnit
{
    private void ReadDefectData(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool ten = cdb[0] == ScsiOpcode.ReadDefectData10;
        int flagsAt = ten ? 2 : 1;
        byte flags = cdb[flagsAt];
        int format = flags & 0x07;
        // Format 111b is reserved; the others (block, bytes from index, physical sector, vendor) all describe
        // an empty list the same way.
        if (format == 0x07)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField((ushort)flagsAt, 2));
            return;
        }
        uint allocation = ten ? task.CdbUInt16(7) : task.CdbUInt32(6);
        int length = ten ? 4 : 8;
        var d = task.AllocateDataIn(length);
        d[1] = (byte)(flags & 0x1F); // PLISTV and GLISTV echo the request: the lists asked for are valid
        if (ten)
            BinaryPrimitives.WriteUInt16BigEndian(d[2..], 0);
        else
            BinaryPrimitives.WriteUInt32BigEndian(d[4..], 0);
        task.CompleteDataIn(allocation);
        task.SetGood();
    }
}
