using System.Buffers;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// PRE-FETCH (10) and (16) (SBC-3)
//
//   (10): byte 1 IMMED (bit 1), bytes 2..5 LBA, byte 6 GROUP NUMBER, bytes 7..8 PREFETCH LENGTH
//   (16): byte 1 IMMED (bit 1), bytes 2..9 LBA, bytes 10..13 PREFETCH LENGTH, byte 14 GROUP NUMBER
//
// The "cache" is whatever sits under the vDisk (page cache, extent cache): the blocks are read through it
// into a scratch buffer, at most LogicalUnitOptions.PrefetchCacheBytes of them. SBC-3 decides the status:
//   IMMED=0: read, then CONDITION MET "if the specified logical blocks were successfully transferred to the
//            cache", GOOD if only part of them fitted;
//   IMMED=1: CONDITION MET at once "if the cache has sufficient capacity to accept all of the specified
//            logical blocks", else GOOD; the read continues after the status is sent.
// iSCSI carries CONDITION MET (04h) in the SCSI Response like any other status.
public sealed partial class LogicalUnit
{
    private ValueTask PreFetch(ScsiTask task)
    {
        var cdb = task.Cdb;
        DecodeLbaAndLength(cdb, out ulong lba, out uint blocks);
        bool immed = (cdb[1] & 0x02) != 0;
        if (!CheckRange(task, lba, blocks))
            return default;
        // SBC-3: "A PREFETCH LENGTH field set to zero specifies that all logical blocks starting with the one
        // specified in the LOGICAL BLOCK ADDRESS field to the last logical block on the medium be transferred."
        ulong count = blocks == 0 ? BlockCount - lba : blocks;
        long cache = Math.Max(0, Options.PrefetchCacheBytes);
        bool fits = count <= (ulong)(cache >> BlockShift);
        long toRead = fits ? (long)(count << BlockShift) : cache & ~(long)(BlockSize - 1);
        var outcome = fits ? ScsiStatus.ConditionMet : ScsiStatus.Good;
        if (immed)
        {
            if (toRead > 0)
                _ = PrefetchInBackground(lba, toRead, task.Nexus.IoContext);
            task.SetStatus(outcome);
            return default;
        }
        if (toRead == 0)
        {
            task.SetStatus(outcome);
            return default;
        }
        return PrefetchNow(task, lba, toRead, outcome);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PrefetchNow(ScsiTask task, ulong lba, long length, ScsiStatus outcome)
    {
        IoStatus status = await ReadThrough(lba, length, task.Nexus.IoContext).ConfigureAwait(false);
        if (status == IoStatus.Ok)
            task.SetStatus(outcome);
        else
            Complete(task, status, lba);
    }

    private async Task PrefetchInBackground(ulong lba, long length, Director.IoContext context)
    {
        try
        {
            IoStatus status = await ReadThrough(lba, length, context).ConfigureAwait(false);
            if (status != IoStatus.Ok)
                ScsiLog.BackgroundOperationFailed(_log, _vdisk.Name, "PRE-FETCH", status);
        }
        catch (Exception e)
        {
            ScsiLog.BackgroundOperationThrew(_log, _vdisk.Name, "PRE-FETCH", e);
        }
    }

    /// <summary>Reads a range into a scratch buffer, chunk by chunk, so the layers below hold it.</summary>
    private async ValueTask<IoStatus> ReadThrough(ulong lba, long length, Director.IoContext context)
    {
        int chunk = (int)Math.Min(length, VerifyChunkBytes);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunk);
        try
        {
            long offset = (long)(lba << BlockShift);
            for (long done = 0; done < length; done += chunk)
            {
                int n = (int)Math.Min(chunk, length - done);
                IoStatus status = await _vdisk.ReadAsync(offset + done, buffer.AsMemory(0, n), context).ConfigureAwait(false);
                if (status != IoStatus.Ok)
                    return status;
            }
            return IoStatus.Ok;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
