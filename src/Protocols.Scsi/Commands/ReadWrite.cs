using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// READ (6/10/12/16) (SBC-3 5.8-5.11), WRITE (6/10/12/16) (SBC-3 5.32-5.35), SYNCHRONIZE CACHE (SBC-3 5.22-5.23)
public sealed partial class LogicalUnit
{
    /// <summary>Decodes LBA, transfer length and the DPO/FUA bits of the READ/WRITE CDB families.</summary>
    internal static bool TryDecodeRw(ScsiTask task, out ulong lba, out uint blocks, out bool fua, out bool dpo)
    {
        var cdb = task.Cdb;
        fua = dpo = false;
        switch (cdb[0])
        {
            case ScsiOpcode.Read6:
            case ScsiOpcode.Write6:
                lba = (ulong)(((cdb[1] & 0x1F) << 16) | (cdb[2] << 8) | cdb[3]);
                blocks = cdb[4] == 0 ? 256u : cdb[4]; // SBC-3: 0 means 256 blocks for the 6-byte CDBs
                return true;
            case ScsiOpcode.Read10:
            case ScsiOpcode.Write10:
                lba = task.CdbUInt32(2);
                blocks = task.CdbUInt16(7);
                break;
            case ScsiOpcode.Read12:
            case ScsiOpcode.Write12:
                lba = task.CdbUInt32(2);
                blocks = task.CdbUInt32(6);
                break;
            case ScsiOpcode.Read16:
            case ScsiOpcode.Write16:
                lba = task.CdbUInt64(2);
                blocks = task.CdbUInt32(10);
                break;
            default:
                lba = 0;
                blocks = 0;
                return false;
        }
        dpo = (cdb[1] & 0x10) != 0;
        fua = (cdb[1] & 0x08) != 0;
        return true;
    }

    private bool CheckRange(ScsiTask task, ulong lba, uint blocks)
    {
        ulong count = BlockCount;
        if (lba > count || blocks > count - lba)
        {
            task.SetCheckCondition(SenseCode.LbaOutOfRange, DescriptorSense);
            return false;
        }
        return true;
    }

    private ValueTask Read(ScsiTask task)
    {
        TryDecodeRw(task, out ulong lba, out uint blocks, out _, out _);
        if (!CheckRange(task, lba, blocks))
            return default;
        int bytes = (int)(blocks << BlockShift);
        if (bytes == 0)
        {
            task.SetGood();
            return default;
        }
        // Only as much as the initiator will take is read; the transport reports the rest as overflow.
        int toRead = (int)Math.Min((uint)bytes, task.ExpectedTransferLength);
        task.AllocateDataIn(toRead, clear: false);
        task.TransferLength = bytes;
        if (toRead == 0)
        {
            task.SetGood();
            return default;
        }
        var pending = _vdisk.ReadAsync((long)(lba << BlockShift), task.DataInMemory, task.Nexus.IoContext);
        if (pending.IsCompletedSuccessfully)
        {
            Complete(task, pending.Result, lba);
            return default;
        }
        return AwaitIo(pending, task, lba);
    }

    private ValueTask Write(ScsiTask task)
    {
        TryDecodeRw(task, out ulong lba, out uint blocks, out bool fua, out _);
        if (!CheckRange(task, lba, blocks))
            return default;
        if (Options.ReadOnly)
        {
            task.SetCheckCondition(SenseCode.WriteProtected, DescriptorSense);
            return default;
        }
        long bytes = (long)blocks << BlockShift;
        task.TransferLength = bytes;
        // Write only what the initiator sent (RFC 7143 residual overflow); a partial block is refused.
        long available = Math.Min(bytes, task.DataOut.Length);
        if ((available & (BlockSize - 1)) != 0)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInInformationUnit, DescriptorSense);
            return default;
        }
        if (available == 0)
        {
            task.SetGood();
            return default;
        }
        var flags = fua || !WriteCacheEnabled ? IoFlags.ForceUnitAccess : IoFlags.None;
        var pending = _vdisk.WriteAsync((long)(lba << BlockShift), task.DataOut[..(int)available], flags, task.Nexus.IoContext);
        if (pending.IsCompletedSuccessfully)
        {
            Complete(task, pending.Result, lba);
            return default;
        }
        return AwaitIo(pending, task, lba);
    }

    private ValueTask SynchronizeCache(ScsiTask task)
    {
        var pending = _vdisk.FlushAsync(task.Nexus.IoContext);
        if (pending.IsCompletedSuccessfully)
        {
            Complete(task, pending.Result);
            return default;
        }
        return AwaitIo(pending, task, 0);
    }

    private async ValueTask AwaitIo(ValueTask<IoStatus> pending, ScsiTask task, ulong lba)
    {
        IoStatus status = await pending.ConfigureAwait(false);
        Complete(task, status, lba);
    }
}
