using System.Buffers;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

/// <summary>Where a command is in its life on the connection.</summary>
internal enum IscsiTaskState : byte
{
    Free,
    ReceivingData,
    Executing,
    Responding,
}

/// <summary>One outstanding R2T: the data sequence the target asked for (RFC 7143 11.8).</summary>
internal struct R2TSequence
{
    public uint TargetTransferTag;
    public uint BufferOffset;
    public uint Length;
    public uint Received;
    public uint NextDataSN;
}

/// <summary>
/// The transport's view of one SCSI command: its tags and sequence numbers, the write data being
/// gathered, outstanding R2Ts, and the SCSI task that executes it. Pooled per connection.
/// </summary>
internal sealed class IscsiTask
{
    public readonly ScsiTask Scsi = new();

    public uint Itt;
    public uint CmdSN;
    public ulong LunField;
    public bool Immediate;
    public uint Edtl;
    public bool IsWrite;
    public IscsiTaskState State;

    /// <summary>Set by task management: no response is sent, later Data-Out is discarded.</summary>
    public volatile bool Aborted;

    /// <summary>The command could not run (bad data phase, too large): answered with this sense once its data is in.</summary>
    public SenseCode? FailWith;

    // ---- write data ----
    public byte[]? Buffer;

    /// <summary>Bytes of write data received so far (in order, DataPDUInOrder=Yes).</summary>
    public uint Received;

    /// <summary>Unsolicited Data-Out PDUs may still come (the command's F bit was 0).</summary>
    public bool AwaitingUnsolicited;

    /// <summary>Most unsolicited data the initiator may send: min(FirstBurstLength, EDTL).</summary>
    public uint UnsolicitedLimit;

    public uint NextUnsolicitedDataSN;

    /// <summary>The offset up to which R2Ts have been sent.</summary>
    public uint NextR2TOffset;

    public uint NextR2TSN;

    public readonly List<R2TSequence> OutstandingR2Ts = new(4);

    // ---- response ----
    public uint DataInPdusSent;

    public int ExecutionsInFlight;

    /// <summary>Completed when the task finished executing (for task management that must wait for it).</summary>
    public TaskCompletionSource? Finished;

    public void RentBuffer(int length)
    {
        Buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 512));
    }

    public void Reset()
    {
        if (Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = null;
        }
        Scsi.Reset();
        Itt = 0;
        CmdSN = 0;
        LunField = 0;
        Immediate = false;
        Edtl = 0;
        IsWrite = false;
        State = IscsiTaskState.Free;
        Aborted = false;
        FailWith = null;
        Received = 0;
        AwaitingUnsolicited = false;
        UnsolicitedLimit = 0;
        NextUnsolicitedDataSN = 0;
        NextR2TOffset = 0;
        NextR2TSN = 0;
        OutstandingR2Ts.Clear();
        DataInPdusSent = 0;
        ExecutionsInFlight = 0;
        Finished = null;
    }
}
