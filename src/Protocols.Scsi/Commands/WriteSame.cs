using System.Buffers;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// WRITE SAME (10) and (16) (SBC-3; NDOB per SBC-4)
//
//   (10): byte 1 WRPROTECT (7:5) | ANCHOR (4) | UNMAP (3), bytes 2..5 LBA, 6 GROUP NUMBER, 7..8 NUMBER OF LOGICAL BLOCKS
//   (16): byte 1 WRPROTECT | ANCHOR | UNMAP | NDOB (0), bytes 2..9 LBA, 10..13 NUMBER OF LOGICAL BLOCKS, 14 GROUP NUMBER
//
// NUMBER OF LOGICAL BLOCKS zero (WSNZ=0) covers the blocks from the LBA to the end of the medium.
// The one block in the Data-Out Buffer (zeros with NDOB=1, which transfers nothing) is written to every
// block of the range. With UNMAP=1 on a thin LU the range is released instead and reads back as zeros
// (LBPRZ=1). SBC-3 lets the device server "for each LBA in the specified range ... a) perform a write
// operation using the contents of that logical block; or b) perform an unmap operation", so the range is
// released whatever the block holds (QEMU and Linux send zeros; libiscsi's UnmapUntilEnd test sends 0xFF and
// expects zeros back). SBC-4 later restricted the unmap to what a write would have left; the version
// descriptors of this unit claim SBC-3.
public sealed partial class LogicalUnit
{
    /// <summary>MAXIMUM WRITE SAME LENGTH in the Block Limits page.</summary>
    internal uint MaxWriteSameBlocks => MaxTransferBlocks;

    private ValueTask WriteSame(ScsiTask task)
    {
        var cdb = task.Cdb;
        int lengthField = DecodeLbaAndLength(cdb, out ulong lba, out uint blocks);
        bool anchor = (cdb[1] & 0x10) != 0;
        bool unmap = (cdb[1] & 0x08) != 0;
        bool noDataOut = cdb[0] == ScsiOpcode.WriteSame16 && (cdb[1] & 0x01) != 0;
        if (!CheckNoProtection(task))
            return default;
        // ANC_SUP is zero, so SBC-3 makes ANCHOR=1 an INVALID FIELD IN CDB; so is UNMAP=1 where provisioning
        // is not managed.
        if (anchor)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 4));
            return default;
        }
        if (unmap && !ThinProvisioningEnabled)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 3));
            return default;
        }
        // WSNZ=0 in the Block Limits page: NUMBER OF LOGICAL BLOCKS zero means every block from the LBA to the
        // end of the medium (SBC-3). More than the MAXIMUM WRITE SAME LENGTH, given or implied, is an INVALID
        // FIELD IN CDB.
        if (blocks == 0)
        {
            ulong count = BlockCount;
            if (lba >= count)
            {
                task.SetCheckCondition(SenseCode.LbaOutOfRange, DescriptorSense);
                return default;
            }
            if (count - lba > MaxWriteSameBlocks)
            {
                task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField((ushort)lengthField, 7));
                return default;
            }
            blocks = (uint)(count - lba);
        }
        else if (blocks > MaxWriteSameBlocks)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField((ushort)lengthField, 7));
            return default;
        }
        if (!CheckRange(task, lba, blocks) || !CheckWritable(task))
            return default;

        task.TransferLength = noDataOut ? 0 : BlockSize;
        ReadOnlyMemory<byte> block = ReadOnlyMemory<byte>.Empty;
        if (!noDataOut)
        {
            // Exactly one logical block is expected in the Data-Out Buffer.
            if (task.DataOut.Length != BlockSize)
            {
                task.SetCheckCondition(SenseCode.InvalidFieldInInformationUnit, DescriptorSense);
                return default;
            }
            block = task.DataOut;
        }
        return WriteSameRange(task, lba, blocks, block, release: unmap, WriteFlags(fua: false, dpo: false));
    }

    /// <summary>Releases or writes the range under one lease of the unit's gate (ordered against atomic commands).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteSameRange(ScsiTask task, ulong lba, uint blocks, ReadOnlyMemory<byte> block, bool release, IoFlags flags)
    {
        long length = (long)blocks << BlockShift;
        var lease = await AcquireRange(lba, blocks, exclusive: false).ConfigureAwait(false);
        try
        {
            if (release)
                Complete(task, await _vdisk.UnmapAsync((long)(lba << BlockShift), length, task.Nexus.IoContext).ConfigureAwait(false), lba);
            else
                await WriteRepeated(task, lba, length, block, flags).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release(lease);
        }
    }

    /// <summary>Writes the block (zeros when empty) over the range, a pooled chunk at a time.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteRepeated(ScsiTask task, ulong lba, long length, ReadOnlyMemory<byte> block, IoFlags flags)
    {
        int chunk = (int)Math.Min(length, VerifyChunkBytes);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunk);
        try
        {
            var fill = buffer.AsSpan(0, chunk);
            if (block.IsEmpty)
                fill.Clear();
            else
                for (int at = 0; at < chunk; at += BlockSize)
                    block.Span.CopyTo(fill[at..]);
            long offset = (long)(lba << BlockShift);
            // Within a deduplicating container whole blocks of the pattern become references to one stored copy.
            long byReference = block.IsEmpty ? 0 : await _vdisk.WriteSameByReferenceAsync(offset, length, block, task.Nexus.IoContext).ConfigureAwait(false);
            for (long done = byReference; done < length; done += chunk)
            {
                int n = (int)Math.Min(chunk, length - done);
                IoStatus status = await _vdisk.WriteAsync(offset + done, buffer.AsMemory(0, n), flags, task.Nexus.IoContext).ConfigureAwait(false);
                if (status != IoStatus.Ok)
                {
                    Complete(task, status, lba + (ulong)(done >> BlockShift));
                    return;
                }
            }
            task.SetGood();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
