namespace StorageAppliance.Protocols.Scsi;

// SYNCHRONIZE CACHE (10) and (16) (SBC-3 5.22-5.23)
//
//   (10): byte 1 SYNC_NV (obsolete) | IMMED, bytes 2..5 LBA, byte 6 GROUP NUMBER, bytes 7..8 NUMBER OF LOGICAL BLOCKS
//   (16): byte 1 SYNC_NV | IMMED, bytes 2..9 LBA, bytes 10..13 NUMBER OF LOGICAL BLOCKS, byte 14 GROUP NUMBER
//
// The vDisk can only flush everything, which is a correct (if generous) way to make the range durable.
public sealed partial class LogicalUnit
{
    private ValueTask SynchronizeCache(ScsiTask task)
    {
        var cdb = task.Cdb;
        DecodeLbaAndLength(cdb, out ulong lba, out uint blocks);
        bool immed = (cdb[1] & 0x02) != 0;
        // SBC-3: "If the logical block address plus the number of logical blocks exceeds the capacity of the
        // medium, the device server shall terminate the command with ... LOGICAL BLOCK ADDRESS OUT OF RANGE."
        // A NUMBER OF LOGICAL BLOCKS of zero means every block from the LBA to the end of the medium.
        if (!CheckRange(task, lba, blocks))
            return default;
        var pending = _vdisk.FlushAsync(task.Nexus.IoContext);
        if (immed)
        {
            // SBC-3: "An IMMED bit set to one specifies that the device server shall return status as soon as
            // the CDB has been validated."
            ObserveInBackground(pending, "SYNCHRONIZE CACHE");
            task.SetGood();
            return default;
        }
        return CompleteWhenDone(pending, task, lba);
    }
}
