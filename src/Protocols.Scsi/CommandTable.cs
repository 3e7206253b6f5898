namespace StorageAppliance.Protocols.Scsi;

/// <summary>What the dispatcher needs to know about a command beyond its CDB layout.</summary>
[Flags]
internal enum CommandFlags : byte
{
    None = 0,

    /// <summary>Accesses the medium: refused in the stopped power condition (SBC-3, power conditions).</summary>
    MediumAccess = 1,

    /// <summary>Offered only when logical block provisioning management is on (SBC-3, logical block provisioning).</summary>
    NeedsThinProvisioning = 2,

    /// <summary>
    /// Reads (or reports) without changing anything: allowed through a Write Exclusive persistent reservation
    /// to I_T nexuses that do not hold it (SPC-4 and SBC-3 tables of commands allowed in the presence of
    /// persistent reservations; REPORT CAPABILITIES reports ALLOW COMMANDS 011b for the optional ones).
    /// </summary>
    ReservationRead = 4,

    /// <summary>Changes the medium or the unit's state: a conflict for non-holders of a Write Exclusive or Exclusive Access reservation.</summary>
    ReservationWrite = 8,

    /// <summary>START STOP UNIT and PREVENT ALLOW MEDIUM REMOVAL: allowed or a write, depending on CDB fields.</summary>
    ReservationByField = 16,
}

/// <summary>
/// One implemented command: its CDB usage map (SPC-4 6.35, CDB usage data), which is both what REPORT
/// SUPPORTED OPERATION CODES returns and the mask of CDB bits an initiator may set.
/// </summary>
/// <remarks>
/// Byte 0 of <see cref="Usage"/> is the operation code and, for commands with service actions, byte 1
/// holds the service action value (SPC-4: "the byte containing the service action shall contain the
/// service action"). A bit set to one marks a bit the device server evaluates; every other bit of the
/// CDB is reserved here, and a one in it ends the command with INVALID FIELD IN CDB and a field
/// pointer to it. The last byte is the CONTROL byte (SAM-5): its usage bits cover NACA and the
/// obsolete FLAG and LINK bits, which are evaluated only to be refused.
/// </remarks>
internal readonly struct CommandInfo
{
    public CommandInfo(string name, byte[] usage, CommandFlags flags = CommandFlags.None, bool hasServiceAction = false, uint recommendedTimeoutSeconds = 30)
    {
        Name = name;
        Usage = usage;
        Flags = flags;
        HasServiceAction = hasServiceAction;
        RecommendedTimeoutSeconds = recommendedTimeoutSeconds;
    }

    public string Name { get; }

    public byte[] Usage { get; }

    public CommandFlags Flags { get; }

    public bool HasServiceAction { get; }

    /// <summary>For the command timeouts descriptor (SPC-4 6.35, command timeouts descriptor).</summary>
    public uint RecommendedTimeoutSeconds { get; }

    public byte Opcode => Usage[0];

    public ushort ServiceAction => HasServiceAction ? (ushort)(Usage[1] & 0x1F) : (ushort)0;

    public int CdbLength => Usage.Length;
}

/// <summary>The commands a direct-access logical unit implements (SPC-4, SBC-3), in operation code order.</summary>
internal static class CommandTable
{
    // CONTROL byte (SAM-5, CONTROL byte): vendor specific bits 7:6 are ignored; NACA (bit 2) and the obsolete
    // FLAG/LINK bits are evaluated and refused, as are the reserved bits 5:3.
    private const byte ControlUsage = 0x07;
    private const byte ControlAllowed = 0xC0;

    private const CommandFlags Read = CommandFlags.MediumAccess | CommandFlags.ReservationRead;
    private const CommandFlags Write = CommandFlags.MediumAccess | CommandFlags.ReservationWrite;
    private const CommandFlags Thin = CommandFlags.NeedsThinProvisioning;

    public static readonly CommandInfo[] Commands =
    [
        new("TEST UNIT READY", [0x00, 0x00, 0x00, 0x00, 0x00, ControlUsage]),
        // DESC
        new("REQUEST SENSE", [0x03, 0x01, 0x00, 0x00, 0xFF, ControlUsage]),
        // LBA (21 bits), TRANSFER LENGTH
        new("READ (6)", [0x08, 0x1F, 0xFF, 0xFF, 0xFF, ControlUsage], Read),
        new("WRITE (6)", [0x0A, 0x1F, 0xFF, 0xFF, 0xFF, ControlUsage], Write),
        // EVPD, PAGE CODE, ALLOCATION LENGTH
        new("INQUIRY", [0x12, 0x01, 0xFF, 0xFF, 0xFF, ControlUsage]),
        // PF, SP, PARAMETER LIST LENGTH
        new("MODE SELECT (6)", [0x15, 0x11, 0x00, 0x00, 0xFF, ControlUsage], CommandFlags.ReservationWrite),
        // SPC-2 reservations: every bit but the opcode is obsolete or reserved here (no third-party or extent reservations)
        new("RESERVE (6)", [0x16, 0x00, 0x00, 0x00, 0x00, ControlUsage]),
        new("RELEASE (6)", [0x17, 0x00, 0x00, 0x00, 0x00, ControlUsage]),
        // DBD, PC + PAGE CODE, SUBPAGE CODE, ALLOCATION LENGTH
        new("MODE SENSE (6)", [0x1A, 0x08, 0xFF, 0xFF, 0xFF, ControlUsage], CommandFlags.ReservationRead),
        // IMMED, POWER CONDITION MODIFIER, POWER CONDITION + NO_FLUSH + LOEJ + START
        new("START STOP UNIT", [0x1B, 0x01, 0x00, 0x0F, 0xF7, ControlUsage], CommandFlags.ReservationByField, recommendedTimeoutSeconds: 60),
        // PREVENT
        new("PREVENT ALLOW MEDIUM REMOVAL", [0x1E, 0x00, 0x00, 0x00, 0x03, ControlUsage], CommandFlags.ReservationByField),
        // LOGICAL BLOCK ADDRESS, PMI
        new("READ CAPACITY (10)", [0x25, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x01, ControlUsage]),
        // RDPROTECT, DPO, FUA, RARC, FUA_NV; LBA; GROUP NUMBER; TRANSFER LENGTH
        new("READ (10)", [0x28, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ControlUsage], Read),
        // WRPROTECT, DPO, FUA, FUA_NV; LBA; GROUP NUMBER; TRANSFER LENGTH
        new("WRITE (10)", [0x2A, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ControlUsage], Write),
        // WRPROTECT, DPO, BYTCHK; LBA; GROUP NUMBER; TRANSFER LENGTH
        new("WRITE AND VERIFY (10)", [0x2E, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ControlUsage], Write),
        // VRPROTECT, DPO, BYTCHK; LBA; GROUP NUMBER; VERIFICATION LENGTH
        new("VERIFY (10)", [0x2F, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ControlUsage], Read),
        // IMMED; LBA; GROUP NUMBER; PREFETCH LENGTH
        new("PRE-FETCH (10)", [0x34, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ControlUsage], Read),
        // SYNC_NV, IMMED; LBA; GROUP NUMBER; NUMBER OF LOGICAL BLOCKS
        new("SYNCHRONIZE CACHE (10)", [0x35, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ControlUsage], Write, recommendedTimeoutSeconds: 60),
        // REQ_PLIST, REQ_GLIST, DEFECT LIST FORMAT; ALLOCATION LENGTH
        new("READ DEFECT DATA (10)", [0x37, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, ControlUsage], CommandFlags.ReservationRead),
        // WRPROTECT, ANCHOR, UNMAP; LBA; GROUP NUMBER; NUMBER OF LOGICAL BLOCKS
        new("WRITE SAME (10)", [0x41, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ControlUsage], Write, recommendedTimeoutSeconds: 60),
        // ANCHOR; GROUP NUMBER; PARAMETER LIST LENGTH
        new("UNMAP", [0x42, 0x01, 0x00, 0x00, 0x00, 0x00, 0x1F, 0xFF, 0xFF, ControlUsage], Write | Thin, recommendedTimeoutSeconds: 60),
        new("MODE SELECT (10)", [0x55, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, ControlUsage], CommandFlags.ReservationWrite),
        // LLBAA, DBD; PC + PAGE CODE; SUBPAGE CODE; ALLOCATION LENGTH
        new("MODE SENSE (10)", [0x5A, 0x18, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, ControlUsage], CommandFlags.ReservationRead),
        // SERVICE ACTION; ALLOCATION LENGTH
        new("PERSISTENT RESERVE IN (READ KEYS)", [0x5E, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE IN (READ RESERVATION)", [0x5E, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE IN (REPORT CAPABILITIES)", [0x5E, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE IN (READ FULL STATUS)", [0x5E, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        // SERVICE ACTION; SCOPE + TYPE; PARAMETER LIST LENGTH
        new("PERSISTENT RESERVE OUT (REGISTER)", [0x5F, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE OUT (RESERVE)", [0x5F, 0x01, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE OUT (RELEASE)", [0x5F, 0x02, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE OUT (CLEAR)", [0x5F, 0x03, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE OUT (PREEMPT)", [0x5F, 0x04, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE OUT (PREEMPT AND ABORT)", [0x5F, 0x05, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE OUT (REGISTER AND IGNORE EXISTING KEY)", [0x5F, 0x06, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        new("PERSISTENT RESERVE OUT (REGISTER AND MOVE)", [0x5F, 0x07, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, ControlUsage], hasServiceAction: true),
        // EXTENDED COPY (LID1): PARAMETER LIST LENGTH
        new("EXTENDED COPY (LID1)", [0x83, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], Write, hasServiceAction: true, recommendedTimeoutSeconds: 120),
        // RECEIVE COPY RESULTS: LIST IDENTIFIER; ALLOCATION LENGTH
        new("RECEIVE COPY STATUS (LID1)", [0x84, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], CommandFlags.ReservationRead, hasServiceAction: true),
        new("RECEIVE COPY DATA (LID1)", [0x84, 0x01, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], CommandFlags.ReservationRead, hasServiceAction: true),
        new("RECEIVE COPY OPERATING PARAMETERS", [0x84, 0x03, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], CommandFlags.ReservationRead, hasServiceAction: true),
        new("RECEIVE COPY FAILURE DETAILS (LID1)", [0x84, 0x04, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], CommandFlags.ReservationRead, hasServiceAction: true),
        new("READ (16)", [0x88, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Read),
        // WRPROTECT, DPO, FUA, FUA_NV; LBA; NUMBER OF LOGICAL BLOCKS; GROUP NUMBER
        new("COMPARE AND WRITE", [0x89, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0x1F, ControlUsage], Write),
        new("WRITE (16)", [0x8A, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Write),
        // ORPROTECT, DPO, FUA, FUA_NV; LBA; TRANSFER LENGTH; GROUP NUMBER
        new("ORWRITE (16)", [0x8B, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Write),
        new("WRITE AND VERIFY (16)", [0x8E, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Write),
        new("VERIFY (16)", [0x8F, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Read),
        new("PRE-FETCH (16)", [0x90, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Read),
        new("SYNCHRONIZE CACHE (16)", [0x91, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Write, recommendedTimeoutSeconds: 60),
        // WRPROTECT, ANCHOR, UNMAP, NDOB; LBA; NUMBER OF LOGICAL BLOCKS; GROUP NUMBER
        new("WRITE SAME (16)", [0x93, 0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Write, recommendedTimeoutSeconds: 60),
        // WRPROTECT, DPO, FUA; LBA; ATOMIC BOUNDARY (unsupported: reserved here); TRANSFER LENGTH; GROUP NUMBER
        new("WRITE ATOMIC (16)", [0x9C, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0x1F, ControlUsage], Write),
        // SERVICE ACTION IN (16): READ CAPACITY (16): LBA, ALLOCATION LENGTH, PMI
        new("READ CAPACITY (16)", [0x9E, ScsiOpcode.SaReadCapacity16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, ControlUsage], hasServiceAction: true),
        // SERVICE ACTION IN (16): GET LBA STATUS: STARTING LBA, ALLOCATION LENGTH
        new("GET LBA STATUS", [0x9E, ScsiOpcode.SaGetLbaStatus, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], Read | Thin, hasServiceAction: true),
        // SELECT REPORT, ALLOCATION LENGTH
        new("REPORT LUNS", [0xA0, 0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage]),
        // MAINTENANCE IN: REPORT TARGET PORT GROUPS: PARAMETER DATA FORMAT (byte 1, 7:5), ALLOCATION LENGTH
        new("REPORT TARGET PORT GROUPS", [0xA3, 0xE0 | ScsiOpcode.SaReportTargetPortGroups, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], hasServiceAction: true),
        // MAINTENANCE IN: REPORT SUPPORTED OPERATION CODES: RCTD + REPORTING OPTIONS, REQUESTED OPERATION CODE,
        // REQUESTED SERVICE ACTION, ALLOCATION LENGTH
        new("REPORT SUPPORTED OPERATION CODES", [0xA3, ScsiOpcode.SaReportSupportedOperationCodes, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], CommandFlags.ReservationRead, hasServiceAction: true),
        new("READ (12)", [0xA8, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Read),
        new("WRITE (12)", [0xAA, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Write),
        new("WRITE AND VERIFY (12)", [0xAE, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Write),
        new("VERIFY (12)", [0xAF, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ControlUsage], Read),
        // REQ_PLIST, REQ_GLIST, DEFECT LIST FORMAT; ADDRESS DESCRIPTOR INDEX; ALLOCATION LENGTH
        new("READ DEFECT DATA (12)", [0xB7, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, ControlUsage], CommandFlags.ReservationRead),
    ];

    /// <summary>Index into <see cref="Commands"/> by operation code: -1 unknown, -2 look up by service action.</summary>
    private static readonly short[] s_byOpcode = BuildIndex();

    private static short[] BuildIndex()
    {
        var index = new short[256];
        Array.Fill(index, (short)-1);
        for (int i = 0; i < Commands.Length; i++)
            index[Commands[i].Opcode] = Commands[i].HasServiceAction ? (short)-2 : (short)i;
        return index;
    }

    /// <summary>True when the operation code is one this table decodes with service actions.</summary>
    public static bool HasServiceActions(byte opcode) => s_byOpcode[opcode] == -2;

    /// <summary>
    /// Finds the entry for a CDB. Returns -1 when the operation code is not implemented, or when it is but
    /// the service action is not (then <paramref name="serviceActionUnknown"/> is true).
    /// </summary>
    public static int Find(byte[] cdb, out bool serviceActionUnknown) => Find(cdb[0], (ushort)(cdb[1] & 0x1F), out serviceActionUnknown);

    public static int Find(byte opcode, ushort serviceAction, out bool serviceActionUnknown)
    {
        serviceActionUnknown = false;
        int i = s_byOpcode[opcode];
        if (i != -2)
            return i;
        for (int j = 0; j < Commands.Length; j++)
            if (Commands[j].Opcode == opcode && Commands[j].ServiceAction == serviceAction)
                return j;
        serviceActionUnknown = true;
        return -1;
    }

    /// <summary>
    /// Finds the first CDB bit set outside the command's usage map (SPC-4: senders set reserved bits to zero
    /// and a recipient may check them), or a NACA/LINK request in the CONTROL byte (SAM-5: with ACA not
    /// supported, NACA=1 ends the command with INVALID FIELD IN CDB).
    /// </summary>
    public static bool FindReservedBit(ReadOnlySpan<byte> cdb, in CommandInfo command, out int bytePosition, out int bit)
    {
        var usage = command.Usage;
        int last = usage.Length - 1;
        for (int i = 1; i <= last; i++)
        {
            byte allowed = i == last ? ControlAllowed
                : i == 1 && command.HasServiceAction ? (byte)(0x1F | (usage[1] & 0xE0))
                : usage[i];
            int bad = cdb[i] & ~allowed;
            if (bad != 0)
            {
                bytePosition = i;
                bit = System.Numerics.BitOperations.Log2((uint)bad);
                return true;
            }
        }
        bytePosition = 0;
        bit = 0;
        return false;
    }
}
