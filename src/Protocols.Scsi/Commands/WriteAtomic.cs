using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// WRITE ATOMIC (16) (SBC-4)
//
//   +-------+----------------------------------------------------------------+
//   |   1   | WRPROTECT (7:5) | DPO | FUA | reserved                         |
//   | 2..9  | LOGICAL BLOCK ADDRESS                                          |
//   | 10..11| ATOMIC BOUNDARY (0: no boundaries; none are supported)         |
//   | 12..13| TRANSFER LENGTH                                                |
//   |  14   | reserved | GROUP NUMBER                                        |
//   +-------+----------------------------------------------------------------+
//
// SBC-4: the blocks are written as one operation: no other command from any I_T nexus sees some of them
// written and others not. The write holds its blocks exclusively in the unit's BlockRangeGate, so reads and
// writes of the same blocks wait for it, and it reaches the vDisk as one request, so whatever the vDisk
// guarantees for one request across a crash holds for the whole range. Limits are in the Block Limits page:
// MAXIMUM ATOMIC TRANSFER LENGTH, with no alignment or granularity constraint.
public sealed partial class LogicalUnit
{
    /// <summary>MAXIMUM ATOMIC TRANSFER LENGTH: 1 MiB worth of blocks, and never above the MAXIMUM TRANSFER LENGTH.</summary>
    internal uint MaxAtomicTransferBlocks => Math.Min(MaxTransferBlocks, (uint)((1 << 20) >> BlockShift));

    private ValueTask WriteAtomic(ScsiTask task)
    {
        var cdb = task.Cdb;
        ulong lba = task.CdbUInt64(2);
        uint blocks = task.CdbUInt16(12);
        bool fua = (cdb[1] & 0x08) != 0;
        bool dpo = (cdb[1] & 0x10) != 0;
        if (!CheckNoProtection(task) || !CheckRange(task, lba, blocks))
            return default;
        // SBC-4: a TRANSFER LENGTH above the MAXIMUM ATOMIC TRANSFER LENGTH is an INVALID FIELD IN CDB.
        if (blocks > MaxAtomicTransferBlocks)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(12, 7));
            return default;
        }
        if (!CheckWritable(task))
            return default;
        long bytes = (long)blocks << BlockShift;
        task.TransferLength = bytes;
        if (blocks == 0)
        {
            task.SetGood();
            return default;
        }
        // A partial Data-Out would make a partial write: exactly the CDB's length, or nothing.
        if (task.DataOut.Length != bytes)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInInformationUnit, DescriptorSense);
            return default;
        }
        return WriteWhole(task, lba, blocks, WriteFlags(fua, dpo));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteWhole(ScsiTask task, ulong lba, uint blocks, IoFlags flags)
    {
        var lease = await _gate.EnterAsync(lba, blocks, exclusive: true).ConfigureAwait(false);
        try
        {
            Complete(task, await _vdisk.WriteAsync((long)(lba << BlockShift), task.DataOut, flags, task.Nexus.IoContext).ConfigureAwait(false), lba);
        }
        finally
        {
            _gate.Release(lease);
        }
    }
}
