using System.Buffers;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// VERIFY (10/12/16) and WRITE AND VERIFY (10/12/16) (SBC-3; BYTCHK as a 2-bit field per SBC-4)
//
//   VERIFY (10) / WRITE AND VERIFY (10)           the 12- and 16-byte forms place LBA and length as
//   +------+----------------------------------+   READ (12) / READ (16) do
//   |  0   | OPERATION CODE (2Fh / 2Eh)       |
//   |  1   | xxPROTECT | DPO | . | BYTCHK | . |   BYTCHK 00b: check the medium only, no data-out
//   | 2..5 | LOGICAL BLOCK ADDRESS            |          01b: compare with the data-out, block for block
//   |  6   | GROUP NUMBER                     |          10b: reserved
//   | 7..8 | VERIFICATION / TRANSFER LENGTH   |          11b: VERIFY only: one data-out block compared with
//   |  9   | CONTROL                          |               every block of the range
//   +------+----------------------------------+
//
// A miscompare ends the command with MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION and, as SBC-3
// requires, "the INFORMATION field set to the offset from the start of the Data-Out Buffer to the first
// byte of data that was not equal".
public sealed partial class LogicalUnit
{
    /// <summary>Bytes read from the vDisk per step while verifying (a pooled buffer, reused).</summary>
    private const int VerifyChunkBytes = 1 << 20;

    private ValueTask Verify(ScsiTask task)
    {
        var cdb = task.Cdb;
        int lengthField = DecodeLbaAndLength(cdb, out ulong lba, out uint blocks);
        int bytchk = (cdb[1] >> 1) & 0x03;
        if (!CheckNoProtection(task))
            return default;
        if (bytchk == 2)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 2));
            return default;
        }
        // The MAXIMUM TRANSFER LENGTH limits what moves through the Data-Out Buffer; BYTCHK=00b moves nothing.
        if (bytchk == 1 && !CheckTransferLength(task, blocks, lengthField))
            return default;
        if (!CheckRange(task, lba, blocks))
            return default;

        long length = (long)blocks << BlockShift;
        task.TransferLength = bytchk switch { 0 => 0, 1 => length, _ => blocks == 0 ? 0 : BlockSize };
        if (blocks == 0)
        {
            // SBC-3: "A VERIFICATION LENGTH field set to zero specifies that no logical blocks shall be
            // verified. This condition shall not be considered as an error."
            task.SetGood();
            return default;
        }

        switch (bytchk)
        {
            case 0:
                return VerifyMedium(task, lba, length, ReadOnlyMemory<byte>.Empty, repeatBlock: false, guard: true);
            case 1:
                if (!TryGetWholeBlocks(task, length, out int available))
                    return default;
                if (available == 0)
                {
                    task.SetGood();
                    return default;
                }
                return VerifyMedium(task, lba, available, task.DataOut[..available], repeatBlock: false, guard: true);
            default:
                if (task.DataOut.Length == 0)
                {
                    task.SetGood(); // nothing sent, nothing to compare: the residual tells the initiator
                    return default;
                }
                if (task.DataOut.Length < BlockSize)
                {
                    task.SetCheckCondition(SenseCode.InvalidFieldInInformationUnit, DescriptorSense);
                    return default;
                }
                return VerifyMedium(task, lba, length, task.DataOut[..BlockSize], repeatBlock: true, guard: true);
        }
    }

    private ValueTask WriteAndVerify(ScsiTask task)
    {
        var cdb = task.Cdb;
        int lengthField = DecodeLbaAndLength(cdb, out ulong lba, out uint blocks);
        int bytchk = (cdb[1] >> 1) & 0x03;
        bool dpo = (cdb[1] & 0x10) != 0;
        if (!CheckNoProtection(task))
            return default;
        // SBC-4: "For WRITE AND VERIFY commands a BYTCHK field set to 11b is reserved" (and 10b is reserved
        // for every verify command).
        if (bytchk >= 2)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 2));
            return default;
        }
        if (!CheckTransferLength(task, blocks, lengthField) || !CheckRange(task, lba, blocks) || !CheckWritable(task))
            return default;
        long length = (long)blocks << BlockShift;
        task.TransferLength = length;
        if (!TryGetWholeBlocks(task, length, out int available))
            return default;
        if (available == 0)
        {
            task.SetGood();
            return default;
        }
        return WriteThenVerify(task, lba, available, compare: bytchk == 1, dpo);
    }

    /// <summary>
    /// Writes the data durably (the verify reads the medium, so the data must be on it) and reads it back:
    /// compared byte for byte with BYTCHK=01b, checked for readability with BYTCHK=00b.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteThenVerify(ScsiTask task, ulong lba, int length, bool compare, bool dpo)
    {
        var data = task.DataOut[..length];
        var flags = IoFlags.ForceUnitAccess | (dpo ? IoFlags.DisablePageOut : IoFlags.None);
        // One lease over the write and the read-back: no atomic command slips in between them.
        var lease = await AcquireRange(lba, (ulong)(length >> BlockShift), exclusive: false).ConfigureAwait(false);
        try
        {
            IoStatus status = await _vdisk.WriteAsync((long)(lba << BlockShift), data, flags, task.Nexus.IoContext).ConfigureAwait(false);
            if (status != IoStatus.Ok)
            {
                Complete(task, status, lba);
                return;
            }
            await VerifyMedium(task, lba, length, compare ? data : ReadOnlyMemory<byte>.Empty, repeatBlock: false, guard: false).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release(lease);
        }
    }

    /// <summary>
    /// Reads <paramref name="length"/> bytes from <paramref name="lba"/> in chunks. With <paramref name="expected"/>
    /// empty it only checks that every block reads back; otherwise it compares, with <paramref name="repeatBlock"/>
    /// comparing every block against the one block given. With <paramref name="guard"/> each chunk is read under
    /// its own lease of the unit's gate (a caller that already holds one passes false).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask VerifyMedium(ScsiTask task, ulong lba, long length, ReadOnlyMemory<byte> expected, bool repeatBlock, bool guard)
    {
        long offset = (long)(lba << BlockShift);
        int chunk = (int)Math.Min(length, VerifyChunkBytes);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunk);
        try
        {
            for (long done = 0; done < length; done += chunk)
            {
                int n = (int)Math.Min(chunk, length - done);
                IoStatus status;
                if (guard)
                {
                    ulong at = lba + (ulong)(done >> BlockShift);
                    var lease = await AcquireRange(at, (ulong)(n >> BlockShift), exclusive: false).ConfigureAwait(false);
                    try
                    {
                        status = await _vdisk.ReadAsync(offset + done, buffer.AsMemory(0, n), task.Nexus.IoContext).ConfigureAwait(false);
                    }
                    finally
                    {
                        _gate.Release(lease);
                    }
                }
                else
                {
                    status = await _vdisk.ReadAsync(offset + done, buffer.AsMemory(0, n), task.Nexus.IoContext).ConfigureAwait(false);
                }
                if (status != IoStatus.Ok)
                {
                    Complete(task, status, lba + (ulong)(done >> BlockShift));
                    return;
                }
                if (expected.IsEmpty)
                    continue;
                int mismatch = repeatBlock
                    ? FirstMismatchRepeated(buffer.AsSpan(0, n), expected.Span)
                    : FirstMismatch(buffer.AsSpan(0, n), expected.Span.Slice((int)done, n));
                if (mismatch >= 0)
                {
                    task.SetCheckCondition(SenseCode.MiscompareDuringVerify, DescriptorSense, (ulong)(done + mismatch));
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

    private static int FirstMismatch(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected)
    {
        int same = actual.CommonPrefixLength(expected);
        return same == actual.Length ? -1 : same;
    }

    private static int FirstMismatchRepeated(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> block)
    {
        for (int at = 0; at < actual.Length; at += block.Length)
        {
            int m = FirstMismatch(actual.Slice(at, block.Length), block);
            if (m >= 0)
                return at + m;
        }
        return -1;
    }
}
