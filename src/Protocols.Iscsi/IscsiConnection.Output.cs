using System.Buffers;
using System.Runtime.CompilerServices;
using StorageAppliance.Common;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

// Output: every PDU the target sends goes through one queue, drained by one writer at a time.
//
// The receive loop batches: responses produced while it handles one read buffer are written and
// flushed together (one send for many PDUs). Completions on other threads enqueue and, if nobody is
// draining, drain themselves. StatSN, ExpCmdSN and MaxCmdSN are stamped at drain time, so StatSN
// increases in exactly the order PDUs reach the wire (RFC 7143 4.2.2.2).
public sealed partial class IscsiConnection
{
    private enum OutKind : byte
    {
        TaskResponse,
        R2T,
        Prebuilt,
    }

    /// <summary>How a prebuilt PDU treats StatSN.</summary>
    private enum StatSNUse : byte
    {
        /// <summary>Carries the current StatSN and advances it (responses).</summary>
        Advance,

        /// <summary>Carries the current StatSN without advancing it (NOP-In ping, Async Message, R2T).</summary>
        Stamp,
    }

    private struct Outgoing
    {
        public OutKind Kind;
        public IscsiTask? Task;
        public R2TSequence R2T;
        public uint Itt;
        public ulong Lun;
        public byte[]? Pdu;
        public int PduLength;
        public StatSNUse StatSN;
        public bool NoDigests;
        public bool CloseAfter;
    }

    private readonly object _outLock = new();
    private Queue<Outgoing> _outQueue = new(64);
    private Queue<Outgoing> _outWork = new(64);
    private bool _draining;
    private bool _batching;
    private TaskCompletionSource? _idleWaiter;
    // RFC 7143 11.13.4: the first login response carries a StatSN the target chooses.
    private uint _statSN = (uint)Random.Shared.Next();
    private static readonly byte[] s_zeros = new byte[4];

    private void Enqueue(in Outgoing item)
    {
        bool start;
        lock (_outLock)
        {
            _outQueue.Enqueue(item);
            start = !_draining && !_batching;
            if (start)
                _draining = true;
        }
        if (start)
            _ = DrainAsync();
    }

    private void BeginBatch()
    {
        lock (_outLock)
            _batching = true;
    }

    private ValueTask EndBatchAsync()
    {
        lock (_outLock)
        {
            _batching = false;
            if (_draining || _outQueue.Count == 0)
                return default;
            _draining = true;
        }
        return DrainAsync();
    }

    /// <summary>Waits until everything queued has been written and flushed (or the timeout passes).</summary>
    private async Task WaitForOutputIdleAsync(TimeSpan timeout)
    {
        Task wait;
        lock (_outLock)
        {
            if (!_draining && _outQueue.Count == 0)
                return;
            _idleWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _idleWaiter.Task;
        }
        await Task.WhenAny(wait, Task.Delay(timeout)).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DrainAsync()
    {
        var output = _transport.Output;
        bool closeAfter = false;
        try
        {
            while (true)
            {
                Queue<Outgoing> work;
                lock (_outLock)
                {
                    if (_outQueue.Count == 0)
                    {
                        _draining = false;
                        var w = _idleWaiter;
                        _idleWaiter = null;
                        w?.TrySetResult();
                        break;
                    }
                    work = _outQueue;
                    _outQueue = _outWork;
                    _outWork = work;
                }
                while (work.TryDequeue(out var item))
                {
                    Render(in item);
                    closeAfter |= item.CloseAfter;
                }
                var flush = await output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                    throw new IOException("the peer stopped reading");
            }
        }
        catch (Exception e)
        {
            lock (_outLock)
            {
                _draining = false;
                // Nothing more can be sent: drop what is queued (their tasks are released by close).
                while (_outQueue.TryDequeue(out var dropped))
                    Discard(in dropped);
                var w = _idleWaiter;
                _idleWaiter = null;
                w?.TrySetResult();
            }
            Abort("send failed: " + e.Message);
            return;
        }
        if (closeAfter)
            Abort(_closeReason ?? "closed after response");
    }

    private void Discard(in Outgoing item)
    {
        if (item.Pdu is not null)
            ArrayPool<byte>.Shared.Return(item.Pdu);
        if (item.Kind == OutKind.TaskResponse && item.Task is not null)
            ReturnTask(item.Task);
    }

    private void Render(in Outgoing item)
    {
        switch (item.Kind)
        {
            case OutKind.TaskResponse:
                RenderTaskResponse(item.Task!);
                break;
            case OutKind.R2T:
                {
                    Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
                    // Tags were copied at enqueue time: the task may be aborted and reused before this runs.
                    var r = item.R2T;
                    ReadyToTransfer.WriteHeader(bhs, item.Lun, item.Itt, r.TargetTransferTag, r.NextDataSN, r.BufferOffset, r.Length);
                    StampSequenceNumbers(bhs, advanceStatSN: false);
                    WritePdu(bhs, default, noDigests: false);
                    break;
                }
            case OutKind.Prebuilt:
                {
                    var pdu = item.Pdu!.AsSpan(0, item.PduLength);
                    var bhs = pdu[..BasicHeaderSegment.Length];
                    StampSequenceNumbers(bhs, item.StatSN == StatSNUse.Advance);
                    WritePdu(bhs, pdu[BasicHeaderSegment.Length..], item.NoDigests);
                    ArrayPool<byte>.Shared.Return(item.Pdu!);
                    break;
                }
        }
    }

    /// <summary>Fills StatSN (24), ExpCmdSN (28) and MaxCmdSN (32), the same offsets in every target PDU that carries them.</summary>
    private void StampSequenceNumbers(Span<byte> bhs, bool advanceStatSN)
    {
        HeaderWriter.UInt32(bhs, 24, _statSN);
        if (advanceStatSN)
            _statSN++;
        var session = _session;
        uint exp = session?.ExpCmdSN ?? _loginCmdSN;
        uint max = session?.MaxCmdSN ?? _loginCmdSN + (uint)_server.Options.QueueDepth - 1;
        HeaderWriter.UInt32(bhs, 28, exp);
        HeaderWriter.UInt32(bhs, 32, max);
    }

    /// <summary>Writes header, header digest, data, padding and data digest into the pipe (RFC 7143 11.1).</summary>
    private void WritePdu(ReadOnlySpan<byte> bhs, ReadOnlySpan<byte> data, bool noDigests)
    {
        var output = _transport.Output;
        bool hd = _framing.HeaderDigest && !noDigests;
        bool dd = _framing.DataDigest && !noDigests && data.Length > 0;
        int pad = HeaderWriter.Padded(data.Length) - data.Length;
        int headerBytes = BasicHeaderSegment.Length + (hd ? 4 : 0);
        int total = headerBytes + data.Length + pad + (dd ? 4 : 0);

        if (total <= 8192)
        {
            // Small PDU: one contiguous span.
            var span = output.GetSpan(total);
            bhs.CopyTo(span);
            if (hd)
                Crc32C.WriteDigest(span[BasicHeaderSegment.Length..], Crc32C.Compute(bhs));
            data.CopyTo(span[headerBytes..]);
            span.Slice(headerBytes + data.Length, pad).Clear();
            if (dd)
                Crc32C.WriteDigest(span[(headerBytes + data.Length + pad)..], Crc32C.Compute(span.Slice(headerBytes, data.Length + pad)));
            output.Advance(total);
            return;
        }

        var head = output.GetSpan(headerBytes);
        bhs.CopyTo(head);
        if (hd)
            Crc32C.WriteDigest(head[BasicHeaderSegment.Length..], Crc32C.Compute(bhs));
        output.Advance(headerBytes);
        output.Write(data);
        if (pad > 0)
            output.Write(s_zeros.AsSpan(0, pad));
        if (dd)
        {
            uint state = Crc32C.Update(Crc32C.InitialState, data);
            state = Crc32C.Update(state, s_zeros.AsSpan(0, pad));
            Span<byte> digest = stackalloc byte[4];
            Crc32C.WriteDigest(digest, Crc32C.Finish(state));
            output.Write(digest);
        }
    }

    /// <summary>
    /// Data-In PDUs for the data, then status: collapsed into the last Data-In (S bit) when the status is
    /// GOOD without sense, otherwise a SCSI Response carrying the sense (RFC 7143 11.7.4, 11.4).
    /// </summary>
    private void RenderTaskResponse(IscsiTask t)
    {
        var s = t.Scsi;
        var p = _session!.Parameters;
        uint edtl = t.Edtl;
        int dataLength = t.IsWrite ? 0 : (int)Math.Min((uint)s.DataInLength, edtl);

        // RFC 7143 11.4.5: residuals compare what the command would move by its CDB with the EDTL,
        // whatever the status (a refused write still reports the overflow it was sent with).
        byte residualFlags = 0;
        uint residual = 0;
        long transfer = s.TransferLength;
        if (transfer > edtl)
        {
            residualFlags = ScsiResponse.FlagResidualOverflow;
            residual = (uint)Math.Min(transfer - edtl, uint.MaxValue);
        }
        else if (transfer < edtl)
        {
            residualFlags = ScsiResponse.FlagResidualUnderflow;
            residual = (uint)(edtl - transfer);
        }

        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        bool collapse = dataLength > 0 && s.SenseLength == 0;
        if (dataLength > 0)
        {
            var data = s.DataIn.Span[..dataLength];
            int segment = p.InitiatorMaxRecvDataSegmentLength;
            int burst = p.MaxBurstLength;
            int offset = 0;
            int inBurst = 0;
            while (offset < dataLength)
            {
                int len = Math.Min(Math.Min(segment, dataLength - offset), burst - inBurst);
                bool last = offset + len == dataLength;
                inBurst += len;
                byte flags = 0;
                if (last || inBurst == burst)
                {
                    flags |= DataIn.FlagFinal;
                    inBurst = 0;
                }
                bool withStatus = last && collapse;
                if (withStatus)
                    flags |= (byte)(DataIn.FlagStatus | residualFlags);
                DataIn.WriteHeader(bhs, flags, (byte)s.Status, t.Itt, t.DataInPdusSent, (uint)offset, residual, len);
                if (withStatus)
                    StampSequenceNumbers(bhs, advanceStatSN: true);
                else
                {
                    // StatSN is reserved without the S bit; ExpCmdSN and MaxCmdSN still travel.
                    StampSequenceNumbers(bhs, advanceStatSN: false);
                    HeaderWriter.UInt32(bhs, 24, 0);
                }
                WritePdu(bhs, data.Slice(offset, len), noDigests: false);
                t.DataInPdusSent++;
                offset += len;
            }
        }

        if (!collapse)
        {
            int senseLength = s.SenseLength;
            int dsl = ScsiResponse.DataSegmentLength(senseLength);
            uint expDataSN = t.IsWrite ? t.NextR2TSN : t.DataInPdusSent;
            ScsiResponse.WriteHeader(bhs, t.Itt, (byte)s.Status, ScsiResponse.CommandCompleted, residualFlags, residual, expDataSN, dsl);
            StampSequenceNumbers(bhs, advanceStatSN: true);
            if (dsl == 0)
            {
                WritePdu(bhs, default, noDigests: false);
            }
            else
            {
                Span<byte> seg = stackalloc byte[2 + ScsiTask.MaxSenseLength];
                seg[0] = (byte)(senseLength >> 8);
                seg[1] = (byte)senseLength;
                s.Sense.CopyTo(seg[2..]);
                WritePdu(bhs, seg[..dsl], noDigests: false);
            }
        }
        ReturnTask(t);
    }

    // ---------------------------------------------------------------- prebuilt PDUs

    /// <summary>A PDU built now (header at 0, data after), stamped and sent in queue order.</summary>
    private void EnqueuePrebuilt(ReadOnlySpan<byte> bhs, ReadOnlySpan<byte> data, StatSNUse statSN, bool noDigests = false, bool closeAfter = false)
    {
        int length = BasicHeaderSegment.Length + data.Length;
        byte[] pdu = ArrayPool<byte>.Shared.Rent(length);
        bhs.CopyTo(pdu);
        data.CopyTo(pdu.AsSpan(BasicHeaderSegment.Length));
        Enqueue(new Outgoing { Kind = OutKind.Prebuilt, Pdu = pdu, PduLength = length, StatSN = statSN, NoDigests = noDigests, CloseAfter = closeAfter });
    }

    /// <summary>Reject with the rejected PDU's header as data (RFC 7143 11.17).</summary>
    private void EnqueueReject(RejectReason reason, in PduFrame rejected)
    {
        IscsiLog.Rejected(_log, Id, Peer, rejected.Header.Opcode, rejected.Header.InitiatorTaskTag, reason);
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        RejectPdu.WriteHeader(bhs, reason, BasicHeaderSegment.Length);
        EnqueuePrebuilt(bhs, rejected.Header.ReadOnlySpan, StatSNUse.Advance);
    }

    private void EnqueueTaskResponse(IscsiTask t) => Enqueue(new Outgoing { Kind = OutKind.TaskResponse, Task = t });

    private void EnqueueR2T(IscsiTask t, in R2TSequence r2t, uint r2tSN)
    {
        var copy = r2t;
        copy.NextDataSN = r2tSN; // carried in the R2TSN field
        Enqueue(new Outgoing { Kind = OutKind.R2T, Itt = t.Itt, Lun = t.LunField, R2T = copy });
    }
}
