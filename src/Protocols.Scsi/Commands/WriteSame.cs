using System.Buffers;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// WRITE SAME (10) and (16) (SBC-3; NDOB per SBC-4)
//
//   (10): byte 1 WRPROTECT (7:5) | ANCHOR (4) | UNMAP (3), bytes 2..5 LBA, 6 GROUP NUMBER, 7..8 NUMBER OF LOGICAL BLOCKS
//   (16): byte 1 WRPROTECT | ANCHOR | UNMAP | NDOB (0), bytes 2..9 LBA, 10..13 NUMBER OF LOGICAL BLOCKS, 14 GROUP NUMBER
//
// The one block in the Data-Out Buffer (zeros with NDOB=1, which transfers nothing) is written to every
// block of the range. With UNMAP=1 on a thin LU and a block of zeros the range is released instead: it
// reads back as zeros (LBPRZ=1), which is exactly what writing would have left. A non-zero block is
// written even with UNMAP=1, since released blocks could not return it.
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
        // WSNZ=1 in the Block Limits page: zero blocks (meaning "to the end of the medium") is refused, and SBC-3
        // makes more than the MAXIMUM WRITE SAME LENGTH an INVALID FIELD IN CDB.
        if (blocks == 0 || blocks > MaxWriteSameBlocks)
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
        bool zeros = noDataOut || !block.Span.ContainsAnyExcept((byte)0);
        long offset = (long)(lba << BlockShift);
        long length = (long)blocks << BlockShift;
        if (unmap && zeros)
            return CompleteWhenDone(_vdisk.UnmapAsync(offset, length, task.Nexus.IoContext), task, lba);
        return WriteRepeated(task, lba, length, block, WriteFlags(fua: false, dpo: false));
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
            for (long done = 0; done < length; done += chunk)
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
