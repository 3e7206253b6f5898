using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// GET LBA STATUS (SBC-4, GET LBA STATUS command): SERVICE ACTION IN (16) / 12h
//
//   CDB: bytes 2..9 STARTING LOGICAL BLOCK ADDRESS, bytes 10..13 ALLOCATION LENGTH
//   data: PARAMETER DATA LENGTH (4), reserved (4), then LBA status descriptors of 16 bytes:
//         LBA STATUS LOGICAL BLOCK ADDRESS (8), NUMBER OF LOGICAL BLOCKS (4), PROVISIONING STATUS (byte 12, 3:0)
//         0h mapped (or unknown), 1h deallocated, 2h anchored (not used here)
//
// The runs come from the vDisk's allocation map (IVDisk.GetAllocationAsync): a block the vDisk holds data
// for is mapped, one never written or unmapped is deallocated and reads as zeros (LBPRZ=1). Offered only
// with logical block provisioning management.
public sealed partial class LogicalUnit
{
    /// <summary>Most descriptors one GET LBA STATUS returns; also bounds the allocation queries (and so the work) of one command.</summary>
    internal const int MaxLbaStatusDescriptors = 64;

    private const byte ProvisioningMapped = 0x0;
    private const byte ProvisioningDeallocated = 0x1;

    private ValueTask GetLbaStatus(ScsiTask task)
    {
        ulong lba = task.CdbUInt64(2);
        uint allocation = task.CdbUInt32(10);
        // SBC-4 (GET LBA STATUS): a STARTING LOGICAL BLOCK ADDRESS beyond the last LBA is LOGICAL BLOCK ADDRESS OUT OF RANGE.
        if (lba >= BlockCount)
        {
            task.SetCheckCondition(SenseCode.LbaOutOfRange, DescriptorSense);
            return default;
        }
        // SBC-4 (GET LBA STATUS): the device server may return less than the allocation length; the application
        // client asks again from where the data stops. At least one descriptor is built even for a short
        // allocation length, which then truncates it (SPC-4, allocation length).
        int descriptors = (int)Math.Clamp(((long)allocation - 8) / 16, 1, MaxLbaStatusDescriptors);
        return GetLbaStatusRuns(task, lba, allocation, descriptors);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask GetLbaStatusRuns(ScsiTask task, ulong lba, uint allocation, int maxDescriptors)
    {
        ulong count = BlockCount;
        task.AllocateDataIn(8 + 16 * maxDescriptors);
        int n = 0;
        ulong pos = lba;
        for (int queries = 0; queries < MaxLbaStatusDescriptors && pos < count; queries++)
        {
            ulong ask = Math.Min(count - pos, uint.MaxValue);
            var run = await _vdisk.GetAllocationAsync((long)(pos << BlockShift), (long)(ask << BlockShift), task.Nexus.IoContext).ConfigureAwait(false);
            if (run.Status != IoStatus.Ok)
            {
                Complete(task, run.Status, pos);
                return;
            }
            ulong blocks = (ulong)run.Length >> BlockShift;
            byte status = run.Mapped ? ProvisioningMapped : ProvisioningDeallocated;
            if (blocks == 0)
            {
                // A run shorter than a logical block: the block is partly allocated, which makes it mapped.
                blocks = 1;
                status = ProvisioningMapped;
            }
            blocks = Math.Min(blocks, count - pos);
            var data = task.DataInMemory.Span;
            // SBC-4 (LBA status descriptor relationships): the device server should return the largest NUMBER OF
            // LOGICAL BLOCKS it can, so a run continuing the previous descriptor with the same status extends it
            // (up to the 32-bit field).
            if (n > 0 && data[8 + 16 * (n - 1) + 12] == status
                && BinaryPrimitives.ReadUInt32BigEndian(data[(8 + 16 * (n - 1) + 8)..]) + blocks <= uint.MaxValue)
            {
                var prev = data[(8 + 16 * (n - 1) + 8)..];
                BinaryPrimitives.WriteUInt32BigEndian(prev, (uint)(BinaryPrimitives.ReadUInt32BigEndian(prev) + blocks));
            }
            else
            {
                if (n == maxDescriptors)
                    break;
                // SBC-4 (LBA status descriptor relationships): the first descriptor starts at the STARTING LOGICAL
                // BLOCK ADDRESS, each next one where the previous one ends.
                var d = data.Slice(8 + 16 * n, 16);
                BinaryPrimitives.WriteUInt64BigEndian(d, pos);
                BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)blocks);
                d[12] = status;
                n++;
            }
            pos += blocks;
        }
        task.TruncateDataIn(8 + 16 * n);
        BinaryPrimitives.WriteUInt32BigEndian(task.DataInMemory.Span, (uint)(4 + 16 * n));
        task.CompleteDataIn(allocation);
        task.SetGood();
    }
}
