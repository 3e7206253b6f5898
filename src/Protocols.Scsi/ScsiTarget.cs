using System.Buffers.Binary;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// A SCSI target device (SAM-5 4.6): its logical units by LUN, and the commands that address the
/// target rather than one unit (REPORT LUNS, and anything sent to a LUN that does not exist).
/// Transports call <see cref="ExecuteAsync"/> for every command and tell it about nexuses and resets.
/// </summary>
public sealed class ScsiTarget
{
    private readonly ConcurrentDictionary<ulong, LogicalUnit> _units = new();
    private readonly ConcurrentDictionary<long, ITNexus> _nexuses = new();
    private readonly ILogger _log;

    public ScsiTarget(string name, ILogger log, LogicalUnitRegistry? registry = null)
    {
        Name = name;
        _log = log;
        Registry = registry ?? LogicalUnitRegistry.Default;
    }

    /// <summary>Where this target's units are found by NAA designator (EXTENDED COPY across targets).</summary>
    public LogicalUnitRegistry Registry { get; }

    /// <summary>
    /// A unit asks for tasks of some I_T nexuses to be aborted (PREEMPT AND ABORT); the request carries this
    /// target's LUN for the unit. The transport aborts the tasks it holds and tracks what it must wait for.
    /// </summary>
    public event Action<TaskAbortRequest>? AbortTasksRequested;

    public string Name { get; }

    public IEnumerable<KeyValuePair<ulong, LogicalUnit>> LogicalUnits => _units;

    public IEnumerable<ITNexus> Nexuses => _nexuses.Values;

    public LogicalUnit? GetLogicalUnit(ulong lun) => _units.TryGetValue(lun, out var lu) ? lu : null;

    /// <summary>Adds a logical unit; every existing nexus gets REPORTED LUNS DATA HAS CHANGED.</summary>
    public void AddLogicalUnit(ulong lun, LogicalUnit unit)
    {
        bool exportedAlready = false;
        foreach (var existing in _units.Values)
            exportedAlready |= ReferenceEquals(existing, unit);
        if (!_units.TryAdd(lun, unit))
            throw new InvalidOperationException($"LUN {lun} already exists on {Name}");
        Registry.Add(unit);
        if (!exportedAlready)
            unit.AbortTasksRequested += OnAbortTasksRequested; // once per unit: the handler visits every LUN of it
        foreach (var nexus in _nexuses.Values)
        {
            unit.AddNexus(nexus);
            foreach (var other in _units)
                if (other.Key != lun)
                    other.Value.EstablishUnitAttention(nexus, SenseCode.ReportedLunsDataHasChanged);
        }
    }

    private void OnAbortTasksRequested(TaskAbortRequest request)
    {
        var handlers = AbortTasksRequested;
        if (handlers is null)
            return;
        foreach (var (lun, unit) in _units)
            if (ReferenceEquals(unit, request.Unit))
                handlers(request.ForLun(lun));
    }

    /// <summary>
    /// Removes a logical unit (its vDisk is being deleted); every nexus gets REPORTED LUNS DATA HAS CHANGED
    /// from the units that remain. Commands already sent to it get LOGICAL UNIT NOT SUPPORTED from now on.
    /// </summary>
    public bool RemoveLogicalUnit(ulong lun)
    {
        if (!_units.TryRemove(lun, out _))
            return false;
        foreach (var nexus in _nexuses.Values)
            foreach (var other in _units.Values)
                other.EstablishUnitAttention(nexus, SenseCode.ReportedLunsDataHasChanged);
        return true;
    }

    /// <summary>A new I_T nexus (an iSCSI session reached full feature phase).</summary>
    public void AddNexus(ITNexus nexus)
    {
        if (_nexuses.TryAdd(nexus.Id, nexus))
            foreach (var lu in _units.Values)
                lu.AddNexus(nexus);
    }

    /// <summary>The nexus is gone (logout, connection loss, session reinstatement).</summary>
    public void RemoveNexus(ITNexus nexus)
    {
        if (_nexuses.TryRemove(nexus.Id, out _))
            foreach (var lu in _units.Values)
                lu.RemoveNexus(nexus);
    }

    /// <summary>Executes one command. Completes with the outcome in the task; never throws for bad input.</summary>
    public ValueTask ExecuteAsync(ScsiTask task)
    {
        // REPORT LUNS addresses the target whatever LUN carries it (SPC-4 6.33, SAM-5 4.6.2).
        if (task.OperationCode == ScsiOpcode.ReportLuns)
        {
            ReportLuns(task);
            return default;
        }
        if (_units.TryGetValue(task.Lun, out var lu))
            return lu.ExecuteAsync(task);
        ExecuteForMissingUnit(task);
        return default;
    }

    /// <summary>LOGICAL UNIT RESET (SAM-5 7.7) of one unit; the transport has already aborted its tasks.</summary>
    public bool ResetLogicalUnit(ulong lun, ITNexus by)
    {
        if (!_units.TryGetValue(lun, out var lu))
            return false;
        lu.Reset(by);
        return true;
    }

    /// <summary>TARGET (WARM/COLD) RESET: every unit resets (SAM-5 6.3.4); a cold reset is reported as power on.</summary>
    public void ResetTarget(ITNexus by, bool cold)
    {
        foreach (var lu in _units.Values)
            lu.Reset(by, cold ? SenseCode.PowerOnOccurred : SenseCode.PowerOnResetOrBusDeviceReset);
    }

    private void ExecuteForMissingUnit(ScsiTask task)
    {
        switch (task.OperationCode)
        {
            case ScsiOpcode.ReportLuns:
                ReportLuns(task);
                return;
            case ScsiOpcode.Inquiry:
                // SPC-4 6.6.2: for a LUN that is not there, peripheral qualifier 011b, device type 1Fh.
                if ((task.CdbBuffer[1] & 0x01) != 0)
                {
                    task.SetCheckCondition(SenseCode.LogicalUnitNotSupported);
                    return;
                }
                uint alloc = task.CdbUInt16(3);
                var data = task.AllocateDataIn(36);
                data[0] = 0x7F;
                data[2] = 0x06;
                data[3] = 0x02;
                data[4] = 31;
                task.CompleteDataIn(alloc);
                task.SetGood();
                return;
            case ScsiOpcode.RequestSense:
                {
                    // SPC-4 6.39: for a LUN that is not there, sense data with LOGICAL UNIT NOT SUPPORTED, as data.
                    bool descriptor = (task.CdbBuffer[1] & 0x01) != 0;
                    Span<byte> sense = stackalloc byte[ScsiTask.MaxSenseLength];
                    int len = SenseData.Write(sense, SenseCode.LogicalUnitNotSupported, descriptor);
                    sense[..len].CopyTo(task.AllocateDataIn(len));
                    task.CompleteDataIn(task.CdbBuffer[4]);
                    task.SetGood();
                    return;
                }
            default:
                task.SetCheckCondition(SenseCode.LogicalUnitNotSupported);
                return;
        }
    }

    /// <summary>REPORT LUNS is a 12-byte CDB (SPC-4 6.33, table 284).</summary>
    private const int ReportLunsCdbLength = 12;

    /// <summary>REPORT LUNS (SPC-4 6.33), answered by the target for any LUN, existing or not.</summary>
    private void ReportLuns(ScsiTask task)
    {
        var cdb = task.Cdb;
        // Answered before any unit's CDB checks, so the length is checked here: a CDB shorter than the
        // command's 12 bytes is INVALID FIELD IN CDB (as CheckCdb answers for the unit's commands), not a read past its end.
        if (cdb.Length < ReportLunsCdbLength)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, false, null, SenseKeySpecific.CdbField(0, 7));
            return;
        }
        byte selectReport = cdb[2];
        uint alloc = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        if (selectReport is not (0x00 or 0x01 or 0x02))
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, false, null, SenseKeySpecific.CdbField(2));
            return;
        }
        if (alloc < 16)
        {
            // SPC-4: an allocation length under 16 is an error.
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, false, null, SenseKeySpecific.CdbField(6));
            return;
        }
        var luns = new List<ulong>(_units.Keys);
        luns.Sort();
        if (selectReport == 0x01)
            luns.Clear(); // well-known LUNs only: we have none
        int length = 8 + 8 * luns.Count;
        var data = task.AllocateDataIn(length);
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(8 * luns.Count));
        for (int i = 0; i < luns.Count; i++)
            LunEncoding.Write(data.Slice(8 + 8 * i, 8), luns[i]);
        task.CompleteDataIn(alloc);
        task.SetGood();
        // SPC-4 6.33: a REPORT LUNS that completes clears the REPORTED LUNS DATA HAS CHANGED unit attention of
        // its I_T nexus (it has just read the new inventory).
        foreach (var unit in _units.Values)
            unit.ClearUnitAttention(task.Nexus, SenseCode.ReportedLunsDataHasChanged);
    }
}

/// <summary>Encodes LUNs as SAM-5 4.7: peripheral device addressing below 256, flat space addressing up to 16383.</summary>
public static class LunEncoding
{
    public static void Write(Span<byte> destination, ulong lun)
    {
        destination[..8].Clear();
        if (lun < 256)
        {
            destination[1] = (byte)lun;
        }
        else
        {
            destination[0] = (byte)(0x40 | ((lun >> 8) & 0x3F));
            destination[1] = (byte)lun;
        }
    }

    public static ulong Read(ReadOnlySpan<byte> source)
    {
        int method = source[0] >> 6;
        return method switch
        {
            0 => source[1], // peripheral device addressing (bus 0)
            1 => (ulong)(((source[0] & 0x3F) << 8) | source[1]), // flat space
            _ => ulong.MaxValue, // extended / logical unit addressing: not a LUN we serve
        };
    }
}
