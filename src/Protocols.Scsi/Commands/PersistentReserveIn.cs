using System.Buffers.Binary;
using System.Text;

namespace StorageAppliance.Protocols.Scsi;

// PERSISTENT RESERVE IN (SPC-4): byte 1 SERVICE ACTION, bytes 7..8 ALLOCATION LENGTH
//
//   00h READ KEYS           PRGENERATION (4), ADDITIONAL LENGTH (4), then one RESERVATION KEY (8) per registration
//   01h READ RESERVATION    PRGENERATION (4), ADDITIONAL LENGTH (4: 0 or 16), then RESERVATION KEY (8),
//                           obsolete (4), reserved, SCOPE (7:4) | TYPE (3:0), obsolete (2)
//   02h REPORT CAPABILITIES LENGTH (2) = 8, byte 2 RLR_C | CRH | SIP_C | ATP_C | PTPL_C,
//                           byte 3 TMV | ALLOW COMMANDS (6:4) | PTPL_A, bytes 4..5 PERSISTENT RESERVATION TYPE MASK
//   03h READ FULL STATUS    PRGENERATION (4), ADDITIONAL LENGTH (4), then per registration a full status descriptor:
//                           RESERVATION KEY (8), reserved (4), ALL_TG_PT (bit 1) | R_HOLDER (bit 0), SCOPE | TYPE,
//                           reserved (4), RELATIVE TARGET PORT IDENTIFIER (2), ADDITIONAL DESCRIPTOR LENGTH (4), TRANSPORTID
//
// SPC-4: the ADDITIONAL LENGTH fields give the full length whatever the allocation length truncates.
public sealed partial class LogicalUnit
{
    private const int PrInReadKeys = 0x00;
    private const int PrInReadReservation = 0x01;
    private const int PrInReportCapabilities = 0x02;
    private const int PrInReadFullStatus = 0x03;

    private void PersistentReserveIn(ScsiTask task)
    {
        uint allocation = task.CdbUInt16(7);
        lock (_prLock)
        {
            switch (task.CdbBuffer[1] & 0x1F)
            {
                case PrInReadKeys:
                {
                    var d = task.AllocateDataIn(8 + 8 * _registrations.Count);
                    BinaryPrimitives.WriteUInt32BigEndian(d, _prGeneration);
                    BinaryPrimitives.WriteUInt32BigEndian(d[4..], (uint)(8 * _registrations.Count));
                    for (int i = 0; i < _registrations.Count; i++)
                        BinaryPrimitives.WriteUInt64BigEndian(d[(8 + 8 * i)..], _registrations[i].Key);
                    break;
                }
                case PrInReadReservation:
                {
                    var d = task.AllocateDataIn(_prType == 0 ? 8 : 24);
                    BinaryPrimitives.WriteUInt32BigEndian(d, _prGeneration);
                    if (_prType != 0)
                    {
                        BinaryPrimitives.WriteUInt32BigEndian(d[4..], 16);
                        // SPC-4: for an all registrants reservation the RESERVATION KEY field is zero.
                        BinaryPrimitives.WriteUInt64BigEndian(d[8..], _prHolder?.Key ?? 0);
                        d[21] = _prType; // SCOPE 0h: LU_SCOPE
                    }
                    break;
                }
                case PrInReportCapabilities:
                {
                    var d = task.AllocateDataIn(8);
                    BinaryPrimitives.WriteUInt16BigEndian(d, 8);
                    // CRH: RESERVE/RELEASE follow the compatible reservation handling rules; SIP_C 0: no SPEC_I_PT;
                    // ATP_C: ALL_TG_PT; PTPL_C: APTPL (through the unit's IReservationStore when it has one).
                    d[2] = (byte)(0x10 | 0x04 | (_reservationStore is not null ? 0x01 : 0x00));
                    // TMV: the type mask is valid; ALLOW COMMANDS 011b: TEST UNIT READY is allowed through WE and EA,
                    // and the optional read-type commands (MODE SENSE, READ DEFECT DATA, RECEIVE COPY RESULTS, REPORT
                    // SUPPORTED OPERATION CODES ...) through WE; PTPL_A: APTPL is active.
                    d[3] = (byte)(0x80 | (0x3 << 4) | (_aptpl ? 0x01 : 0x00));
                    d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
                    d[5] = 0x01; // EX_AC_AR
                    break;
                }
                default: // READ FULL STATUS (the table admits service actions 0..3 only)
                    ReadFullStatus(task);
                    break;
            }
        }
        task.CompleteDataIn(allocation);
        task.SetGood();
    }

    private void ReadFullStatus(ScsiTask task)
    {
        int length = 8;
        foreach (var r in _registrations)
            length += 24 + TransportIdLength(r.InitiatorPort);
        var d = task.AllocateDataIn(length);
        BinaryPrimitives.WriteUInt32BigEndian(d, _prGeneration);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], (uint)(length - 8));
        int pos = 8;
        foreach (var r in _registrations)
        {
            var e = d[pos..];
            BinaryPrimitives.WriteUInt64BigEndian(e, r.Key);
            bool holder = IsHolder(r);
            e[12] = (byte)((r.AllTargetPorts ? 0x02 : 0) | (holder ? 0x01 : 0));
            if (holder)
                e[13] = _prType;
            // With ALL_TG_PT=1 the RELATIVE TARGET PORT IDENTIFIER is not meaningful and is zero.
            if (!r.AllTargetPorts)
                BinaryPrimitives.WriteUInt16BigEndian(e[18..], r.RelativeTargetPort);
            int idLength = WriteTransportId(e[24..], r.InitiatorPort);
            BinaryPrimitives.WriteUInt32BigEndian(e[20..], (uint)idLength);
            pos += 24 + idLength;
        }
    }

    // ---------------------------------------------------------------- iSCSI TransportIDs (SPC-4, RFC 7143)
    //
    //   byte 0 FORMAT CODE (7:6) | PROTOCOL IDENTIFIER (3:0) = 5h (iSCSI), bytes 2..3 ADDITIONAL LENGTH (n-3,
    //   a multiple of 4, at least 20), then a null-terminated UTF-8 name, zero padded:
    //   format 00b the iSCSI name (an initiator device); format 01b "name,i,0xISID" (an initiator port).

    private const byte ProtocolIdIscsi = 0x5;

    internal static int TransportIdLength(string initiatorPort)
    {
        int name = Encoding.UTF8.GetByteCount(initiatorPort) + 1;
        return 4 + Math.Max(20, (name + 3) & ~3);
    }

    /// <summary>Writes an iSCSI initiator port TransportID (format 01b); returns its length.</summary>
    internal static int WriteTransportId(Span<byte> d, string initiatorPort)
    {
        int length = TransportIdLength(initiatorPort);
        d[..length].Clear();
        d[0] = 0x40 | ProtocolIdIscsi;
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], (ushort)(length - 4));
        Encoding.UTF8.GetBytes(initiatorPort, d[4..]);
        return length;
    }

    /// <summary>
    /// Reads an iSCSI TransportID: the name and, for format 01b, the port ("name,i,0xISID"). False when it is not
    /// an iSCSI TransportID of format 00b or 01b, or is cut short.
    /// </summary>
    internal static bool TryReadTransportId(ReadOnlySpan<byte> d, out string name, out string? port, out int length)
    {
        name = "";
        port = null;
        length = 0;
        if (d.Length < 4 || (d[0] & 0x0F) != ProtocolIdIscsi)
            return false;
        int format = d[0] >> 6;
        int additional = BinaryPrimitives.ReadUInt16BigEndian(d[2..]);
        length = 4 + additional;
        if (format > 1 || length > d.Length || additional < 1)
            return false;
        var text = d.Slice(4, additional);
        int nul = text.IndexOf((byte)0);
        string value = Encoding.UTF8.GetString(nul < 0 ? text : text[..nul]);
        if (format == 0)
        {
            name = value;
            return name.Length > 0;
        }
        int separator = value.IndexOf(",i,0x", StringComparison.OrdinalIgnoreCase);
        if (separator <= 0)
            return false;
        name = value[..separator];
        port = value;
        return true;
    }
}
