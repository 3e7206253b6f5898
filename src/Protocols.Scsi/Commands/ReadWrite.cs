using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// READ (6/10/12/16) (SBC-3 5.8-5.11) and WRITE (6/10/12/16) (SBC-3 5.32-5.35), plus the CDB decoding and
// checks every block command shares (LBA, length, protection field, range, write protection).
//
//   READ (10) / WRITE (10)                       READ (16) / WRITE (16)
//   +------+--------------------------------+    +------+--------------------------------+
//   |  0   | OPERATION CODE                 |    |  0   | OPERATION CODE                 |
//   |  1   | xxPROTECT | DPO | FUA | . | NV |    |  1   | xxPROTECT | DPO | FUA | . | NV |
//   | 2..5 | LOGICAL BLOCK ADDRESS          |    | 2..9 | LOGICAL BLOCK ADDRESS          |
//   |  6   | GROUP NUMBER                   |    |10..13| TRANSFER LENGTH                |
//   | 7..8 | TRANSFER LENGTH                |    |  14  | GROUP NUMBER                   |
//   |  9   | CONTROL                        |    |  15  | CONTROL                        |
//   +------+--------------------------------+    +------+--------------------------------+
//   The 12-byte form has a 4-byte LBA at 2, a 4-byte length at 6 and GROUP NUMBER at 10. READ (6) and
//   WRITE (6) carry a 21-bit LBA in bytes 1..3 and a length in byte 4 where 0 means 256 blocks.
public sealed partial class LogicalUnit
{
    /// <summary>Largest transfer a command may ask for, in blocks: the configured limit, and never above 1 GiB.</summary>
    internal uint MaxTransferBlocks => Math.Min(Options.MaximumTransferLengthBlocks, 1u << (30 - BlockShift));

    /// <summary>
    /// Decodes the LOGICAL BLOCK ADDRESS and the length field of a block command by CDB size, and returns
    /// the offset of the length field (for sense-key specific field pointers).
    /// </summary>
    internal static int DecodeLbaAndLength(ReadOnlySpan<byte> cdb, out ulong lba, out uint blocks)
    {
        switch (cdb[0] >> 5)
        {
            case 0: // 6-byte CDB: READ (6), WRITE (6)
                lba = (ulong)(((cdb[1] & 0x1F) << 16) | (cdb[2] << 8) | cdb[3]);
                // SBC-3: "A TRANSFER LENGTH field set to zero specifies that 256 logical blocks shall be read."
                blocks = cdb[4] == 0 ? 256u : cdb[4];
                return 4;
            case 1:
            case 2: // 10-byte CDB
                lba = BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]);
                blocks = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
                return 7;
            case 4: // 16-byte CDB
                lba = BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]);
                blocks = BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]);
                return 10;
            case 5: // 12-byte CDB
                lba = BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]);
                blocks = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
                return 6;
            default:
                lba = 0;
                blocks = 0;
                return 0;
        }
    }

    /// <summary>
    /// RDPROTECT / WRPROTECT / VRPROTECT (byte 1, bits 7:5). This unit has no protection information, and for
    /// such a unit SBC-3 requires a non-zero value to end the command with ILLEGAL REQUEST, INVALID FIELD IN CDB.
    /// </summary>
    private bool CheckNoProtection(ScsiTask task)
    {
        if (task.CdbLength > 6 && (task.CdbBuffer[1] & 0xE0) != 0)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 7));
            return false;
        }
        return true;
    }

    /// <summary>
    /// SBC-3 (Block Limits VPD page): a TRANSFER LENGTH above MAXIMUM TRANSFER LENGTH "shall" end the command
    /// with INVALID FIELD IN CDB.
    /// </summary>
    private bool CheckTransferLength(ScsiTask task, uint blocks, int lengthField)
    {
        if (blocks > MaxTransferBlocks)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField((ushort)lengthField, 7));
            return false;
        }
        return true;
    }

    /// <summary>
    /// SBC-3, logical blocks: a command that "references or attempts to access a logical block not within the capacity
    /// of the medium" ends with LOGICAL BLOCK ADDRESS OUT OF RANGE: the LBA plus the number of blocks may not
    /// exceed the capacity, and an LBA beyond it is refused even for zero blocks. (An LBA equal to the
    /// capacity with zero blocks touches nothing and passes, which UNMAP of zero blocks at the end relies on.)
    /// </summary>
    internal bool CheckRange(ScsiTask task, ulong lba, ulong blocks)
    {
        ulong count = BlockCount;
        if (lba > count || blocks > count - lba)
        {
            task.SetCheckCondition(SenseCode.LbaOutOfRange, DescriptorSense);
            return false;
        }
        return true;
    }

    /// <summary>DATA PROTECT for a configured read-only unit (WRITE PROTECTED) or SWP (SOFTWARE WRITE PROTECTED, SPC-4, Control mode page).</summary>
    private bool CheckWritable(ScsiTask task)
    {
        if (Options.ReadOnly)
        {
            task.SetCheckCondition(SenseCode.WriteProtected, DescriptorSense);
            return false;
        }
        if (_softwareWriteProtect)
        {
            task.SetCheckCondition(SenseCode.SoftwareWriteProtected, DescriptorSense);
            return false;
        }
        return true;
    }

    /// <summary>The Director flags for a write: FUA from the CDB or the write cache off, and DPO.</summary>
    private IoFlags WriteFlags(bool fua, bool dpo)
    {
        // SBC-3: with WCE=0 (caching mode page) a write completes only once its data is on the medium, and with
        // FUA=1 the device server writes the blocks to the medium before it returns status.
        var flags = fua || !_writeCacheEnabled ? IoFlags.ForceUnitAccess : IoFlags.None;
        if (dpo)
            flags |= IoFlags.DisablePageOut;
        return flags;
    }

    private ValueTask Read(ScsiTask task)
    {
        int lengthField = DecodeLbaAndLength(task.Cdb, out ulong lba, out uint blocks);
        if (!CheckNoProtection(task) || !CheckTransferLength(task, blocks, lengthField) || !CheckRange(task, lba, blocks))
            return default;
        int bytes = (int)(blocks << BlockShift);
        task.TransferLength = bytes;
        if (bytes == 0)
        {
            // SBC-3: "A TRANSFER LENGTH field set to zero specifies that no logical blocks shall be read.
            // This condition shall not be considered an error."
            task.SetGood();
            return default;
        }
        // Only as much as the initiator will take is read (whole blocks, trimmed to its expected length);
        // the transport reports the rest as residual overflow.
        int wanted = (int)Math.Min((uint)bytes, task.ExpectedTransferLength);
        if (wanted == 0)
        {
            task.SetGood();
            return default;
        }
        int aligned = (wanted + BlockSize - 1) & ~(BlockSize - 1);
        task.AllocateDataIn(aligned, clear: false);
        var destination = task.DataInMemory;
        task.TruncateDataIn(wanted);
        task.TransferLength = bytes;
        ulong span = (ulong)(aligned >> BlockShift);
        if (!TryEnterFastPath(span))
            return ReadGuarded(task, lba, span, destination);
        ValueTask<IoStatus> pending;
        try
        {
            pending = _vdisk.ReadAsync((long)(lba << BlockShift), destination, task.Nexus.IoContext);
        }
        catch
        {
            _gate.ExitFast();
            throw;
        }
        return CompleteFastWhenDone(pending, task, lba);
    }

    /// <summary>A READ while an atomic command is in flight (or too long for the fast path): it waits for overlapping ones.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadGuarded(ScsiTask task, ulong lba, ulong blocks, Memory<byte> destination)
    {
        var lease = await _gate.EnterAsync(lba, blocks, exclusive: false).ConfigureAwait(false);
        try
        {
            Complete(task, await _vdisk.ReadAsync((long)(lba << BlockShift), destination, task.Nexus.IoContext).ConfigureAwait(false), lba);
        }
        finally
        {
            _gate.Release(lease);
        }
    }

    private ValueTask Write(ScsiTask task)
    {
        var cdb = task.Cdb;
        int lengthField = DecodeLbaAndLength(cdb, out ulong lba, out uint blocks);
        bool fua = cdb.Length > 6 && (cdb[1] & 0x08) != 0;
        bool dpo = cdb.Length > 6 && (cdb[1] & 0x10) != 0;
        if (!CheckNoProtection(task) || !CheckTransferLength(task, blocks, lengthField) || !CheckRange(task, lba, blocks) || !CheckWritable(task))
            return default;
        long bytes = (long)blocks << BlockShift;
        task.TransferLength = bytes;
        if (!TryGetWholeBlocks(task, bytes, out int available))
            return default;
        if (available == 0)
        {
            task.SetGood();
            return default;
        }
        var flags = WriteFlags(fua, dpo);
        ulong span = (ulong)(available >> BlockShift);
        if (!TryEnterFastPath(span))
            return WriteGuarded(task, lba, span, task.DataOut[..available], flags);
        ValueTask<IoStatus> pending;
        try
        {
            pending = _vdisk.WriteAsync((long)(lba << BlockShift), task.DataOut[..available], flags, task.Nexus.IoContext);
        }
        catch
        {
            _gate.ExitFast();
            throw;
        }
        return CompleteFastWhenDone(pending, task, lba);
    }

    /// <summary>A WRITE while an atomic command is in flight (or too long for the fast path): it waits for overlapping ones.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteGuarded(ScsiTask task, ulong lba, ulong blocks, ReadOnlyMemory<byte> data, IoFlags flags)
    {
        var lease = await _gate.EnterAsync(lba, blocks, exclusive: false).ConfigureAwait(false);
        try
        {
            Complete(task, await _vdisk.WriteAsync((long)(lba << BlockShift), data, flags, task.Nexus.IoContext).ConfigureAwait(false), lba);
        }
        finally
        {
            _gate.Release(lease);
        }
    }

    /// <summary>
    /// How much of the data-out to use: what the CDB asks for, or less when the initiator sent less (RFC 7143
    /// 11.4.5.1 residual overflow: only whole blocks received are written). A partial last block cannot be
    /// written and ends the command with INVALID FIELD IN INFORMATION UNIT.
    /// </summary>
    private bool TryGetWholeBlocks(ScsiTask task, long bytes, out int available)
    {
        available = (int)Math.Min(bytes, task.DataOut.Length);
        if ((available & (BlockSize - 1)) != 0)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInInformationUnit, DescriptorSense);
            return false;
        }
        return true;
    }
}
