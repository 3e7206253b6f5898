using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// REPORT SUPPORTED OPERATION CODES (SPC-4 6.35): MAINTENANCE IN (A3h) service action 0Ch
//
//   byte 2 RCTD (bit 7) | REPORTING OPTIONS (2:0), byte 3 REQUESTED OPERATION CODE,
//   bytes 4..5 REQUESTED SERVICE ACTION, bytes 6..9 ALLOCATION LENGTH
//
//   REPORTING OPTIONS 000b: all commands       COMMAND DATA LENGTH (4), then per command (8 bytes):
//                                              OPERATION CODE, reserved, SERVICE ACTION (2), reserved,
//                                              CTDP (bit 1) | SERVACTV (bit 0), CDB LENGTH (2) [+ timeouts]
//   001b: one command, by operation code       reserved, CTDP (7) | SUPPORT (2:0), CDB SIZE (2),
//   010b: one command, by code + service action CDB USAGE DATA [+ timeouts]
//   011b: as 010b if the code has service actions, else as 001b
//
//   command timeouts descriptor (12 bytes): DESCRIPTOR LENGTH (0Ah), reserved, COMMAND SPECIFIC,
//   NOMINAL COMMAND PROCESSING TIMEOUT (4), RECOMMENDED COMMAND TIMEOUT (4), both in seconds
//
// The usage data comes from CommandTable, the same masks the dispatcher checks CDBs against.
public sealed partial class LogicalUnit
{
    private const int TimeoutsDescriptorLength = 12;

    private void ReportSupportedOperationCodes(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool rctd = (cdb[2] & 0x80) != 0;
        int options = cdb[2] & 0x07;
        byte requestedOpcode = cdb[3];
        ushort requestedServiceAction = task.CdbUInt16(4);
        uint allocation = task.CdbUInt32(6);

        switch (options)
        {
            case 0:
                AllCommands(task, rctd);
                break;
            case 1:
            case 2:
            case 3:
            {
                bool hasServiceActions = CommandTable.HasServiceActions(requestedOpcode);
                bool bySa = options == 2 || (options == 3 && hasServiceActions);
                // SPC-4 6.35: with 001b, "if the REQUESTED OPERATION CODE field specifies an operation code that
                // has service actions, then the command shall be terminated with ... INVALID FIELD IN CDB"; with
                // 010b the same happens for an operation code that has none.
                if (options == 1 && hasServiceActions || options == 2 && !hasServiceActions)
                {
                    task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2, 2));
                    return;
                }
                OneCommand(task, rctd, requestedOpcode, bySa ? requestedServiceAction : (ushort)0, bySa);
                break;
            }
            default:
                task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2, 2));
                return;
        }
        task.CompleteDataIn(allocation);
        task.SetGood();
    }

    private void AllCommands(ScsiTask task, bool rctd)
    {
        int per = 8 + (rctd ? TimeoutsDescriptorLength : 0);
        int count = 0;
        foreach (ref readonly var c in CommandTable.Commands.AsSpan())
            if (IsImplemented(in c))
                count++;
        var d = task.AllocateDataIn(4 + count * per);
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(count * per));
        int pos = 4;
        foreach (ref readonly var c in CommandTable.Commands.AsSpan())
        {
            if (!IsImplemented(in c))
                continue;
            var e = d.Slice(pos, per);
            e[0] = c.Opcode;
            BinaryPrimitives.WriteUInt16BigEndian(e[2..], c.ServiceAction);
            e[5] = (byte)((rctd ? 0x02 : 0x00) | (c.HasServiceAction ? 0x01 : 0x00)); // CTDP, SERVACTV
            BinaryPrimitives.WriteUInt16BigEndian(e[6..], (ushort)c.CdbLength);
            if (rctd)
                WriteTimeouts(e[8..], in c);
            pos += per;
        }
    }

    private void OneCommand(ScsiTask task, bool rctd, byte opcode, ushort serviceAction, bool byServiceAction)
    {
        int index = byServiceAction
            ? CommandTable.Find(opcode, serviceAction, out _)
            : CommandTable.Find(opcode, 0, out _);
        if (index < 0 || !IsImplemented(in CommandTable.Commands[index]))
        {
            // SUPPORT 001b: "The device server does not support the requested command"; CDB SIZE zero.
            var none = task.AllocateDataIn(4);
            none[1] = 0x01;
            return;
        }
        ref readonly var c = ref CommandTable.Commands[index];
        int length = 4 + c.CdbLength + (rctd ? TimeoutsDescriptorLength : 0);
        var d = task.AllocateDataIn(length);
        d[1] = (byte)((rctd ? 0x80 : 0x00) | 0x03); // CTDP; SUPPORT 011b: supported as the standard says
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], (ushort)c.CdbLength);
        c.Usage.CopyTo(d[4..]);
        if (rctd)
            WriteTimeouts(d[(4 + c.CdbLength)..], in c);
    }

    private static void WriteTimeouts(Span<byte> d, in CommandInfo c)
    {
        BinaryPrimitives.WriteUInt16BigEndian(d, 0x0A);
        // NOMINAL COMMAND PROCESSING TIMEOUT 0: not specified (it depends on the storage below).
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], c.RecommendedTimeoutSeconds);
    }
}
