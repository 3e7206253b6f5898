using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Fuzz.Support;
using StorageAppliance.Protocols.Scsi;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

namespace StorageAppliance.Fuzz.Targets;

/// <summary>
/// SCSI CDB decoding and command execution (SPC-4, SBC-3): up to eight commands run through
/// <see cref="ScsiTarget.ExecuteAsync"/> against LUN 0 over a 128 KiB in-memory vDisk, one new target
/// per input so the outcome depends on the input alone. Each command in the input:
/// <code>
///   byte 0      flags: bit 0-1 direction (none, read, write, both), bit 2 LUN 1 (absent), bit 3 a second nexus
///   byte 1      CDB length (taken modulo 261)
///   byte 2-3    data-out length (big-endian, at most the bytes left)
///   byte 4-5    expected data transfer length for data-in, in 16-byte units (big-endian)
///   CDB, then the data-out bytes
/// </code>
/// Documented outcome: a status and sense data in the task (CHECK CONDITION for a bad field);
/// <see cref="ScsiTarget.ExecuteAsync"/> "never throws for bad input".
/// </summary>
public sealed class ScsiCdbTarget : IFuzzTarget
{
    private const int HeaderLength = 6;

    private static readonly byte[] Naa = [0x60, 0x01, 0x40, 0x50, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11, 0x22, 0x33, 0x44];

    public string Name => "scsi-cdb";

    public void Run(ReadOnlySpan<byte> input)
    {
        var target = new ScsiTarget("iqn.2026-01.io.storageappliance.fuzz:scsi", NullLogger.Instance);
        var unit = new LogicalUnit(new MemoryVDisk(256 * 512), new LogicalUnitOptions
        {
            SerialNumber = "FUZZ0003",
            NaaDesignator = Naa,
            ThinProvisioned = true,
            MaximumTransferLengthBlocks = 128,
        }, NullLogger.Instance);
        target.AddLogicalUnit(0, unit);
        var first = new ITNexus("iqn.1994-05.com.example:host1", "iqn.1994-05.com.example:host1,i,0x23d000000001", "iqn.2026-01.io.storageappliance.fuzz:scsi,t,0x0001", 1);
        var second = new ITNexus("iqn.1994-05.com.example:host2", "iqn.1994-05.com.example:host2,i,0x23d000000002", "iqn.2026-01.io.storageappliance.fuzz:scsi,t,0x0001", 2);
        target.AddNexus(first);
        target.AddNexus(second);

        var task = new ScsiTask();
        for (int n = 0; n < 8 && input.Length >= HeaderLength; n++)
        {
            byte flags = input[0];
            int cdbLength = input[1] % (ScsiTask.MaxCdbLength + 1);
            int dataLength = BinaryPrimitives.ReadUInt16BigEndian(input[2..]);
            uint expected = (uint)BinaryPrimitives.ReadUInt16BigEndian(input[4..]) * 16;
            input = input[HeaderLength..];
            cdbLength = Math.Min(cdbLength, input.Length);
            var cdb = input[..cdbLength];
            input = input[cdbLength..];
            dataLength = Math.Min(dataLength, input.Length);
            byte[] dataOut = input[..dataLength].ToArray();
            input = input[dataLength..];

            task.Reset();
            task.Nexus = (flags & 8) != 0 ? second : first;
            task.Lun = (ulong)((flags >> 2) & 1);
            task.Tag = (uint)n;
            task.CommandNumber = (uint)n;
            task.Direction = (DataDirection)(flags & 3);
            cdb.CopyTo(task.CdbBuffer);
            task.CdbLength = cdbLength;
            bool writes = task.Direction is DataDirection.Write or DataDirection.Bidirectional;
            task.ExpectedTransferLength = writes ? (uint)dataLength : expected;
            task.DataOut = writes ? dataOut : ReadOnlyMemory<byte>.Empty;

            FuzzInput.Wait(target.ExecuteAsync(task).AsTask(), "a SCSI command");
            if (task.SenseLength > ScsiTask.MaxSenseLength || task.DataInLength < 0)
                throw new FuzzDefectException("task outputs out of range");
        }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("test-unit-ready", Cmd(0, new byte[6]));
        yield return ("inquiry", Cmd(1, [0x12, 0, 0, 0, 0xFF, 0], 255));
        yield return ("inquiry-vpd", IscsiPduTarget.Concat(Cmd(1, [0x12, 1, 0x00, 0, 0xFF, 0], 255), Cmd(1, [0x12, 1, 0x83, 0, 0xFF, 0], 255), Cmd(1, [0x12, 1, 0xB0, 0, 0xFF, 0], 255), Cmd(1, [0x12, 1, 0xB2, 0, 0xFF, 0], 255)));
        yield return ("read-capacity", IscsiPduTarget.Concat(Cmd(1, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8), Cmd(1, [0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 32)));
        yield return ("write-read-10", IscsiPduTarget.Concat(Cmd(2, [0x2A, 0, 0, 0, 0, 4, 0, 0, 1, 0], 0, new byte[512]), Cmd(1, [0x28, 0, 0, 0, 0, 4, 0, 0, 1, 0], 512)));
        yield return ("write-read-16", IscsiPduTarget.Concat(Cmd(2, [0x8A, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0], 0, new byte[1024]), Cmd(1, [0x88, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0], 1024)));
        yield return ("read-6-write-12", IscsiPduTarget.Concat(Cmd(1, [0x08, 0, 0, 1, 1, 0], 512), Cmd(2, [0xAA, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0], 0, new byte[512])));
        yield return ("mode-sense-select", IscsiPduTarget.Concat(Cmd(1, [0x5A, 0, 0x3F, 0, 0, 0, 0, 0x10, 0, 0], 4096), Cmd(1, [0x1A, 0, 0x08, 0, 0xFF, 0], 255),
            Cmd(2, [0x55, 0x10, 0, 0, 0, 0, 0, 0, 28, 0], 0, [0, 26, 0, 0, 0, 0, 0, 0, 0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
        yield return ("unmap-write-same", IscsiPduTarget.Concat(Cmd(2, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], 0, [0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 8, 0, 0, 0, 0]),
            Cmd(2, [0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 8, 0, 0], 0, new byte[512])));
        yield return ("get-lba-status", Cmd(1, [0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], 4096));
        yield return ("compare-and-write", Cmd(2, [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0], 0, new byte[1024]));
        yield return ("persistent-reserve", IscsiPduTarget.Concat(
            Cmd(2, [0x5F, 0x00, 0, 0, 0, 0, 0, 0, 24, 0], 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0, 0, 0, 0]),
            Cmd(2, [0x5F, 0x01, 0x03, 0, 0, 0, 0, 0, 24, 0], 0, [0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Cmd(1, [0x5E, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0], 4096), Cmd(1, [0x5E, 0x01, 0, 0, 0, 0, 0, 0x10, 0, 0], 4096), Cmd(9, [0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0], 0, new byte[512])));
        yield return ("reserve-release", IscsiPduTarget.Concat(Cmd(0, [0x16, 0, 0, 0, 0, 0]), Cmd(8, [0x00, 0, 0, 0, 0, 0]), Cmd(0, [0x17, 0, 0, 0, 0, 0])));
        yield return ("report-luns-opcodes", IscsiPduTarget.Concat(Cmd(1, [0xA0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], 4096), Cmd(1, [0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], 4096),
            Cmd(1, [0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], 4096), Cmd(5, [0x12, 0, 0, 0, 36, 0], 36)));
        yield return ("sync-verify-prefetch", IscsiPduTarget.Concat(Cmd(0, [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Cmd(0, [0x2F, 0, 0, 0, 0, 0, 0, 0, 8, 0]), Cmd(0, [0x34, 0, 0, 0, 0, 0, 0, 0, 8, 0]),
            Cmd(0, [0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0])));
        yield return ("start-stop-request-sense", IscsiPduTarget.Concat(Cmd(0, [0x1B, 0, 0, 0, 0, 0]), Cmd(1, [0x03, 0, 0, 0, 96, 0], 96), Cmd(0, [0x1B, 0, 0, 0, 1, 0]), Cmd(0, [0x1E, 0, 0, 0, 1, 0])));
        yield return ("extended-copy", Cmd(1, [0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0], 4096));
        yield return ("long-cdb", Cmd(0, [0x7F, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    }

    /// <summary>One command of the input format above (data-in length in bytes, rounded up to 16).</summary>
    internal static byte[] Cmd(byte flags, byte[] cdb, int dataIn = 0, byte[]? dataOut = null)
    {
        dataOut ??= [];
        var header = new byte[HeaderLength];
        header[0] = flags;
        header[1] = (byte)cdb.Length;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)dataOut.Length);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), (ushort)((dataIn + 15) / 16));
        return IscsiPduTarget.Concat(header, cdb, dataOut);
    }
}
