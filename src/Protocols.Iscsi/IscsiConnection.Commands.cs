using System.Buffers;
using System.Runtime.CompilerServices;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

// SCSI Command (RFC 7143 11.3), Data-Out (11.7) and R2T (11.8) handling, and command completion.
public sealed partial class IscsiConnection
{
    // RFC 7143 11.4.7.2 and SPC-4: sense for iSCSI data-phase failures.
    private static readonly SenseCode UnexpectedUnsolicitedData = new(SenseKey.AbortedCommand, 0x0C, 0x0C);
    private static readonly SenseCode NotEnoughUnsolicitedData = new(SenseKey.AbortedCommand, 0x0C, 0x0D);
    private static readonly SenseCode DataPhaseError = new(SenseKey.AbortedCommand, 0x4B, 0x00);
    private static readonly SenseCode InvalidTargetTransferTag = new(SenseKey.AbortedCommand, 0x4B, 0x01);
    private static readonly SenseCode TooMuchWriteData = new(SenseKey.AbortedCommand, 0x4B, 0x02);
    private static readonly SenseCode DataOffsetError = new(SenseKey.AbortedCommand, 0x4B, 0x05);

    /// <summary>ITTs of commands that were ignored or aborted while data may still follow: their Data-Out is dropped silently.</summary>
    private readonly Queue<uint> _forgottenItts = new();
    private readonly HashSet<uint> _forgottenSet = new();

    private void Forget(uint itt)
    {
        lock (_taskLock)
        {
            if (!_forgottenSet.Add(itt))
                return;
            _forgottenItts.Enqueue(itt);
            if (_forgottenItts.Count > 256)
                _forgottenSet.Remove(_forgottenItts.Dequeue());
        }
    }

    private void OnScsiCommand(in PduFrame frame, bool dataDiscarded = false)
    {
        var session = _session!;
        var cmd = new ScsiCommandRequest(frame.Header);

        if (!cmd.Immediate)
        {
            var check = session.Check(cmd.CmdSN);
            if (check is CmdSNCheck.TooLow or CmdSNCheck.TooHigh)
            {
                // RFC 7143 4.2.2.1: "The target MUST silently ignore any non-immediate command outside of this range."
                IscsiLog.CommandOutsideWindow(_log, Id, Peer, cmd.CmdSN, session.ExpCmdSN, session.MaxCmdSN);
                Forget(cmd.InitiatorTaskTag);
                return;
            }
            session.Accept(cmd.CmdSN);
        }

        if (session.IsDiscovery)
        {
            // RFC 7143 4.3: a discovery session carries only Text and Logout requests. The CmdSN was
            // consumed above, so the rejected command's slot is given back.
            EnqueueReject(RejectReason.ProtocolError, in frame);
            Forget(cmd.InitiatorTaskTag);
            RetireIfNumbered(session, cmd.Immediate, cmd.CmdSN);
            return;
        }

        lock (_taskLock)
        {
            if (_tasks.ContainsKey(cmd.InitiatorTaskTag))
            {
                // The ITT names a command still in progress (RFC 7143 11.17.1 "Task in progress").
                EnqueueReject(RejectReason.TaskInProgress, in frame);
                RetireIfNumbered(session, cmd.Immediate, cmd.CmdSN);
                return;
            }
        }

        var task = RentTask();
        task.Itt = cmd.InitiatorTaskTag;
        task.CmdSN = cmd.CmdSN;
        task.Immediate = cmd.Immediate;
        task.LunField = cmd.Lun;
        task.Edtl = cmd.ExpectedDataTransferLength;
        task.IsWrite = cmd.Write;

        var scsi = task.Scsi;
        scsi.Nexus = session.Nexus!;
        scsi.Tag = cmd.InitiatorTaskTag;
        scsi.CommandNumber = cmd.CmdSN;
        scsi.Lun = LunEncoding.Read(frame.Header.ReadOnlySpan.Slice(8, 8));
        scsi.Attribute = cmd.Attribute switch
        {
            0 => TaskAttribute.Untagged,
            2 => TaskAttribute.Ordered,
            3 => TaskAttribute.HeadOfQueue,
            4 => TaskAttribute.Aca,
            _ => TaskAttribute.Simple,
        };
        scsi.Direction = cmd.Write ? (cmd.Read ? DataDirection.Bidirectional : DataDirection.Write) : cmd.Read ? DataDirection.Read : DataDirection.None;
        scsi.ExpectedTransferLength = cmd.ExpectedDataTransferLength;
        frame.Header.ReadOnlySpan.Slice(ScsiCommandRequest.CdbOffset, ScsiCommandRequest.CdbLengthInBhs).CopyTo(scsi.CdbBuffer);
        scsi.CdbLength = ScsiCommandRequest.CdbLengthInBhs;
        if (!frame.Ahs.IsEmpty)
            ReadExtendedCdb(task, frame.Ahs);

        if (dataDiscarded)
            task.FailWith = SenseCode.ProtocolServiceCrcError;

        if (task.Edtl > (uint)_server.Options.MaxCommandTransferLength)
        {
            task.FailWith ??= SenseCode.InvalidFieldInCdb;
        }

        var p = session.Parameters;
        int immediate = cmd.DataSegmentLength;
        if (!cmd.Write || task.Edtl == 0)
        {
            // No data-out phase. Stray immediate data on a non-write command is ignored.
            lock (_taskLock)
                _tasks[task.Itt] = task;
            Execute(task);
            return;
        }

        if (task.FailWith is null)
            task.RentBuffer((int)task.Edtl);

        if (immediate > 0 && !dataDiscarded)
        {
            if (!p.ImmediateData)
                task.FailWith ??= UnexpectedUnsolicitedData; // RFC 7143 13.11: immediate data needs ImmediateData=Yes
            else if ((uint)immediate > task.Edtl || immediate > p.FirstBurstLength)
                task.FailWith ??= TooMuchWriteData;
            else if (task.Buffer is not null)
                frame.Data.CopyTo(task.Buffer.AsSpan(0, immediate));
        }
        task.Received = (uint)Math.Min((uint)immediate, task.Edtl);
        task.UnsolicitedLimit = p.InitialR2T ? task.Received : Math.Min((uint)p.FirstBurstLength, task.Edtl);
        task.AwaitingUnsolicited = !cmd.Final;
        if (!cmd.Final && p.InitialR2T)
            task.FailWith ??= UnexpectedUnsolicitedData; // F=0 announces unsolicited Data-Out, not allowed with InitialR2T=Yes
        task.State = IscsiTaskState.ReceivingData;
        lock (_taskLock)
            _tasks[task.Itt] = task;

        AdvanceDataPhase(task);
    }

    /// <summary>Reads an Extended CDB AHS (RFC 7143 11.2.1.3, type 1) into the CDB after its first 16 bytes.</summary>
    private static void ReadExtendedCdb(IscsiTask task, ReadOnlySequence<byte> ahs)
    {
        Span<byte> head = stackalloc byte[4];
        while (ahs.Length >= 4)
        {
            ahs.Slice(0, 4).CopyTo(head);
            int length = (head[0] << 8) | head[1];
            byte type = head[2];
            int padded = (length + 3) & ~3;
            if (4 + padded > ahs.Length)
                return;
            if (type == 1 && length > 1)
            {
                int extra = Math.Min(length - 1, ScsiTask.MaxCdbLength - 16);
                ahs.Slice(4, extra).CopyTo(task.Scsi.CdbBuffer.AsSpan(16));
                task.Scsi.CdbLength = 16 + extra;
            }
            ahs = ahs.Slice(4 + padded);
        }
    }

    /// <summary>After new data arrived: execute when all is in, or ask for more with R2Ts.</summary>
    private void AdvanceDataPhase(IscsiTask task)
    {
        if (task.AwaitingUnsolicited)
            return;
        if (task.Received >= task.Edtl && task.OutstandingR2Ts.Count == 0)
        {
            Execute(task);
            return;
        }
        if (task.NextR2TOffset < task.Received)
            task.NextR2TOffset = task.Received;
        SendR2Ts(task);
    }

    /// <summary>Asks for the rest of the data, up to MaxOutstandingR2T R2Ts of MaxBurstLength each (RFC 7143 13.17, 13.13).</summary>
    private void SendR2Ts(IscsiTask task)
    {
        var p = _session!.Parameters;
        while (task.OutstandingR2Ts.Count < p.MaxOutstandingR2T && task.NextR2TOffset < task.Edtl)
        {
            uint length = Math.Min((uint)p.MaxBurstLength, task.Edtl - task.NextR2TOffset);
            var r2t = new R2TSequence
            {
                TargetTransferTag = NewTargetTransferTag(),
                BufferOffset = task.NextR2TOffset,
                Length = length,
            };
            task.OutstandingR2Ts.Add(r2t);
            task.NextR2TOffset += length;
            EnqueueR2T(task, r2t, task.NextR2TSN++);
        }
    }

    private void OnDataOut(in PduFrame frame)
    {
        var d = new DataOut(frame.Header);
        IscsiTask? task;
        lock (_taskLock)
        {
            if (!_tasks.TryGetValue(d.InitiatorTaskTag, out task))
            {
                if (_forgottenSet.Contains(d.InitiatorTaskTag))
                    return; // data of an ignored or aborted command
            }
        }
        if (task is null || task.State != IscsiTaskState.ReceivingData)
        {
            // RFC 7143 11.17.1: a Data-Out naming no command waiting for data is an invalid PDU field.
            EnqueueReject(RejectReason.InvalidPduField, in frame);
            return;
        }

        uint offset = d.BufferOffset;
        uint length = (uint)d.DataSegmentLength;
        if (d.TargetTransferTag == BasicHeaderSegment.ReservedTag)
        {
            // Unsolicited data (InitialR2T=No): DataSN counts from 0 within the unsolicited sequence.
            if (!task.AwaitingUnsolicited)
                task.FailWith ??= UnexpectedUnsolicitedData;
            if (d.DataSN != task.NextUnsolicitedDataSN)
                task.FailWith ??= DataPhaseError;
            task.NextUnsolicitedDataSN = d.DataSN + 1;
            if (offset != task.Received)
                task.FailWith ??= DataOffsetError;
            if ((ulong)offset + length > task.UnsolicitedLimit)
                task.FailWith ??= UnexpectedUnsolicitedData;
            StoreData(task, offset, length, frame.Data);
            // The unsolicited sequence ends with F; whatever it left out is asked for with R2Ts.
            if (d.Final)
                task.AwaitingUnsolicited = false;
            AdvanceDataPhase(task);
            return;
        }

        int index = -1;
        for (int i = 0; i < task.OutstandingR2Ts.Count; i++)
        {
            if (task.OutstandingR2Ts[i].TargetTransferTag == d.TargetTransferTag)
            {
                index = i;
                break;
            }
        }
        if (index < 0)
        {
            task.FailWith ??= InvalidTargetTransferTag;
            EnqueueReject(RejectReason.InvalidPduField, in frame);
            return;
        }

        var r2t = task.OutstandingR2Ts[index];
        // RFC 7143 11.7.5: DataSN starts at 0 for each R2T's sequence and counts its PDUs.
        if (d.DataSN != r2t.NextDataSN)
            task.FailWith ??= DataPhaseError;
        r2t.NextDataSN = d.DataSN + 1;
        if (offset != r2t.BufferOffset + r2t.Received)
            task.FailWith ??= DataOffsetError;
        if (r2t.Received + length > r2t.Length)
            task.FailWith ??= TooMuchWriteData;
        StoreData(task, offset, length, frame.Data);
        r2t.Received += length;
        if (d.Final || r2t.Received >= r2t.Length)
        {
            if (r2t.Received < r2t.Length)
            {
                // The sequence ended short: at ErrorRecoveryLevel 0 the command fails.
                task.FailWith ??= DataPhaseError;
                task.Received += r2t.Length - r2t.Received;
            }
            task.OutstandingR2Ts.RemoveAt(index);
            AdvanceDataPhase(task);
        }
        else
        {
            task.OutstandingR2Ts[index] = r2t;
        }
    }

    /// <summary>Copies one Data-Out payload into the command's buffer, within bounds; the count advances either way.</summary>
    private static void StoreData(IscsiTask task, uint offset, uint length, ReadOnlySequence<byte> data)
    {
        if (task.Buffer is not null && (ulong)offset + length <= task.Edtl && task.FailWith is null)
            data.CopyTo(task.Buffer.AsSpan((int)offset, (int)length));
        else if ((ulong)offset + length > task.Edtl)
            task.FailWith ??= TooMuchWriteData;
        task.Received = (uint)Math.Min((ulong)task.Received + length, task.Edtl);
    }

    /// <summary>A Data-Out whose payload was rejected (digest error): its command fails once its data phase ends.</summary>
    private void OnDataOutDiscarded(in PduFrame frame)
    {
        var d = new DataOut(frame.Header);
        IscsiTask? task;
        lock (_taskLock)
            _tasks.TryGetValue(d.InitiatorTaskTag, out task);
        if (task is null || task.State != IscsiTaskState.ReceivingData)
            return;
        task.FailWith ??= SenseCode.ProtocolServiceCrcError;
        // Account for the bytes so the data phase still completes, then fail with CHECK CONDITION.
        OnDataOut(new PduFrame(frame.Header, default, new ReadOnlySequence<byte>(new byte[d.DataSegmentLength]), frame.WireLength));
    }

    private void RetireIfNumbered(IscsiSession session, bool immediate, uint cmdSN)
    {
        if (!immediate)
            session.Retire();
    }

    // ---------------------------------------------------------------- execution

    private void Execute(IscsiTask task)
    {
        task.State = IscsiTaskState.Executing;
        if (task.Aborted)
        {
            CompleteTask(task);
            return;
        }
        if (task.FailWith is SenseCode failure)
        {
            task.Scsi.SetCheckCondition(failure);
            CompleteTask(task);
            return;
        }
        var scsi = task.Scsi;
        scsi.DataOut = task.IsWrite && task.Buffer is not null ? task.Buffer.AsMemory(0, (int)task.Received) : default;
        ValueTask pending;
        try
        {
            pending = _session!.Target!.Scsi.ExecuteAsync(scsi);
        }
        catch (Exception e)
        {
            IscsiLog.CommandFault(_log, Id, scsi.OperationCode, e);
            scsi.SetCheckCondition(SenseCode.InternalTargetFailure);
            CompleteTask(task);
            return;
        }
        if (pending.IsCompletedSuccessfully)
            CompleteTask(task);
        else
            _ = AwaitExecution(pending, task);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitExecution(ValueTask pending, IscsiTask task)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            IscsiLog.CommandFault(_log, Id, task.Scsi.OperationCode, e);
            task.Scsi.SetCheckCondition(SenseCode.InternalTargetFailure);
        }
        CompleteTask(task);
    }

    /// <summary>The command finished: its slot in the window opens and its response is queued, unless it was aborted.</summary>
    private void CompleteTask(IscsiTask task)
    {
        bool aborted;
        TaskCompletionSource? finished;
        lock (_taskLock)
        {
            if (_tasks.TryGetValue(task.Itt, out var current) && ReferenceEquals(current, task))
                _tasks.Remove(task.Itt);
            aborted = task.Aborted;
            finished = task.Finished;
            task.State = IscsiTaskState.Responding;
        }
        if (!task.Immediate)
            _session!.Retire();
        finished?.TrySetResult();
        if (aborted || _phase == ConnectionPhase.Closed)
        {
            // SAM-5 7.2: an aborted task ends without a response.
            ReturnTask(task);
            return;
        }
        EnqueueTaskResponse(task);
    }

    /// <summary>On close: every task ends without a response; buffers go back to the pool.</summary>
    private void AbortAllTasks()
    {
        List<IscsiTask> receiving = new();
        lock (_taskLock)
        {
            foreach (var t in _tasks.Values)
            {
                t.Aborted = true;
                if (t.State == IscsiTaskState.ReceivingData)
                    receiving.Add(t);
            }
            foreach (var t in receiving)
                _tasks.Remove(t.Itt);
        }
        foreach (var t in receiving)
            ReturnTask(t);
    }
}
