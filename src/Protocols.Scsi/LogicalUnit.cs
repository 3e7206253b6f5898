using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// A direct-access block device logical unit (SBC-3) over one vDisk. Each command family lives in its
/// own partial file under Commands/; this file holds the dispatch, unit attentions and shared state.
/// </summary>
/// <remarks>
/// <para>
/// Every outcome is a SCSI status and sense in the task (STYLE.md 6); nothing here throws for anything
/// an initiator can send.
/// </para>
/// <para>
/// Processing order for every command: unit attention (SAM-5 5.14), operation code and service action
/// (<see cref="CommandTable"/>), reserved CDB bits and the CONTROL byte, the stopped power condition for
/// medium access commands, then the command's own field, range and write-protect checks.
/// </para>
/// </remarks>
public sealed partial class LogicalUnit
{
    private readonly IVDisk _vdisk;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<long, NexusState> _nexusState = new();
    private readonly Lock _modeLock = new();
    private readonly BlockRangeGate _gate = new();
    private volatile bool _writeCacheEnabled;
    private volatile bool _descriptorSense;
    private volatile bool _softwareWriteProtect;
    private volatile bool _stopped;

    public LogicalUnit(IVDisk vdisk, LogicalUnitOptions options, ILogger log)
    {
        _vdisk = vdisk;
        _log = log;
        Options = options;
        BlockSize = options.LogicalBlockSize;
        BlockShift = System.Numerics.BitOperations.Log2((uint)BlockSize);
        _writeCacheEnabled = options.WriteCacheEnabled;
        vdisk.CapacityChanged += _ => EstablishUnitAttentionForAll(SenseCode.CapacityDataHasChanged);
        if (options.ReservationStore is not null)
            UseReservationStore(options.ReservationStore);
    }

    public LogicalUnitOptions Options { get; }

    /// <summary>Orders atomic commands against all other I/O to the same blocks (exposed for tests).</summary>
    internal BlockRangeGate Gate => _gate;

    public IVDisk VDisk => _vdisk;

    public int BlockSize { get; }

    private int BlockShift { get; }

    /// <summary>Number of logical blocks (capacity rounded down to whole blocks).</summary>
    public ulong BlockCount => (ulong)(_vdisk.CapacityBytes >> BlockShift);

    /// <summary>Caching mode page WCE. With it off every write is durable before its status is sent.</summary>
    public bool WriteCacheEnabled
    {
        get => _writeCacheEnabled;
        set => _writeCacheEnabled = value;
    }

    /// <summary>Control mode page D_SENSE: descriptor-format sense data.</summary>
    public bool DescriptorSense
    {
        get => _descriptorSense;
        set => _descriptorSense = value;
    }

    /// <summary>Control mode page SWP: the initiator write-protected the medium (SPC-4, Control mode page).</summary>
    public bool SoftwareWriteProtect
    {
        get => _softwareWriteProtect;
        set => _softwareWriteProtect = value;
    }

    /// <summary>The unit is in the stopped power condition (START STOP UNIT with START=0, SBC-3, power conditions).</summary>
    public bool Stopped => _stopped;

    /// <summary>Writes are refused: the LU is read-only by configuration or SWP is set.</summary>
    public bool WriteProtected => Options.ReadOnly || _softwareWriteProtect;

    /// <summary>Logical block provisioning management (SBC-3, logical block provisioning): thin by configuration and the vDisk can release space.</summary>
    public bool ThinProvisioningEnabled => Options.ThinProvisioned && _vdisk.SupportsUnmap;

    /// <summary>Executes one command addressed to this unit.</summary>
    public ValueTask ExecuteAsync(ScsiTask task)
    {
        if (task.Aborted)
            return default;

        byte op = task.OperationCode;

        // SAM-5 5.14: a pending unit attention is reported (and cleared) by any command except INQUIRY,
        // REPORT LUNS and REQUEST SENSE, which are processed as if there were none.
        if (op is not (ScsiOpcode.Inquiry or ScsiOpcode.ReportLuns or ScsiOpcode.RequestSense)
            && TryTakeUnitAttention(task.Nexus, out var ua))
        {
            task.SetCheckCondition(ua, DescriptorSense);
            return default;
        }

        int index = CommandTable.Find(task.CdbBuffer, out bool serviceActionUnknown);
        if (index >= 0 && !IsImplemented(in CommandTable.Commands[index]))
        {
            serviceActionUnknown = CommandTable.Commands[index].HasServiceAction;
            index = -1;
        }
        if (index < 0)
        {
            if (serviceActionUnknown)
            {
                // SPC-4: an unsupported service action of a supported operation code is an invalid field.
                task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 4));
            }
            else
            {
                task.SetCheckCondition(SenseCode.InvalidOpcode, DescriptorSense, null, SenseKeySpecific.CdbField(0, 7));
            }
            return default;
        }

        ref readonly var command = ref CommandTable.Commands[index];
        if (!CheckCdb(task, in command))
            return default;

        // SPC-4 persistent reservations and SPC-2 reservations (see Reservations.cs): one volatile read when none exists.
        if (ReservationConflict(task, in command))
        {
            task.SetStatus(ScsiStatus.ReservationConflict);
            return default;
        }

        // SBC-3 power conditions: in the stopped power condition a medium access command ends with NOT READY,
        // LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED until START STOP UNIT starts the unit again.
        if ((command.Flags & CommandFlags.MediumAccess) != 0 && _stopped)
        {
            task.SetCheckCondition(SenseCode.NotReadyInitializingCommandRequired, DescriptorSense);
            return default;
        }

        return Dispatch(task);
    }

    /// <summary>Whether a table entry is offered by this unit (the provisioning commands need a thin vDisk).</summary>
    internal bool IsImplemented(in CommandInfo command) =>
        (command.Flags & CommandFlags.NeedsThinProvisioning) == 0 || ThinProvisioningEnabled;

    /// <summary>
    /// Checks the CDB length, reserved bits against the command's usage map, and the CONTROL byte.
    /// </summary>
    private bool CheckCdb(ScsiTask task, in CommandInfo command)
    {
        if (task.CdbLength < command.CdbLength)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(0, 7));
            return false;
        }
        if (CommandTable.FindReservedBit(task.Cdb, in command, out int bytePos, out int bit))
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField((ushort)bytePos, (byte)bit));
            return false;
        }
        return true;
    }

    private ValueTask Dispatch(ScsiTask task)
    {
        switch (task.OperationCode)
        {
            case ScsiOpcode.TestUnitReady:
                TestUnitReady(task);
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
            case ScsiOpcode.ServiceActionIn16:
                switch (task.CdbBuffer[1] & 0x1F)
                {
                    case ScsiOpcode.SaReadCapacity16:
                        ReadCapacity16(task);
                        return default;
                    case ScsiOpcode.SaGetLbaStatus:
                        return GetLbaStatus(task);
                }
                break;
            case ScsiOpcode.MaintenanceIn:
                if ((task.CdbBuffer[1] & 0x1F) == ScsiOpcode.SaReportTargetPortGroups)
                    ReportTargetPortGroups(task);
                else
                    ReportSupportedOperationCodes(task);
                return default;
            case ScsiOpcode.Reserve6:
                Reserve6(task);
                return default;
            case ScsiOpcode.Release6:
                Release6(task);
                return default;
            case ScsiOpcode.PersistentReserveIn:
                PersistentReserveIn(task);
                return default;
            case ScsiOpcode.PersistentReserveOut:
                return PersistentReserveOut(task);
            case ScsiOpcode.ExtendedCopy:
                return ExtendedCopy(task);
            case ScsiOpcode.ReceiveCopyResults:
                ReceiveCopyResults(task);
                return default;
            case ScsiOpcode.OrWrite16:
                return OrWrite(task);
            case ScsiOpcode.WriteAtomic16:
                return WriteAtomic(task);
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
            case ScsiOpcode.WriteAndVerify10:
            case ScsiOpcode.WriteAndVerify12:
            case ScsiOpcode.WriteAndVerify16:
                return WriteAndVerify(task);
            case ScsiOpcode.Verify10:
            case ScsiOpcode.Verify12:
            case ScsiOpcode.Verify16:
                return Verify(task);
            case ScsiOpcode.SynchronizeCache10:
            case ScsiOpcode.SynchronizeCache16:
                return SynchronizeCache(task);
            case ScsiOpcode.PreFetch10:
            case ScsiOpcode.PreFetch16:
                return PreFetch(task);
            case ScsiOpcode.ModeSense6:
            case ScsiOpcode.ModeSense10:
                ModeSense(task);
                return default;
            case ScsiOpcode.ModeSelect6:
            case ScsiOpcode.ModeSelect10:
                ModeSelect(task);
                return default;
            case ScsiOpcode.StartStopUnit:
                return StartStopUnit(task);
            case ScsiOpcode.PreventAllowMediumRemoval:
                PreventAllowMediumRemoval(task);
                return default;
            case ScsiOpcode.ReadDefectData10:
            case ScsiOpcode.ReadDefectData12:
                ReadDefectData(task);
                return default;
            case ScsiOpcode.Unmap:
                return Unmap(task);
            case ScsiOpcode.CompareAndWrite:
                return CompareAndWrite(task);
            case ScsiOpcode.WriteSame10:
            case ScsiOpcode.WriteSame16:
                return WriteSame(task);
            case ScsiOpcode.ReportLuns:
                // Answered by the target for every LUN; reaching a unit means a transport bypassed ScsiTarget.
                break;
        }
        task.SetCheckCondition(SenseCode.InvalidOpcode, DescriptorSense, null, SenseKeySpecific.CdbField(0, 7));
        return default;
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

    /// <summary>Completes a task with a Director status once its I/O finishes (no allocation when it already has).</summary>
    private ValueTask CompleteWhenDone(ValueTask<IoStatus> pending, ScsiTask task, ulong lba)
    {
        if (pending.IsCompletedSuccessfully)
        {
            Complete(task, pending.Result, lba);
            return default;
        }
        return AwaitIo(pending, task, lba);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitIo(ValueTask<IoStatus> pending, ScsiTask task, ulong lba)
    {
        IoStatus status = await pending.ConfigureAwait(false);
        Complete(task, status, lba);
    }

    // ---------------------------------------------------------------- ordering against atomic commands

    /// <summary>Longest range a command may hold the fast path of <see cref="_gate"/> for; longer ones register their range.</summary>
    private const long FastPathMaxBytes = 16 << 20;

    /// <summary>Enters the gate's lock-free path for a short command (see <see cref="BlockRangeGate"/>).</summary>
    private bool TryEnterFastPath(ulong blocks) => blocks <= (ulong)(FastPathMaxBytes >> BlockShift) && _gate.TryEnterFast();

    /// <summary>A lease on a block range: the fast path when it is open and the range short, else a registered range.</summary>
    private ValueTask<BlockRangeGate.Lease> AcquireRange(ulong lba, ulong blocks, bool exclusive)
    {
        if (!exclusive && TryEnterFastPath(blocks))
            return new ValueTask<BlockRangeGate.Lease>(default(BlockRangeGate.Lease));
        return _gate.EnterAsync(lba, blocks, exclusive);
    }

    /// <summary>As <see cref="CompleteWhenDone"/> for a command on the fast path, which it leaves when the I/O ends.</summary>
    private ValueTask CompleteFastWhenDone(ValueTask<IoStatus> pending, ScsiTask task, ulong lba)
    {
        if (pending.IsCompletedSuccessfully)
        {
            IoStatus status = pending.Result;
            _gate.ExitFast();
            Complete(task, status, lba);
            return default;
        }
        return AwaitFastIo(pending, task, lba);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitFastIo(ValueTask<IoStatus> pending, ScsiTask task, ulong lba)
    {
        IoStatus status;
        try
        {
            status = await pending.ConfigureAwait(false);
        }
        finally
        {
            _gate.ExitFast();
        }
        Complete(task, status, lba);
    }

    /// <summary>Lets an IMMED operation finish after its status was sent; a failure can only be logged.</summary>
    private void ObserveInBackground(ValueTask<IoStatus> pending, string operation)
    {
        if (pending.IsCompletedSuccessfully)
        {
            if (pending.Result != IoStatus.Ok)
                ScsiLog.BackgroundOperationFailed(_log, _vdisk.Name, operation, pending.Result);
            return;
        }
        _ = Observe(pending, operation);

        async Task Observe(ValueTask<IoStatus> p, string what)
        {
            try
            {
                IoStatus s = await p.ConfigureAwait(false);
                if (s != IoStatus.Ok)
                    ScsiLog.BackgroundOperationFailed(_log, _vdisk.Name, what, s);
            }
            catch (Exception e)
            {
                ScsiLog.BackgroundOperationThrew(_log, _vdisk.Name, what, e);
            }
        }
    }

    // ---------------------------------------------------------------- nexus state and unit attentions

    internal sealed class NexusState(ITNexus nexus)
    {
        public readonly ITNexus Nexus = nexus;
        public readonly List<SenseCode> UnitAttentions = new(4);

        /// <summary>PREVENT ALLOW MEDIUM REMOVAL with PREVENT=01b was the last request from this nexus.</summary>
        public volatile bool PreventRemoval;
    }

    internal NexusState? GetNexusState(ITNexus nexus) => _nexusState.TryGetValue(nexus.Id, out var s) ? s : null;

    /// <summary>A new nexus sees POWER ON, RESET, OR BUS DEVICE RESET OCCURRED first (SAM-5 6.3.1).</summary>
    public void AddNexus(ITNexus nexus)
    {
        var state = new NexusState(nexus);
        state.UnitAttentions.Add(SenseCode.PowerOnResetOrBusDeviceReset);
        _nexusState[nexus.Id] = state;
    }

    /// <summary>
    /// The nexus is gone (logout, connection loss). Its unit attentions go with it, and so does its
    /// prevention of medium removal (SBC-3, PREVENT ALLOW MEDIUM REMOVAL: "the prevention ... shall terminate ... upon I_T nexus loss"),
    /// an SPC-2 reservation it held, and the results of its copies.
    /// </summary>
    public void RemoveNexus(ITNexus nexus)
    {
        _nexusState.TryRemove(nexus.Id, out _);
        // SPC-2: an I_T nexus loss releases the RESERVE (6) reservation it held. Persistent reservations stay.
        ReleaseSpc2ReservationOf(nexus);
        ForgetCopyResults(nexus);
    }

    public void EstablishUnitAttention(ITNexus nexus, SenseCode code)
    {
        if (_nexusState.TryGetValue(nexus.Id, out var s))
            Establish(s, code);
    }

    public void EstablishUnitAttentionForAll(SenseCode code, ITNexus? except = null)
    {
        foreach (var s in _nexusState.Values)
            if (except is null || s.Nexus.Id != except.Id)
                Establish(s, code);
    }

    /// <summary>The unit attentions pending for a nexus, oldest first (for diagnostics and tests).</summary>
    public SenseCode[] PendingUnitAttentions(ITNexus nexus)
    {
        if (!_nexusState.TryGetValue(nexus.Id, out var s))
            return [];
        lock (s)
            return s.UnitAttentions.ToArray();
    }

    /// <summary>
    /// Queues a unit attention. A reset-class condition (ASC 29h) goes first and replaces older 29h
    /// conditions, since the reset it reports supersedes them; the others are reported in the order they
    /// arose, each at most once.
    /// </summary>
    private static void Establish(NexusState s, SenseCode code)
    {
        lock (s)
        {
            if (code.Asc == 0x29)
            {
                s.UnitAttentions.RemoveAll(static c => c.Asc == 0x29);
                s.UnitAttentions.Insert(0, code);
                return;
            }
            if (!s.UnitAttentions.Contains(code))
                s.UnitAttentions.Add(code);
        }
    }

    /// <summary>Clears one pending condition for a nexus (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED).</summary>
    public void ClearUnitAttention(ITNexus nexus, SenseCode code)
    {
        if (_nexusState.TryGetValue(nexus.Id, out var s))
            lock (s)
                s.UnitAttentions.Remove(code);
    }

    private bool TryTakeUnitAttention(ITNexus nexus, out SenseCode code)
    {
        if (_nexusState.TryGetValue(nexus.Id, out var s))
        {
            lock (s)
            {
                if (s.UnitAttentions.Count > 0)
                {
                    code = s.UnitAttentions[0];
                    s.UnitAttentions.RemoveAt(0);
                    return true;
                }
            }
        }
        code = default;
        return false;
    }

    /// <summary>
    /// LOGICAL UNIT RESET or TARGET RESET (SAM-5, reset events): mode parameters return to their defaults (nothing is
    /// saved), every prevention of medium removal ends, the unit leaves the stopped power condition, and
    /// every nexus is told with a unit attention.
    /// </summary>
    public void Reset(ITNexus by, SenseCode? reason = null)
    {
        lock (_modeLock)
        {
            _writeCacheEnabled = Options.WriteCacheEnabled;
            _descriptorSense = false;
            _softwareWriteProtect = false;
            _stopped = false;
        }
        foreach (var s in _nexusState.Values)
            s.PreventRemoval = false;
        // SPC-2: a reset releases a RESERVE (6) reservation; SPC-4: persistent reservations are not affected.
        ReleaseSpc2ReservationOnReset();
        EstablishUnitAttentionForAll(reason ?? SenseCode.BusDeviceResetFunctionOccurred);
    }
}
