using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// READ CAPACITY (10) (SBC-3 5.15) and READ CAPACITY (16) (SBC-3 5.16)
public sealed partial class LogicalUnit
{
    private void ReadCapacity10(ScsiTask task)
    {
        ulong last = BlockCount == 0 ? 0 : BlockCount - 1;
        var d = task.AllocateDataIn(8);
        // SBC-3: if the last LBA does not fit in 32 bits, report FFFFFFFFh so the initiator uses READ CAPACITY (16).
        BinaryPrimitives.WriteUInt32BigEndian(d, last > uint.MaxValue ? uint.MaxValue : (uint)last);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], (uint)BlockSize);
        task.SetGood();
    }

    private void ReadCapacity16(ScsiTask task)
    {
        uint alloc = task.CdbUInt32(10);
        var d = task.AllocateDataIn(32);
        BinaryPrimitives.WriteUInt64BigEndian(d, BlockCount == 0 ? 0 : BlockCount - 1);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)BlockSize);
        if (Options.ThinProvisioned && _vdisk.SupportsUnmap)
            d[14] = 0x80 | 0x40; // LBPME, LBPRZ
        task.TruncateDataIn((int)Math.Min(alloc, 32u));
        task.SetGood();
    }
}
