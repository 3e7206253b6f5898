using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// GET LBA STATUS (SBC-3): SERVICE ACTION IN (16) / 12h
//
//   CDB: bytes 2..9 STARTING LOGICAL BLOCK ADDRESS, bytes 10..13 ALLOCATION LENGTH
//   data: PARAMETER DATA LENGTH (4), reserved (4), then LBA status descriptors of 16 bytes:
//         LBA STATUS LOGICAL BLOCK ADDRESS (8), NUMBER OF LOGICAL BLOCKS (4), PROVISIONING STATUS (byte 12, 3:0)
//
// The vDisk does not say which ranges it holds, so the answer is one descriptor from the starting LBA to
// the end with provisioning status 0h, which SBC-3 defines as "mapped or unknown". Offered only with
// logical block provisioning management.
public sealed partial class LogicalUnit
{
    private void GetLbaStatus(ScsiTask task)
    {
        ulong lba = task.CdbUInt64(2);
        uint allocation = task.CdbUInt32(10);
        ulong count = BlockCount;
        // SBC-3: a STARTING LOGICAL BLOCK ADDRESS beyond the last LBA is LOGICAL BLOCK ADDRESS OUT OF RANGE.
        if (lba >= count)
        {
            task.SetCheckCondition(SenseCode.LbaOutOfRange, DescriptorSense);
            return;
        }
        var d = task.AllocateDataIn(24);
        BinaryPrimitives.WriteUInt32BigEndian(d, 20);
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], lba);
        BinaryPrimitives.WriteUInt32BigEndian(d[16..], (uint)Math.Min(count - lba, uint.MaxValue));
        d[20] = 0x00; // mapped or unknown
        task.CompleteDataIn(allocation);
        task.SetGood();
    }
}
