using System.Buffers.Binary;
using System.Text;

namespace StorageAppliance.Protocols.Scsi;

// Reservations of one logical unit: SPC-4 persistent reservations (registrations, one reservation of a type,
// APTPL) and SPC-2 reservations (RESERVE(6) / RELEASE(6)), and the check every command goes through.
//
// Persistent reservation types (SPC-4, table of persistent reservation type codes):
//   1h Write Exclusive (WE)          3h Exclusive Access (EA)
//   5h WE - Registrants Only         6h EA - Registrants Only
//   7h WE - All Registrants          8h EA - All Registrants (every registrant is a holder)
//
// Who may do what while a persistent reservation exists (SPC-4 and SBC-3 tables of commands allowed in the
// presence of various reservations), for an I_T nexus that does not hold it:
//
//   command class            WE        EA        WE-RO / WE-AR          EA-RO / EA-AR
//                                                registered | not       registered | not
//   allowed (INQUIRY ...)    Allowed   Allowed   Allowed    | Allowed   Allowed    | Allowed
//   read (READ, VERIFY ...)  Allowed   Conflict  Allowed    | Allowed   Allowed    | Conflict
//   write (WRITE, UNMAP ...) Conflict  Conflict  Allowed    | Conflict  Allowed    | Conflict
//
// START STOP UNIT with START=1 and POWER CONDITION 0h, and PREVENT ALLOW MEDIUM REMOVAL with PREVENT=0, are
// in the allowed class; with other values they are writes. PERSISTENT RESERVE IN/OUT are allowed here: each
// PERSISTENT RESERVE OUT service action checks the registration itself.
//
// Registrations belong to an I_T nexus named by its initiator port and target port (for iSCSI the
// "name,i,0xISID" and "name,t,0xTPGT" strings), not to a session: they survive a logout, a reconnection, a
// LUN or target reset, and with APTPL a restart. A registration made with ALL_TG_PT=1 names the initiator
// port only and covers it through every target port.
public sealed partial class LogicalUnit
{
    internal const byte PrWriteExclusive = 0x1;
    internal const byte PrExclusiveAccess = 0x3;
    internal const byte PrWriteExclusiveRegistrantsOnly = 0x5;
    internal const byte PrExclusiveAccessRegistrantsOnly = 0x6;
    internal const byte PrWriteExclusiveAllRegistrants = 0x7;
    internal const byte PrExclusiveAccessAllRegistrants = 0x8;

    /// <summary>Registrations one unit keeps; one more is refused with INSUFFICIENT REGISTRATION RESOURCES.</summary>
    internal const int MaxRegistrations = 256;

    /// <summary>Guards the reservation state below. The command check takes it only while a reservation exists.</summary>
    private readonly Lock _prLock = new();

    /// <summary>Runs PERSISTENT RESERVE OUT commands one at a time, each until its state is saved.</summary>
    private readonly SemaphoreSlim _prOutGate = new(1, 1);

    private readonly List<PrRegistration> _registrations = new();
    private PrRegistration? _prHolder;
    private byte _prType;
    private uint _prGeneration;
    private bool _aptpl;
    private bool _persisted;
    private long _spc2Holder;
    private IReservationStore? _reservationStore;

    /// <summary>A persistent or SPC-2 reservation exists: commands must be checked. Read without the lock on every command.</summary>
    private volatile bool _reservationActive;

    /// <summary>One registration: a reservation key for an I_T nexus (or, with ALL_TG_PT, an initiator port through every target port).</summary>
    internal sealed class PrRegistration(ulong key, string initiatorPort, string? targetPort, ushort relativeTargetPort)
    {
        public ulong Key = key;
        public readonly string InitiatorPort = initiatorPort;

        /// <summary>Null for a registration made with ALL_TG_PT=1.</summary>
        public readonly string? TargetPort = targetPort;

        public readonly ushort RelativeTargetPort = relativeTargetPort;

        public bool AllTargetPorts => TargetPort is null;

        public bool Matches(ITNexus nexus) => Matches(nexus.InitiatorPortName, nexus.TargetPortName);

        public bool Matches(string initiatorPort, string targetPort) =>
            string.Equals(InitiatorPort, initiatorPort, StringComparison.OrdinalIgnoreCase)
            && (TargetPort is null || string.Equals(TargetPort, targetPort, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Whether the type makes every registrant a holder.</summary>
    internal static bool IsAllRegistrants(byte type) => type is PrWriteExclusiveAllRegistrants or PrExclusiveAccessAllRegistrants;

    internal static bool IsRegistrantsOnly(byte type) => type is PrWriteExclusiveRegistrantsOnly or PrExclusiveAccessRegistrantsOnly;

    internal static bool IsValidType(int type) => type is PrWriteExclusive or PrExclusiveAccess
        or PrWriteExclusiveRegistrantsOnly or PrExclusiveAccessRegistrantsOnly
        or PrWriteExclusiveAllRegistrants or PrExclusiveAccessAllRegistrants;

    /// <summary>The key under which <see cref="ReservationStore"/> keeps this unit: its NAA designator in hex.</summary>
    public string UnitKey => Convert.ToHexStringLower(Options.NaaDesignator);

    /// <summary>The store APTPL reservations are saved to (<see cref="UseReservationStore"/> sets it).</summary>
    public IReservationStore? ReservationStore => _reservationStore;

    /// <summary>
    /// Uses <paramref name="store"/> for reservations that must survive power loss, and takes back what it
    /// holds for this unit (registrations and reservation saved with APTPL=1). Call before the unit serves commands.
    /// </summary>
    public void UseReservationStore(IReservationStore store)
    {
        _reservationStore = store;
        byte[]? state = store.Load(UnitKey);
        if (state is null || state.Length == 0)
            return;
        lock (_prLock)
        {
            if (!TryRestore(state))
                ScsiLog.ReservationStateUnreadable(_log, _vdisk.Name, state.Length);
            _persisted = _aptpl;
            UpdateReservationActive();
        }
    }

    // ---------------------------------------------------------------- lookups (under _prLock)

    /// <summary>The registration of a nexus: its own, else one its initiator port made with ALL_TG_PT.</summary>
    private PrRegistration? FindRegistration(ITNexus nexus) => FindRegistration(nexus.InitiatorPortName, nexus.TargetPortName);

    private PrRegistration? FindRegistration(string initiatorPort, string targetPort)
    {
        PrRegistration? all = null;
        foreach (var r in _registrations)
        {
            if (!r.Matches(initiatorPort, targetPort))
                continue;
            if (!r.AllTargetPorts)
                return r;
            all ??= r;
        }
        return all;
    }

    private bool IsHolder(PrRegistration? registration) =>
        registration is not null && _prType != 0 && (IsAllRegistrants(_prType) || ReferenceEquals(registration, _prHolder));

    private void UpdateReservationActive() => _reservationActive = _prType != 0 || _spc2Holder != 0;

    /// <summary>The nexuses (known to this unit now) that a registration covers.</summary>
    private List<ITNexus> NexusesOf(PrRegistration registration)
    {
        var list = new List<ITNexus>();
        foreach (var s in _nexusState.Values)
            if (registration.Matches(s.Nexus))
                list.Add(s.Nexus);
        return list;
    }

    /// <summary>Establishes a unit attention for every nexus of every registration, except <paramref name="except"/>.</summary>
    private void EstablishForRegistrants(IEnumerable<PrRegistration> registrations, SenseCode code, ITNexus? except)
    {
        foreach (var s in _nexusState.Values)
        {
            if (except is not null && s.Nexus.Id == except.Id)
                continue;
            foreach (var r in registrations)
            {
                if (r.Matches(s.Nexus))
                {
                    Establish(s, code);
                    break;
                }
            }
        }
    }

    // ---------------------------------------------------------------- the check every command goes through

    /// <summary>
    /// True when the command must end with RESERVATION CONFLICT. Costs one volatile read while the unit holds
    /// no reservation.
    /// </summary>
    private bool ReservationConflict(ScsiTask task, in CommandInfo command)
    {
        if (!_reservationActive)
            return false;
        byte op = task.OperationCode;
        if (op is ScsiOpcode.Reserve6 or ScsiOpcode.Release6)
            return false; // they apply the SPC-2 and CRH rules themselves
        lock (_prLock)
        {
            var nexus = task.Nexus;
            if (_spc2Holder != 0)
                return _spc2Holder != nexus.Id && !AllowedUnderSpc2Reservation(task);
            if (_prType == 0)
                return false;
            var registration = FindRegistration(nexus);
            if (IsHolder(registration))
                return false;
            var access = AccessClass(task, in command);
            if (access == Access.Allowed)
                return false;
            return _prType switch
            {
                PrWriteExclusive => access == Access.Write,
                PrExclusiveAccess => true,
                PrWriteExclusiveRegistrantsOnly or PrWriteExclusiveAllRegistrants => registration is null && access == Access.Write,
                _ => registration is null, // EA - RO, EA - AR
            };
        }
    }

    private enum Access : byte
    {
        Allowed,
        Read,
        Write,
    }

    private static Access AccessClass(ScsiTask task, in CommandInfo command)
    {
        var flags = command.Flags;
        if ((flags & CommandFlags.ReservationWrite) != 0)
            return Access.Write;
        if ((flags & CommandFlags.ReservationRead) != 0)
            return Access.Read;
        if ((flags & CommandFlags.ReservationByField) != 0)
        {
            var cdb = task.CdbBuffer;
            bool allowed = task.OperationCode == ScsiOpcode.StartStopUnit
                ? (cdb[4] & 0x01) != 0 && (cdb[4] >> 4) == 0 // START=1, POWER CONDITION 0h
                : (cdb[4] & 0x03) == 0; // PREVENT=00b
            return allowed ? Access.Allowed : Access.Write;
        }
        return Access.Allowed;
    }

    /// <summary>
    /// SPC-2: while another I_T nexus holds a RESERVE(6) reservation, everything conflicts but INQUIRY, REQUEST
    /// SENSE, REPORT LUNS (answered by the target), READ CAPACITY, REPORT TARGET PORT GROUPS, PREVENT ALLOW
    /// MEDIUM REMOVAL with PREVENT=0 and RELEASE (which then does nothing).
    /// </summary>
    private static bool AllowedUnderSpc2Reservation(ScsiTask task)
    {
        var cdb = task.CdbBuffer;
        return task.OperationCode switch
        {
            ScsiOpcode.Inquiry or ScsiOpcode.RequestSense or ScsiOpcode.ReportLuns or ScsiOpcode.ReadCapacity10 => true,
            ScsiOpcode.ServiceActionIn16 => (cdb[1] & 0x1F) == ScsiOpcode.SaReadCapacity16,
            ScsiOpcode.MaintenanceIn => (cdb[1] & 0x1F) == ScsiOpcode.SaReportTargetPortGroups,
            ScsiOpcode.PreventAllowMediumRemoval => (cdb[4] & 0x03) == 0,
            _ => false,
        };
    }

    /// <summary>The nexus is gone: an SPC-2 reservation it held is released (SPC-2: released on I_T nexus loss).</summary>
    private void ReleaseSpc2ReservationOf(ITNexus nexus)
    {
        lock (_prLock)
        {
            if (_spc2Holder == nexus.Id)
            {
                _spc2Holder = 0;
                UpdateReservationActive();
            }
        }
    }

    /// <summary>A LUN or target reset releases the SPC-2 reservation; persistent reservations are unaffected (SPC-4).</summary>
    private void ReleaseSpc2ReservationOnReset()
    {
        lock (_prLock)
        {
            _spc2Holder = 0;
            UpdateReservationActive();
        }
    }

    // ---------------------------------------------------------------- persistence (APTPL)

    private static ReadOnlySpan<byte> StateMagic => "SAPR"u8;

    private const byte StateVersion = 1;

    /// <summary>
    /// Saves the state when APTPL asks for it, or an empty blob when APTPL was just turned off. Called under
    /// <see cref="_prOutGate"/> (one PERSISTENT RESERVE OUT at a time) before the command's status; false when the store failed.
    /// </summary>
    private bool PersistIfNeeded()
    {
        var store = _reservationStore;
        if (store is null)
            return true;
        byte[] state;
        lock (_prLock)
        {
            if (!_aptpl && !_persisted)
                return true;
            state = _aptpl && (_registrations.Count > 0) ? SerializeState() : [];
            _persisted = _aptpl;
        }
        try
        {
            store.Save(UnitKey, state);
            return true;
        }
        catch (Exception e)
        {
            // The change stands in memory but could be lost by a restart: the initiator is told it failed.
            ScsiLog.ReservationStateNotSaved(_log, _vdisk.Name, e);
            return false;
        }
    }

    /// <summary>
    /// The state as bytes: "SAPR", version, generation (4), APTPL, type, holder index (2, FFFFh none), count (2),
    /// then per registration: key (8), relative target port (2), initiator port and target port (2-byte length + UTF-8; length 0 for ALL_TG_PT).
    /// </summary>
    internal byte[] SerializeState()
    {
        var buffer = new List<byte>(64 + 96 * _registrations.Count);
        Span<byte> scratch = stackalloc byte[8];
        buffer.AddRange(StateMagic);
        buffer.Add(StateVersion);
        BinaryPrimitives.WriteUInt32BigEndian(scratch, _prGeneration);
        buffer.AddRange(scratch[..4]);
        buffer.Add((byte)(_aptpl ? 1 : 0));
        buffer.Add(_prType);
        int holder = _prHolder is null ? 0xFFFF : _registrations.IndexOf(_prHolder);
        BinaryPrimitives.WriteUInt16BigEndian(scratch, (ushort)holder);
        buffer.AddRange(scratch[..2]);
        BinaryPrimitives.WriteUInt16BigEndian(scratch, (ushort)_registrations.Count);
        buffer.AddRange(scratch[..2]);
        foreach (var r in _registrations)
        {
            BinaryPrimitives.WriteUInt64BigEndian(scratch, r.Key);
            buffer.AddRange(scratch);
            BinaryPrimitives.WriteUInt16BigEndian(scratch, r.RelativeTargetPort);
            buffer.AddRange(scratch[..2]);
            AddString(buffer, r.InitiatorPort);
            AddString(buffer, r.TargetPort ?? "");
        }
        return buffer.ToArray();

        static void AddString(List<byte> b, string s)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            b.Add((byte)(bytes.Length >> 8));
            b.Add((byte)bytes.Length);
            b.AddRange(bytes);
        }
    }

    /// <summary>Restores a state <see cref="SerializeState"/> wrote; false (and nothing changed) if it is not one.</summary>
    private bool TryRestore(ReadOnlySpan<byte> s)
    {
        if (s.Length < 15 || !s[..4].SequenceEqual(StateMagic) || s[4] != StateVersion)
            return false;
        uint generation = BinaryPrimitives.ReadUInt32BigEndian(s[5..]);
        bool aptpl = s[9] != 0;
        byte type = s[10];
        int holder = BinaryPrimitives.ReadUInt16BigEndian(s[11..]);
        int count = BinaryPrimitives.ReadUInt16BigEndian(s[13..]);
        if (type != 0 && !IsValidType(type))
            return false;
        var list = new List<PrRegistration>(count);
        int pos = 15;
        for (int i = 0; i < count; i++)
        {
            if (pos + 10 > s.Length)
                return false;
            ulong key = BinaryPrimitives.ReadUInt64BigEndian(s[pos..]);
            ushort rel = BinaryPrimitives.ReadUInt16BigEndian(s[(pos + 8)..]);
            pos += 10;
            if (!ReadString(s, ref pos, out string initiator) || !ReadString(s, ref pos, out string target) || initiator.Length == 0)
                return false;
            list.Add(new PrRegistration(key, initiator, target.Length == 0 ? null : target, rel));
        }
        if (type != 0 && !IsAllRegistrants(type) && holder >= list.Count)
            return false;
        _registrations.Clear();
        _registrations.AddRange(list);
        _prGeneration = generation;
        _aptpl = aptpl;
        _prType = list.Count == 0 ? (byte)0 : type;
        _prHolder = _prType != 0 && !IsAllRegistrants(type) ? list[holder] : null;
        return true;

        static bool ReadString(ReadOnlySpan<byte> s, ref int pos, out string value)
        {
            value = "";
            if (pos + 2 > s.Length)
                return false;
            int length = BinaryPrimitives.ReadUInt16BigEndian(s[pos..]);
            pos += 2;
            if (pos + length > s.Length)
                return false;
            value = Encoding.UTF8.GetString(s.Slice(pos, length));
            pos += length;
            return true;
        }
    }
}
