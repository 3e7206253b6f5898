using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// A direct-access block device logical unit (SBC-3) over one vDisk. Each command family lives in its
/// own partial file under Commands/; this file holds the dispatch, unit attentions and shared state.
/// </summary>
/// <remarks>
/// Every outcome is a SCSI status and sense in the task (STYLE.md 6); nothing here throws for anything
/// an initiator can send.
/// </remarks>
public sealed partial class LogicalUnit
{
    private readonly IVDisk _vdisk;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<long, NexusState> _nexusState = new();

    public LogicalUnit(IVDisk vdisk, LogicalUnitOptions options, ILogger log)
    {
        _vdisk = vdisk;
        _log = log;
        Options = options;
        BlockSize = options.LogicalBlockSize;
        BlockShift = System.Numerics.BitOperations.Log2((uint)BlockSize);
        WriteCacheEnabled = options.WriteCacheEnabled;
        vdisk.CapacityChanged += _ => EstablishUnitAttentionForAll(SenseCode.CapacityDataHasChanged);
    }

    public LogicalUnitOptions Options { get; }

    public IVDisk VDisk => _vdisk;

    public int BlockSize { get; }

    private int BlockShift { get; }

    /// <summary>Number of logical blocks (capacity rounded down to whole blocks).</summary>
    public ulong BlockCount => (ulong)(_vdisk.CapacityBytes >> BlockShift);

    /// <summary>Caching mode page WCE. With it off every write is durable before its status is sent.</summary>
    public bool WriteCacheEnabled { get; set; }

    /// <summary>Control mode page D_SENSE: descriptor-format sense data.</summary>
    public bool DescriptorSense { get; set; }

    /// <summary>Executes one command addressed to this unit.</summary>
    public ValueTask ExecuteAsync(ScsiTask task)
    {
        if (task.Aborted)
            return default;

        byte op = task.OperationCode;

        // SPC-4 5.14 / SAM-5 5.14: a pending unit attention is reported (and cleared) on any command
        // except INQUIRY, REPORT LUNS and REQUEST SENSE.
        if (op is not (ScsiOpcode.Inquiry or ScsiOpcode.ReportLuns or ScsiOpcode.RequestSense)
            && TryTakeUnitAttention(task.Nexus, out var ua))
        {
            task.SetCheckCondition(ua, DescriptorSense);
            return default;
        }

        return Dispatch(task);
    }

    private ValueTask Dispatch(ScsiTask task)
    {
        switch (task.OperationCode)
        {
            case ScsiOpcode.TestUnitReady:
                task.SetGood();
                return default;
            case ScsiOpcode.Inquiry:
                Inquiry(task);
                return default;
            case ScsiOpcode.RequestSense:
                RequestSense(task);
                return default;
            case ScsiOpcode.ReadCapacity10:
                ReadCapacity10(task);
                return default;
            case ScsiOpcode.ServiceActionIn16 when (task.CdbBuffer[1] & 0x1F) == ScsiOpcode.SaReadCapacity16:
                ReadCapacity16(task);
                return default;
            case ScsiOpcode.Read6:
            case ScsiOpcode.Read10:
            case ScsiOpcode.Read12:
            case ScsiOpcode.Read16:
                return Read(task);
            case ScsiOpcode.Write6:
            case ScsiOpcode.Write10:
            case ScsiOpcode.Write12:
            case ScsiOpcode.Write16:
                return Write(task);
            case ScsiOpcode.SynchronizeCache10:
            case ScsiOpcode.SynchronizeCache16:
                return SynchronizeCache(task);
            case ScsiOpcode.ReportLuns:
                // Answered by the target; a unit never sees it.
                task.SetCheckCondition(SenseCode.InvalidOpcode, DescriptorSense);
                return default;
            default:
                task.SetCheckCondition(SenseCode.InvalidOpcode, DescriptorSense, null, SenseKeySpecific.CdbField(0, 7));
                return default;
        }
    }

    /// <summary>Maps a Director status to SCSI status and sense.</summary>
    internal void Complete(ScsiTask task, IoStatus status, ulong lba = 0)
    {
        switch (status)
        {
            case IoStatus.Ok:
                task.SetGood();
                break;
            case IoStatus.OutOfRange:
                task.SetCheckCondition(SenseCode.LbaOutOfRange, DescriptorSense);
                break;
            case IoStatus.MediumError:
                task.SetCheckCondition(SenseCode.UnrecoveredReadError, DescriptorSense, lba);
                break;
            case IoStatus.WriteError:
                task.SetCheckCondition(SenseCode.WriteError, DescriptorSense, lba);
                break;
            case IoStatus.NoSpace:
                task.SetCheckCondition(SenseCode.SpaceAllocationFailedWriteProtect, DescriptorSense);
                break;
            case IoStatus.ReadOnly:
                task.SetCheckCondition(SenseCode.WriteProtected, DescriptorSense);
                break;
            case IoStatus.Busy:
                task.SetStatus(ScsiStatus.TaskSetFull);
                break;
            case IoStatus.NotReady:
                task.SetCheckCondition(SenseCode.LogicalUnitNotReadyManualIntervention, DescriptorSense);
                break;
            case IoStatus.Aborted:
                task.SetStatus(ScsiStatus.TaskAborted);
                break;
            default:
                task.SetCheckCondition(SenseCode.InternalTargetFailure, DescriptorSense);
                break;
        }
    }

    // ---------------------------------------------------------------- nexus state and unit attentions

    internal sealed class NexusState(ITNexus nexus)
    {
        public readonly ITNexus Nexus = nexus;
        public readonly Queue<SenseCode> UnitAttentions = new();
    }

    internal NexusState? GetNexusState(ITNexus nexus) => _nexusState.TryGetValue(nexus.Id, out var s) ? s : null;

    /// <summary>A new nexus sees POWER ON, RESET, OR BUS DEVICE RESET OCCURRED first (SAM-5 6.3.1).</summary>
    public void AddNexus(ITNexus nexus)
    {
        var state = new NexusState(nexus);
        state.UnitAttentions.Enqueue(SenseCode.PowerOnResetOrBusDeviceReset);
        _nexusState[nexus.Id] = state;
    }

    public void RemoveNexus(ITNexus nexus) => _nexusState.TryRemove(nexus.Id, out _);

    public void EstablishUnitAttention(ITNexus nexus, SenseCode code)
    {
        if (_nexusState.TryGetValue(nexus.Id, out var s))
            lock (s)
                if (!s.UnitAttentions.Contains(code))
                    s.UnitAttentions.Enqueue(code);
    }

    public void EstablishUnitAttentionForAll(SenseCode code, ITNexus? except = null)
    {
        foreach (var s in _nexusState.Values)
            if (except is null || s.Nexus.Id != except.Id)
                EstablishUnitAttention(s.Nexus, code);
    }

    private bool TryTakeUnitAttention(ITNexus nexus, out SenseCode code)
    {
        if (_nexusState.TryGetValue(nexus.Id, out var s))
        {
            lock (s)
                return s.UnitAttentions.TryDequeue(out code);
        }
        code = default;
        return false;
    }

    /// <summary>LOGICAL UNIT RESET or TARGET RESET: state returns to its defaults and every nexus is told.</summary>
    public void Reset(ITNexus by, SenseCode? reason = null)
    {
        EstablishUnitAttentionForAll(reason ?? SenseCode.BusDeviceResetFunctionOccurred);
    }
}
