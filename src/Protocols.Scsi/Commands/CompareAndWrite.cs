using System.Buffers;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// COMPARE AND WRITE (SBC-3), the primitive hypervisors lock shared datastores with (VMware ATS)
//
//   +-------+------------------------------------------------+
//   |   1   | WRPROTECT | DPO | FUA | reserved | FUA_NV | .  |
//   | 2..9  | LOGICAL BLOCK ADDRESS                          |
//   |  13   | NUMBER OF LOGICAL BLOCKS                       |
//   |  14   | GROUP NUMBER                                   |
//   +-------+------------------------------------------------+
//   Data-Out Buffer: N blocks of verify data, then N blocks of write data.
//
// The blocks are read and compared with the verify data; only if every byte matches is the write data
// written. A mismatch ends the command with MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION, the
// INFORMATION field holding the offset of the first differing byte, and nothing is written.
//
// Atomicity: the blocks are held exclusively in the unit's BlockRangeGate from before the read until after
// the write, so no other command from any I_T nexus (a READ, a WRITE, WRITE SAME, UNMAP, ORWRITE, EXTENDED
// COPY, another COMPARE AND WRITE) touches them in between: the "uninterrupted series of actions" SBC-3
// asks for. Commands on other blocks are not held up beyond the drain of the lock-free fast path.
public sealed partial class LogicalUnit
{
    /// <summary>MAXIMUM COMPARE AND WRITE LENGTH in the Block Limits page (the CDB field holds at most 255).</summary>
    internal const byte MaxCompareAndWriteBlocks = 255;

    private ValueTask CompareAndWrite(ScsiTask task)
    {
        var cdb = task.Cdb;
        ulong lba = task.CdbUInt64(2);
        int blocks = cdb[13];
        bool fua = (cdb[1] & 0x08) != 0;
        bool dpo = (cdb[1] & 0x10) != 0;
        if (!CheckNoProtection(task))
            return default;
        if (blocks > MaxCompareAndWriteBlocks || !CheckRange(task, lba, (ulong)blocks) || !CheckWritable(task))
            return default;
        int length = blocks << BlockShift;
        task.TransferLength = 2L * length;
        // The Data-Out Buffer must hold exactly the verify and the write data the CDB describes: half of a
        // different amount would compare and write the wrong bytes.
        if (task.DataOut.Length != 2 * length)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(13, 7));
            return default;
        }
        // SBC-3: a NUMBER OF LOGICAL BLOCKS of zero reads, compares and writes nothing, and is not an error.
        if (blocks == 0)
        {
            task.SetGood();
            return default;
        }
        return CompareThenWrite(task, lba, length, WriteFlags(fua, dpo));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CompareThenWrite(ScsiTask task, ulong lba, int length, IoFlags flags)
    {
        long offset = (long)(lba << BlockShift);
        byte[] current = ArrayPool<byte>.Shared.Rent(length);
        var lease = await _gate.EnterAsync(lba, (ulong)(length >> BlockShift), exclusive: true).ConfigureAwait(false);
        try
        {
            IoStatus status = await _vdisk.ReadAsync(offset, current.AsMemory(0, length), task.Nexus.IoContext).ConfigureAwait(false);
            if (status != IoStatus.Ok)
            {
                Complete(task, status, lba);
                return;
            }
            int mismatch = FirstMismatch(current.AsSpan(0, length), task.DataOut.Span[..length]);
            if (mismatch >= 0)
            {
                task.SetCheckCondition(SenseCode.MiscompareDuringVerify, DescriptorSense, (ulong)mismatch);
                return;
            }
            status = await _vdisk.WriteAsync(offset, task.DataOut.Slice(length, length), flags, task.Nexus.IoContext).ConfigureAwait(false);
            Complete(task, status, lba);
        }
        finally
        {
            _gate.Release(lease);
            ArrayPool<byte>.Shared.Return(current);
        }
    }
}
