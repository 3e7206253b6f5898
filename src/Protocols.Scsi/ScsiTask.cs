using System.Buffers;
using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// One SCSI command from the moment the transport has its CDB and data until its status is sent.
/// The transport fills the inputs, calls <see cref="ScsiTarget.ExecuteAsync"/>, and reads the outputs.
/// Instances are pooled by the transport; <see cref="Reset"/> clears them for reuse.
/// </summary>
/// <remarks>
/// Residuals (SAM-5 5.4.3, RFC 7143 11.4.5): the command sets <see cref="TransferLength"/> to the number of
/// bytes it would move by its own CDB (for data-in, the bytes it produced; for data-out, the bytes it
/// expected). The transport compares that with the initiator's expected data transfer length: it sends at
/// most the expected length, and reports the difference as overflow or underflow.
/// </remarks>
public sealed class ScsiTask
{
    /// <summary>Longest CDB accepted: 16 bytes in the BHS plus an extended-CDB AHS.</summary>
    public const int MaxCdbLength = 260;

    /// <summary>Longest sense data produced (fixed format is 18 bytes; descriptor format more).</summary>
    public const int MaxSenseLength = 96;

    private byte[]? _dataIn;

    public ITNexus Nexus { get; set; } = null!;

    /// <summary>The LUN as the transport decoded it (SAM-5 4.7, flat or peripheral addressing: 0..16383).</summary>
    public ulong Lun { get; set; }

    /// <summary>Transport tag (iSCSI ITT), used by task management.</summary>
    public uint Tag { get; set; }

    /// <summary>Transport command number (iSCSI CmdSN), used by ABORT TASK.</summary>
    public uint CommandNumber { get; set; }

    public TaskAttribute Attribute { get; set; } = TaskAttribute.Simple;

    public byte[] CdbBuffer { get; } = new byte[MaxCdbLength];

    public int CdbLength { get; set; }

    public ReadOnlySpan<byte> Cdb => CdbBuffer.AsSpan(0, CdbLength);

    public byte OperationCode => CdbBuffer[0];

    public DataDirection Direction { get; set; }

    /// <summary>The initiator's expected data transfer length in bytes (iSCSI EDTL).</summary>
    public uint ExpectedTransferLength { get; set; }

    /// <summary>The data the initiator sent for a data-out command: at most <see cref="ExpectedTransferLength"/> bytes.</summary>
    public ReadOnlyMemory<byte> DataOut { get; set; }

    /// <summary>Set by task management; the command is not executed if it has not started, and gets no response.</summary>
    public volatile bool Aborted;

    // ---- outputs ----

    public ScsiStatus Status { get; private set; }

    public byte[] SenseBuffer { get; } = new byte[MaxSenseLength];

    public int SenseLength { get; private set; }

    public ReadOnlySpan<byte> Sense => SenseBuffer.AsSpan(0, SenseLength);

    /// <summary>The bytes the command would transfer by its CDB (see the remarks on residuals).</summary>
    public long TransferLength { get; set; }

    public int DataInLength { get; private set; }

    public ReadOnlyMemory<byte> DataIn => _dataIn is null ? ReadOnlyMemory<byte>.Empty : _dataIn.AsMemory(0, DataInLength);

    /// <summary>
    /// Gets a pooled buffer of <paramref name="length"/> bytes for data-in, zeroed, and sets both
    /// <see cref="DataInLength"/> and <see cref="TransferLength"/> to it. The buffer returns to the pool in <see cref="Reset"/>.
    /// </summary>
    public Span<byte> AllocateDataIn(int length, bool clear = true)
    {
        if (_dataIn is null || _dataIn.Length < length)
        {
            if (_dataIn is not null)
                ArrayPool<byte>.Shared.Return(_dataIn);
            _dataIn = ArrayPool<byte>.Shared.Rent(Math.Max(length, 512));
        }
        DataInLength = length;
        TransferLength = length;
        var span = _dataIn.AsSpan(0, length);
        if (clear)
            span.Clear();
        return span;
    }

    /// <summary>The data-in buffer as memory, for asynchronous reads into it.</summary>
    public Memory<byte> DataInMemory => _dataIn is null ? Memory<byte>.Empty : _dataIn.AsMemory(0, DataInLength);

    /// <summary>Shortens the data-in (for example to the allocation length) without changing <see cref="TransferLength"/>.</summary>
    public void TruncateDataIn(int length)
    {
        if (length < DataInLength)
            DataInLength = length;
    }

    /// <summary>
    /// Ends the data-in of a command with an ALLOCATION LENGTH field (SPC-4, allocation length): at most that many bytes
    /// are returned, and since returning fewer bytes than are available "shall not be considered an error",
    /// <see cref="TransferLength"/> becomes the bytes actually returned, so the transport reports no overflow.
    /// </summary>
    public void CompleteDataIn(uint allocationLength)
    {
        if (allocationLength < (uint)DataInLength)
            DataInLength = (int)allocationLength;
        TransferLength = DataInLength;
    }

    public void SetGood()
    {
        Status = ScsiStatus.Good;
        SenseLength = 0;
    }

    public void SetStatus(ScsiStatus status)
    {
        Status = status;
        SenseLength = 0;
    }

    /// <summary>CHECK CONDITION with fixed-format sense data (SPC-4 4.5.3).</summary>
    public void SetCheckCondition(SenseCode code) => SetCheckCondition(code, descriptorFormat: false);

    /// <summary>CHECK CONDITION with sense in the format the logical unit's D_SENSE bit selects.</summary>
    public void SetCheckCondition(SenseCode code, bool descriptorFormat, ulong? information = null, SenseKeySpecific sks = default)
    {
        Status = ScsiStatus.CheckCondition;
        SenseLength = SenseData.Write(SenseBuffer, code, descriptorFormat, information, sks);
        DataInLength = 0;
    }

    /// <summary>CHECK CONDITION with a COMMAND-SPECIFIC INFORMATION field as well (EXTENDED COPY reports the failed segment in it).</summary>
    public void SetCheckCondition(SenseCode code, bool descriptorFormat, ulong? information, SenseKeySpecific sks, uint commandSpecific)
    {
        Status = ScsiStatus.CheckCondition;
        SenseLength = SenseData.Write(SenseBuffer, code, descriptorFormat, information, sks, commandSpecific);
        DataInLength = 0;
    }

    /// <summary>Returns pooled buffers and clears every field for reuse.</summary>
    public void Reset()
    {
        if (_dataIn is not null)
        {
            ArrayPool<byte>.Shared.Return(_dataIn);
            _dataIn = null;
        }
        Nexus = null!;
        Lun = 0;
        Tag = 0;
        CommandNumber = 0;
        Attribute = TaskAttribute.Simple;
        CdbLength = 0;
        Direction = DataDirection.None;
        ExpectedTransferLength = 0;
        DataOut = default;
        Aborted = false;
        Status = ScsiStatus.Good;
        SenseLength = 0;
        TransferLength = 0;
        DataInLength = 0;
    }

    /// <summary>Reads the allocation/parameter-list length helpers used by many CDBs.</summary>
    public ushort CdbUInt16(int offset) => BinaryPrimitives.ReadUInt16BigEndian(CdbBuffer.AsSpan(offset));

    public uint CdbUInt32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(CdbBuffer.AsSpan(offset));

    public ulong CdbUInt64(int offset) => BinaryPrimitives.ReadUInt64BigEndian(CdbBuffer.AsSpan(offset));
}

/// <summary>The sense-key specific field (SPC-4 4.5.2.4): for ILLEGAL REQUEST, which byte and bit was wrong.</summary>
public readonly record struct SenseKeySpecific(bool Valid, bool InCdb, ushort FieldPointer, byte? BitPointer = null)
{
    public static SenseKeySpecific CdbField(ushort byteOffset, byte? bit = null) => new(true, true, byteOffset, bit);

    public static SenseKeySpecific ParameterField(ushort byteOffset, byte? bit = null) => new(true, false, byteOffset, bit);
}

/// <summary>Writes sense data in fixed (0x70) or descriptor (0x72) format (SPC-4 4.5).</summary>
public static class SenseData
{
    public const int FixedLength = 18;

    public static int Write(Span<byte> buffer, SenseCode code, bool descriptorFormat, ulong? information = null, SenseKeySpecific sks = default, uint? commandSpecific = null)
    {
        if (!descriptorFormat)
        {
            var s = buffer[..FixedLength];
            s.Clear();
            s[0] = 0x70; // current error, fixed format
            s[2] = (byte)code.Key;
            // SPC-4 4.5.3: a value that does not fit the 4-byte INFORMATION field is not reported (VALID stays 0).
            if (information is ulong info && info <= uint.MaxValue)
            {
                s[0] |= 0x80; // VALID: INFORMATION holds a value
                BinaryPrimitives.WriteUInt32BigEndian(s[3..], (uint)info);
            }
            s[7] = FixedLength - 8; // additional sense length
            if (commandSpecific is uint csi)
                BinaryPrimitives.WriteUInt32BigEndian(s[8..], csi);
            s[12] = code.Asc;
            s[13] = code.Ascq;
            if (sks.Valid)
                WriteSks(s[15..18], sks);
            return FixedLength;
        }

        int len = 8;
        buffer[..8].Clear();
        buffer[0] = 0x72; // current error, descriptor format
        buffer[1] = (byte)code.Key;
        buffer[2] = code.Asc;
        buffer[3] = code.Ascq;
        if (information is ulong info2)
        {
            var d = buffer.Slice(len, 12);
            d.Clear();
            d[0] = 0x00; // information descriptor
            d[1] = 0x0A;
            d[2] = 0x80; // VALID
            BinaryPrimitives.WriteUInt64BigEndian(d[4..], info2);
            len += 12;
        }
        if (commandSpecific is uint csi2)
        {
            var d = buffer.Slice(len, 12);
            d.Clear();
            d[0] = 0x01; // command-specific information descriptor
            d[1] = 0x0A;
            BinaryPrimitives.WriteUInt64BigEndian(d[4..], csi2);
            len += 12;
        }
        if (sks.Valid)
        {
            var d = buffer.Slice(len, 8);
            d.Clear();
            d[0] = 0x02; // sense key specific descriptor
            d[1] = 0x06;
            WriteSks(d[4..7], sks);
            len += 8;
        }
        buffer[7] = (byte)(len - 8);
        return len;
    }

    private static void WriteSks(Span<byte> s, SenseKeySpecific sks)
    {
        s[0] = 0x80; // SKSV
        if (sks.InCdb)
            s[0] |= 0x40; // C/D
        if (sks.BitPointer is byte bit)
            s[0] |= (byte)(0x08 | (bit & 0x7));
        BinaryPrimitives.WriteUInt16BigEndian(s[1..], sks.FieldPointer);
    }
}
