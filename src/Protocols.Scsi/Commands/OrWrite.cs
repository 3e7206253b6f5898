using System.Buffers;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// ORWRITE (16) (SBC-3)
//
//   +-------+----------------------------------------------------------------+
//   |   1   | ORPROTECT (7:5) | DPO | FUA | reserved | FUA_NV | reserved      |
//   | 2..9  | LOGICAL BLOCK ADDRESS                                          |
//   | 10..13| TRANSFER LENGTH                                                |
//   |  14   | reserved | GROUP NUMBER                                        |
//   +-------+----------------------------------------------------------------+
//
// The blocks are read, OR-ed byte for byte with the Data-Out Buffer and written back (the 16-byte CDB has no
// BMOP field: the operation is OR). SBC-3 makes the read-modify-write atomic "with respect to other commands",
// so it holds its blocks exclusively in the unit's BlockRangeGate, as COMPARE AND WRITE does.
public sealed partial class LogicalUnit
{
    private ValueTask OrWrite(ScsiTask task)
    {
        var cdb = task.Cdb;
        int lengthField = DecodeLbaAndLength(cdb, out ulong lba, out uint blocks);
        bool fua = (cdb[1] & 0x08) != 0;
        bool dpo = (cdb[1] & 0x10) != 0;
        if (!CheckNoProtection(task) || !CheckTransferLength(task, blocks, lengthField) || !CheckRange(task, lba, blocks) || !CheckWritable(task))
            return default;
        long bytes = (long)blocks << BlockShift;
        task.TransferLength = bytes;
        if (!TryGetWholeBlocks(task, bytes, out int available))
            return default;
        if (available == 0)
        {
            // SBC-3: a TRANSFER LENGTH of zero transfers nothing and is not an error.
            task.SetGood();
            return default;
        }
        return ReadOrWrite(task, lba, available, WriteFlags(fua, dpo));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadOrWrite(ScsiTask task, ulong lba, int length, IoFlags flags)
    {
        long offset = (long)(lba << BlockShift);
        byte[] merged = ArrayPool<byte>.Shared.Rent(length);
        var lease = await _gate.EnterAsync(lba, (ulong)(length >> BlockShift), exclusive: true).ConfigureAwait(false);
        try
        {
            var buffer = merged.AsMemory(0, length);
            IoStatus status = await _vdisk.ReadAsync(offset, buffer, task.Nexus.IoContext).ConfigureAwait(false);
            if (status != IoStatus.Ok)
            {
                Complete(task, status, lba);
                return;
            }
            Or(buffer.Span, task.DataOut.Span[..length]);
            status = await _vdisk.WriteAsync(offset, buffer, flags, task.Nexus.IoContext).ConfigureAwait(false);
            Complete(task, status, lba);
        }
        finally
        {
            _gate.Release(lease);
            ArrayPool<byte>.Shared.Return(merged);
        }
    }

    /// <summary><paramref name="target"/> |= <paramref name="source"/>, a vector at a time.</summary>
    internal static void Or(Span<byte> target, ReadOnlySpan<byte> source)
    {
        int i = 0;
        var t = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(target);
        var s = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(source);
        for (; i < t.Length && i < s.Length; i++)
            t[i] |= s[i];
        for (int b = i * 8; b < target.Length; b++)
            target[b] |= source[b];
    }
}
