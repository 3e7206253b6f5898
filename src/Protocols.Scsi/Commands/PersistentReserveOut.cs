using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace StorageAppliance.Protocols.Scsi;

// PERSISTENT RESERVE OUT (SPC-4): byte 1 SERVICE ACTION, byte 2 SCOPE (7:4) | TYPE (3:0), bytes 5..8 PARAMETER LIST LENGTH
//
//   basic parameter list (24 bytes)                     REGISTER AND MOVE parameter list (24 + TransportID)
//   +-------+----------------------------------------+  +-------+------------------------------------------+
//   | 0..7  | RESERVATION KEY                        |  | 0..7  | RESERVATION KEY                          |
//   | 8..15 | SERVICE ACTION RESERVATION KEY         |  | 8..15 | SERVICE ACTION RESERVATION KEY           |
//   | 16..19| obsolete                               |  |  17   | UNREG (bit 1) | APTPL (bit 0)            |
//   |  20   | SPEC_I_PT (3) | ALL_TG_PT (2) | APTPL (0)|  | 18..19| RELATIVE TARGET PORT IDENTIFIER          |
//   | 22..23| obsolete                               |  | 20..23| TRANSPORTID PARAMETER DATA LENGTH        |
//   +-------+----------------------------------------+  | 24..  | TRANSPORTID                              |
//                                                       +-------+------------------------------------------+
//
//   00h REGISTER                          register, change or (SERVICE ACTION RESERVATION KEY zero) remove the key
//   01h RESERVE / 02h RELEASE             take or give up the reservation of TYPE (SCOPE must be LU_SCOPE)
//   03h CLEAR                             remove every registration and the reservation
//   04h PREEMPT / 05h PREEMPT AND ABORT   remove other registrations (and take their reservation); abort their tasks
//   06h REGISTER AND IGNORE EXISTING KEY  REGISTER without checking the RESERVATION KEY
//   07h REGISTER AND MOVE                 the holder gives its reservation to another I_T nexus, registering it
//
// PRGENERATION counts every successful REGISTER, REGISTER AND IGNORE EXISTING KEY, CLEAR, PREEMPT, PREEMPT AND
// ABORT and REGISTER AND MOVE, not RESERVE or RELEASE (SPC-4, READ KEYS service action). APTPL in the last
// REGISTER (AND IGNORE / AND MOVE) decides whether the state is saved through the unit's IReservationStore.
public sealed partial class LogicalUnit
{
    private const int PrOutRegister = 0x00;
    private const int PrOutReserve = 0x01;
    private const int PrOutRelease = 0x02;
    private const int PrOutClear = 0x03;
    private const int PrOutPreempt = 0x04;
    private const int PrOutPreemptAndAbort = 0x05;
    private const int PrOutRegisterAndIgnore = 0x06;
    private const int PrOutRegisterAndMove = 0x07;

    private const int BasicParameterListLength = 24;

    /// <summary>How long PREEMPT AND ABORT waits for the transports to end the preempted tasks before it reports GOOD anyway.</summary>
    private static readonly TimeSpan AbortWaitLimit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Raised by PREEMPT AND ABORT with the nexuses whose tasks at this unit must end; <see cref="ScsiTarget"/>
    /// passes it on to its transport with the unit's LUN.
    /// </summary>
    public event Action<TaskAbortRequest>? AbortTasksRequested;

    /// <summary>The outcome of a service action, decided under the lock and reported after it.</summary>
    private enum PrOutcome : byte
    {
        Good,
        Conflict,
        InvalidRelease,
        InvalidSaKey,
        InvalidTransportId,
        InvalidRelativePort,
        NoResources,
        NotSaved,
    }

    private ValueTask PersistentReserveOut(ScsiTask task)
    {
        var cdb = task.Cdb;
        int serviceAction = cdb[1] & 0x1F;
        uint listLength = task.CdbUInt32(5);
        task.TransferLength = listLength;
        var list = task.DataOut.Span[..(int)Math.Min(listLength, (uint)task.DataOut.Length)];
        if (serviceAction == PrOutRegisterAndMove)
        {
            if (listLength < BasicParameterListLength || list.Length < listLength)
            {
                ParameterListLengthError(task);
                return default;
            }
        }
        else
        {
            // SPEC_I_PT is not supported (SIP_C=0): with it set the list could be longer, but it is refused anyway.
            if (list.Length >= BasicParameterListLength && (list[20] & 0x08) != 0)
            {
                InvalidParameter(task, 20, 3);
                return default;
            }
            // SPC-4: a basic parameter list other than 24 bytes is a PARAMETER LIST LENGTH ERROR.
            if (listLength != BasicParameterListLength || list.Length < BasicParameterListLength)
            {
                ParameterListLengthError(task);
                return default;
            }
        }
        int scope = cdb[2] >> 4;
        int type = cdb[2] & 0x0F;
        if (serviceAction is PrOutReserve or PrOutRelease or PrOutPreempt or PrOutPreemptAndAbort)
        {
            if (scope != 0)
            {
                task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2, 7));
                return default;
            }
            // A RELEASE of another type is an INVALID RELEASE, decided against the reservation; a type no one defines
            // is an invalid field here.
            if (!IsValidType(type) && !(serviceAction == PrOutRelease && type == 0))
            {
                task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2, 3));
                return default;
            }
        }
        // APTPL needs somewhere to keep the state (PTPL_C=0 without a store): SPC-4 makes APTPL=1 then an invalid field.
        bool aptpl = serviceAction == PrOutRegisterAndMove ? (list[17] & 0x01) != 0 : (list[20] & 0x01) != 0;
        if (aptpl && _reservationStore is null && serviceAction is PrOutRegister or PrOutRegisterAndIgnore or PrOutRegisterAndMove)
        {
            InvalidParameter(task, serviceAction == PrOutRegisterAndMove ? 17 : 20, 0);
            return default;
        }
        return ProcessPersistentReserveOut(task, serviceAction, (byte)type);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessPersistentReserveOut(ScsiTask task, int serviceAction, byte type)
    {
        List<ITNexus>? preempted = null;
        PrOutcome outcome;
        await _prOutGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var list = task.DataOut.Span;
            ulong key = BinaryPrimitives.ReadUInt64BigEndian(list);
            ulong saKey = BinaryPrimitives.ReadUInt64BigEndian(list[8..]);
            lock (_prLock)
            {
                var nexus = task.Nexus;
                var registration = FindRegistration(nexus);
                switch (serviceAction)
                {
                    case PrOutRegister:
                    case PrOutRegisterAndIgnore:
                        outcome = Register(nexus, registration, key, saKey, ignoreKey: serviceAction == PrOutRegisterAndIgnore,
                            allTargetPorts: (list[20] & 0x04) != 0, aptpl: (list[20] & 0x01) != 0);
                        break;
                    case PrOutReserve:
                        outcome = Reserve(registration, key, type);
                        break;
                    case PrOutRelease:
                        outcome = Release(nexus, registration, key, type);
                        break;
                    case PrOutClear:
                        outcome = Clear(nexus, registration, key);
                        break;
                    case PrOutPreempt:
                    case PrOutPreemptAndAbort:
                        outcome = Preempt(nexus, registration, key, saKey, type, out preempted);
                        if (serviceAction == PrOutPreempt)
                            preempted = null;
                        break;
                    default:
                        outcome = RegisterAndMove(nexus, registration, key, saKey, list);
                        break;
                }
                UpdateReservationActive();
                if (outcome == PrOutcome.Good)
                    ScsiLog.ReservationChanged(_log, _vdisk.Name, task.Nexus, ServiceActionName(serviceAction), _registrations.Count, _prType, _prGeneration);
            }
            if (outcome == PrOutcome.Good && !PersistIfNeeded())
                outcome = PrOutcome.NotSaved;
        }
        finally
        {
            _prOutGate.Release();
        }

        if (preempted is { Count: > 0 })
            await AbortTasksOf(preempted).ConfigureAwait(false);

        switch (outcome)
        {
            case PrOutcome.Good:
                task.SetGood();
                break;
            case PrOutcome.Conflict:
                task.SetStatus(ScsiStatus.ReservationConflict);
                break;
            case PrOutcome.InvalidRelease:
                task.SetCheckCondition(SenseCode.InvalidReleaseOfPersistentReservation, DescriptorSense);
                break;
            case PrOutcome.InvalidSaKey:
                InvalidParameter(task, 8, 7);
                break;
            case PrOutcome.InvalidTransportId:
                InvalidParameter(task, 24, 7);
                break;
            case PrOutcome.InvalidRelativePort:
                InvalidParameter(task, 18, 7);
                break;
            case PrOutcome.NoResources:
                task.SetCheckCondition(SenseCode.InsufficientRegistrationResources, DescriptorSense);
                break;
            default:
                task.SetCheckCondition(SenseCode.InternalTargetFailure, DescriptorSense);
                break;
        }
    }

    private static string ServiceActionName(int serviceAction) => serviceAction switch
    {
        PrOutRegister => "REGISTER",
        PrOutReserve => "RESERVE",
        PrOutRelease => "RELEASE",
        PrOutClear => "CLEAR",
        PrOutPreempt => "PREEMPT",
        PrOutPreemptAndAbort => "PREEMPT AND ABORT",
        PrOutRegisterAndIgnore => "REGISTER AND IGNORE EXISTING KEY",
        _ => "REGISTER AND MOVE",
    };

    /// <summary>Asks the transports to end the tasks of the preempted nexuses here, and waits (bounded) until they have.</summary>
    private async Task AbortTasksOf(List<ITNexus> nexuses)
    {
        var handlers = AbortTasksRequested;
        if (handlers is null)
            return;
        var request = new TaskAbortRequest(this, nexuses);
        try
        {
            handlers(request);
            await request.WhenAll().WaitAsync(AbortWaitLimit).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A transport that cannot abort, or does not finish in time, does not stop the preemption: it is done.
            ScsiLog.PreemptAbortIncomplete(_log, _vdisk.Name, e.Message);
        }
    }

    // ---------------------------------------------------------------- service actions (under _prLock)

    /// <summary>
    /// REGISTER and REGISTER AND IGNORE EXISTING KEY (SPC-4, table of REGISTER behaviours):
    /// an unregistered nexus registers SERVICE ACTION RESERVATION KEY (zero: nothing happens); a registered one
    /// changes its key, or with zero unregisters, which releases a reservation it held.
    /// </summary>
    private PrOutcome Register(ITNexus nexus, PrRegistration? registration, ulong key, ulong saKey, bool ignoreKey, bool allTargetPorts, bool aptpl)
    {
        if (registration is null)
        {
            // REGISTER from an unregistered nexus with a non-zero RESERVATION KEY is a conflict.
            if (!ignoreKey && key != 0)
                return PrOutcome.Conflict;
            if (saKey == 0)
                return PrOutcome.Good; // nothing to register, nothing changes
            if (_registrations.Count >= MaxRegistrations)
                return PrOutcome.NoResources;
            _registrations.Add(new PrRegistration(saKey, nexus.InitiatorPortName, allTargetPorts ? null : nexus.TargetPortName, nexus.RelativeTargetPortId));
        }
        else
        {
            if (!ignoreKey && key != registration.Key)
                return PrOutcome.Conflict;
            if (saKey == 0)
                Unregister(registration, nexus);
            else
                registration.Key = saKey;
        }
        _aptpl = aptpl;
        _prGeneration++;
        return PrOutcome.Good;
    }

    /// <summary>
    /// Removes a registration. If it held the reservation, the reservation ends: for a registrants only type
    /// the other registrants get RESERVATIONS RELEASED; an all registrants reservation ends with its last registrant.
    /// </summary>
    private void Unregister(PrRegistration registration, ITNexus? by)
    {
        _registrations.Remove(registration);
        if (_prType == 0)
            return;
        if (IsAllRegistrants(_prType))
        {
            if (_registrations.Count == 0)
                _prType = 0;
            return;
        }
        if (!ReferenceEquals(registration, _prHolder))
            return;
        byte type = _prType;
        _prType = 0;
        _prHolder = null;
        if (IsRegistrantsOnly(type))
            EstablishForRegistrants(_registrations, SenseCode.ReservationsReleased, by);
    }

    private PrOutcome Reserve(PrRegistration? registration, ulong key, byte type)
    {
        if (registration is null || key != registration.Key)
            return PrOutcome.Conflict;
        if (_prType != 0)
        {
            // The holder may repeat its RESERVE; anything else conflicts with the existing reservation.
            return IsHolder(registration) && type == _prType ? PrOutcome.Good : PrOutcome.Conflict;
        }
        _prType = type;
        _prHolder = IsAllRegistrants(type) ? null : registration;
        return PrOutcome.Good;
    }

    private PrOutcome Release(ITNexus nexus, PrRegistration? registration, ulong key, byte type)
    {
        if (registration is null || key != registration.Key)
            return PrOutcome.Conflict;
        // No reservation, or one this nexus does not hold: GOOD, nothing changes (SPC-4).
        if (_prType == 0 || !IsHolder(registration))
            return PrOutcome.Good;
        if (type != _prType)
            return PrOutcome.InvalidRelease;
        byte old = _prType;
        _prType = 0;
        _prHolder = null;
        // SPC-4: releasing a registrants only or all registrants reservation tells the other registrants.
        if (IsRegistrantsOnly(old) || IsAllRegistrants(old))
            EstablishForRegistrants(_registrations, SenseCode.ReservationsReleased, nexus);
        return PrOutcome.Good;
    }

    private PrOutcome Clear(ITNexus nexus, PrRegistration? registration, ulong key)
    {
        if (registration is null || key != registration.Key)
            return PrOutcome.Conflict;
        EstablishForRegistrants(_registrations, SenseCode.ReservationsPreempted, nexus);
        _registrations.Clear();
        _prType = 0;
        _prHolder = null;
        _prGeneration++;
        return PrOutcome.Good;
    }

    /// <summary>
    /// PREEMPT and PREEMPT AND ABORT (SPC-4, preempting): with no reservation, or a SERVICE ACTION RESERVATION KEY
    /// that is not the holder's (a non-zero one for an all registrants reservation), the registrations with that
    /// key are removed. Otherwise the reservation is taken as well: the holder's registrations (all the others
    /// for an all registrants reservation with key zero) are removed and the preempting nexus holds a new
    /// reservation of TYPE. The removed nexuses get REGISTRATIONS PREEMPTED; if the reservation changed type,
    /// the remaining registrants get RESERVATIONS RELEASED.
    /// </summary>
    private PrOutcome Preempt(ITNexus nexus, PrRegistration? registration, ulong key, ulong saKey, byte type, out List<ITNexus>? preempted)
    {
        preempted = null;
        if (registration is null || key != registration.Key)
            return PrOutcome.Conflict;
        bool takesReservation = _prType != 0 && (IsAllRegistrants(_prType) ? saKey == 0 : saKey == _prHolder!.Key);
        var removed = new List<PrRegistration>();
        if (!takesReservation)
        {
            if (saKey == 0)
                return PrOutcome.InvalidSaKey;
            foreach (var r in _registrations)
                if (r.Key == saKey && !ReferenceEquals(r, registration))
                    removed.Add(r);
            if (removed.Count == 0)
                return PrOutcome.Conflict;
        }
        else
        {
            foreach (var r in _registrations)
                if (!ReferenceEquals(r, registration) && (saKey == 0 || r.Key == saKey))
                    removed.Add(r);
        }

        preempted = new List<ITNexus>();
        foreach (var r in removed)
        {
            preempted.AddRange(NexusesOf(r));
            _registrations.Remove(r);
        }
        EstablishForRegistrants(removed, SenseCode.RegistrationsPreempted, nexus);
        if (takesReservation)
        {
            bool changed = type != _prType;
            _prType = type;
            _prHolder = IsAllRegistrants(type) ? null : registration;
            if (changed)
                EstablishForRegistrants(_registrations, SenseCode.ReservationsReleased, nexus);
        }
        else if (_prType != 0 && IsAllRegistrants(_prType) && _registrations.Count == 0)
        {
            _prType = 0;
        }
        _prGeneration++;
        return PrOutcome.Good;
    }

    /// <summary>
    /// REGISTER AND MOVE: the holder of a (not all registrants) reservation registers another I_T nexus, named
    /// by a TransportID and a RELATIVE TARGET PORT IDENTIFIER, with SERVICE ACTION RESERVATION KEY and makes it the
    /// holder; with UNREG=1 it unregisters itself.
    /// </summary>
    private PrOutcome RegisterAndMove(ITNexus nexus, PrRegistration? registration, ulong key, ulong saKey, ReadOnlySpan<byte> list)
    {
        if (registration is null || key != registration.Key)
            return PrOutcome.Conflict;
        if (_prType == 0 || IsAllRegistrants(_prType) || !ReferenceEquals(registration, _prHolder))
            return PrOutcome.Conflict;
        if (saKey == 0)
            return PrOutcome.InvalidSaKey;
        bool unregister = (list[17] & 0x02) != 0;
        bool aptpl = (list[17] & 0x01) != 0;
        ushort relativePort = BinaryPrimitives.ReadUInt16BigEndian(list[18..]);
        uint idLength = BinaryPrimitives.ReadUInt32BigEndian(list[20..]);
        if (idLength < 24 || 24 + idLength > (uint)list.Length
            || !TryReadTransportId(list.Slice(24, (int)idLength), out string name, out string? port, out _))
            return PrOutcome.InvalidTransportId;
        string? targetPort = relativePort == nexus.RelativeTargetPortId ? nexus.TargetPortName : null;
        foreach (var s in _nexusState.Values)
        {
            var n = s.Nexus;
            if (targetPort is null && n.RelativeTargetPortId == relativePort)
                targetPort = n.TargetPortName;
            // Format 00b names an initiator device: it is moved to its one port this unit knows.
            if (port is null && string.Equals(n.InitiatorName, name, StringComparison.OrdinalIgnoreCase))
                port = n.InitiatorPortName;
        }
        if (targetPort is null)
            return PrOutcome.InvalidRelativePort;
        if (port is null)
            return PrOutcome.InvalidTransportId;
        // Moving to the nexus that sent the command is an invalid field (SPC-4).
        if (string.Equals(port, nexus.InitiatorPortName, StringComparison.OrdinalIgnoreCase)
            && string.Equals(targetPort, nexus.TargetPortName, StringComparison.OrdinalIgnoreCase))
            return PrOutcome.InvalidTransportId;
        var destination = FindRegistration(port, targetPort);
        if (destination is null)
        {
            if (_registrations.Count >= MaxRegistrations)
                return PrOutcome.NoResources;
            destination = new PrRegistration(saKey, port, targetPort, relativePort);
            _registrations.Add(destination);
        }
        else
        {
            destination.Key = saKey;
        }
        _prHolder = destination;
        if (unregister)
            _registrations.Remove(registration);
        _aptpl = aptpl;
        _prGeneration++;
        return PrOutcome.Good;
    }
}
