using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// UNMAP (SBC-3): byte 1 ANCHOR (bit 0), byte 6 GROUP NUMBER, bytes 7..8 PARAMETER LIST LENGTH
//
//   parameter list: UNMAP DATA LENGTH (2), UNMAP BLOCK DESCRIPTOR DATA LENGTH (2), reserved (4), then
//   UNMAP block descriptors of 16 bytes: UNMAP LOGICAL BLOCK ADDRESS (8), NUMBER OF LOGICAL BLOCKS (4), reserved (4)
//
// Offered only with logical block provisioning management (a thin LU over a vDisk that can release space).
// Every descriptor is checked before any range is released, so a bad list changes nothing.
public sealed partial class LogicalUnit
{
    /// <summary>MAXIMUM UNMAP LBA COUNT in the Block Limits page: the blocks one UNMAP may release.</summary>
    internal const uint MaxUnmapBlocks = 1u << 20;

    /// <summary>MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT in the Block Limits page.</summary>
    internal const uint MaxUnmapDescriptors = 256;

    private ValueTask Unmap(ScsiTask task)
    {
        var cdb = task.Cdb;
        // SBC-3: ANCHOR=1 while the Logical Block Provisioning VPD page says ANC_SUP=0 is an INVALID FIELD IN CDB.
        if ((cdb[1] & 0x01) != 0)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 0));
            return default;
        }
        int listLength = task.CdbUInt16(7);
        task.TransferLength = listLength;
        // SBC-3: a PARAMETER LIST LENGTH of zero transfers nothing and is not an error.
        if (listLength == 0)
        {
            task.SetGood();
            return default;
        }
        if (!CheckWritable(task))
            return default;
        var list = task.DataOut.Span[..Math.Min(listLength, task.DataOut.Length)];
        // SBC-3: a parameter list too short to hold its 8-byte header is a PARAMETER LIST LENGTH ERROR.
        if (list.Length < 8)
        {
            ParameterListLengthError(task);
            return default;
        }
        int descriptorBytes = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(list[2..]), list.Length - 8);
        int descriptors = descriptorBytes / 16; // a truncated last descriptor is ignored
        if (descriptors > MaxUnmapDescriptors)
        {
            InvalidParameter(task, 2, 7);
            return default;
        }
        ulong total = 0;
        for (int i = 0; i < descriptors; i++)
        {
            var d = list.Slice(8 + 16 * i, 16);
            ulong lba = BinaryPrimitives.ReadUInt64BigEndian(d);
            uint blocks = BinaryPrimitives.ReadUInt32BigEndian(d[8..]);
            if (!CheckRange(task, lba, blocks))
                return default;
            total += blocks;
            // SBC-3: more blocks in total than MAXIMUM UNMAP LBA COUNT is an INVALID FIELD IN PARAMETER LIST.
            if (total > MaxUnmapBlocks)
            {
                InvalidParameter(task, 8 + 16 * i + 8, 7);
                return default;
            }
        }
        if (total == 0)
        {
            task.SetGood();
            return default;
        }
        return UnmapDescriptors(task, descriptors);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask UnmapDescriptors(ScsiTask task, int descriptors)
    {
        for (int i = 0; i < descriptors; i++)
        {
            var d = task.DataOut.Slice(8 + 16 * i, 16);
            ulong lba = BinaryPrimitives.ReadUInt64BigEndian(d.Span);
            uint blocks = BinaryPrimitives.ReadUInt32BigEndian(d.Span[8..]);
            if (blocks == 0)
                continue;
            IoStatus status;
            var lease = await AcquireRange(lba, blocks, exclusive: false).ConfigureAwait(false);
            try
            {
                status = await _vdisk.UnmapAsync((long)(lba << BlockShift), (long)blocks << BlockShift, task.Nexus.IoContext).ConfigureAwait(false);
            }
            finally
            {
                _gate.Release(lease);
            }
            if (status != IoStatus.Ok)
            {
                Complete(task, status, lba);
                return;
            }
        }
        task.SetGood();
    }
}
