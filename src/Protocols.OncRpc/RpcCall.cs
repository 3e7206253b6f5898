using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// One call in flight: its header, credential, argument bytes (a pooled copy of the record, so the
/// handler may await) and its reply buffer. Objects are pooled per connection and reused, so a call
/// allocates nothing in the steady state (STYLE.md 5).
/// </summary>
/// <remarks>
/// The reply buffer starts with room for the record mark and the accepted-reply header
/// (<see cref="ResultsOffset"/> bytes); results are written after it and the header is filled in when
/// the call completes.
/// </remarks>
public sealed class RpcCall : IThreadPoolWorkItem
{
    /// <summary>Record mark (4) + xid, REPLY, MSG_ACCEPTED, verifier flavor and length, accept_stat (24).</summary>
    public const int ResultsOffset = 28;

    /// <summary>Reply buffers up to this size stay with the call object for reuse; larger ones go back to the pool.</summary>
    private const int KeepReplyBuffer = 64 * 1024;

    private byte[] _request = Array.Empty<byte>();
    private int _requestLength;
    private int _requestCharge;
    private byte[] _reply = Array.Empty<byte>();
    private int _resultsLength;

    public uint Xid { get; internal set; }

    public uint Program { get; internal set; }

    public uint Version { get; internal set; }

    public uint Procedure { get; internal set; }

    public RpcCredential Credential { get; } = new();

    /// <summary>The peer's address (IPv4-mapped addresses are unmapped), or null for in-memory transports.</summary>
    public IPAddress? ClientAddress { get; internal set; }

    /// <summary>The connection the call arrived on; its id and endpoints, for logs and the context of the I/O.</summary>
    public RpcConnection? Connection { get; internal set; }

    internal int ArgumentsOffset { get; set; }

    /// <summary>The procedure's argument bytes.</summary>
    public ReadOnlySpan<byte> Arguments => _request.AsSpan(ArgumentsOffset, _requestLength - ArgumentsOffset);

    /// <summary>The argument bytes as memory (valid until the call completes), for zero-copy WRITE data.</summary>
    public ReadOnlyMemory<byte> ArgumentsMemory => _request.AsMemory(ArgumentsOffset, _requestLength - ArgumentsOffset);

    /// <summary>The whole record, for tests.</summary>
    internal ReadOnlySpan<byte> Record => _request.AsSpan(0, _requestLength);

    /// <summary>Scratch slot a program may use for the duration of the call.</summary>
    public object? ProgramState { get; set; }

    internal AcceptStat AcceptStat { get; set; }

    /// <summary>The program a call queued to the thread pool runs in.</summary>
    internal IRpcProgram? Handler { get; set; }

    void IThreadPoolWorkItem.Execute() => Connection!.Invoke(this, Handler!);

    internal int ReplyLength { get; private set; }

    internal ReadOnlySpan<byte> Reply => _reply.AsSpan(0, ReplyLength);

    internal ReadOnlyMemory<byte> ReplyMemory => _reply.AsMemory(0, ReplyLength);

    /// <summary>Takes ownership of a record buffer from <see cref="RecordBuffers"/> and the receive budget it is charged with.</summary>
    internal void SetRequest(byte[] record, int length, int charge = 0)
    {
        _request = record;
        _requestLength = length;
        _requestCharge = charge;
    }

    /// <summary>
    /// Returns a writer for the results with room for at least <paramref name="capacity"/> bytes. Call
    /// <see cref="EndResults"/> with the writer when done.
    /// </summary>
    public XdrWriter BeginResults(int capacity)
    {
        EnsureReply(ResultsOffset + capacity);
        return new XdrWriter(_reply.AsSpan(ResultsOffset, capacity));
    }

    /// <summary>The reply buffer as memory, for a handler that fills part of it asynchronously (READ data).</summary>
    public Memory<byte> ResultsMemory(int capacity)
    {
        EnsureReply(ResultsOffset + capacity);
        return _reply.AsMemory(ResultsOffset, capacity);
    }

    public void EndResults(in XdrWriter writer) => _resultsLength = writer.Position;

    public void EndResults(int length) => _resultsLength = length;

    private void EnsureReply(int size)
    {
        if (_reply.Length >= size)
            return;
        if (_reply.Length > 0)
            ArrayPool<byte>.Shared.Return(_reply);
        _reply = ArrayPool<byte>.Shared.Rent(Math.Max(size, 4096));
    }

    /// <summary>Builds the reply for an outcome: the accepted header over the results, or a denial.</summary>
    internal void BuildReply(RpcOutcome outcome, uint lowVersion = 0, uint highVersion = 0)
    {
        switch (outcome)
        {
            case RpcOutcome.Success:
                WriteAccepted(AcceptStat.Success, _resultsLength);
                break;
            case RpcOutcome.ProcUnavail:
                WriteAccepted(AcceptStat.ProcUnavail, 0);
                break;
            case RpcOutcome.GarbageArgs:
                WriteAccepted(AcceptStat.GarbageArgs, 0);
                break;
            case RpcOutcome.AuthTooWeak:
                WriteDenied(AuthStat.TooWeak);
                break;
            case RpcOutcome.AuthBadCred:
                WriteDenied(AuthStat.BadCred);
                break;
            case RpcOutcome.NoReply:
                ReplyLength = 0;
                break;
            default:
                WriteAccepted(AcceptStat.SystemErr, 0);
                break;
        }
    }

    internal void BuildProgMismatch(uint low, uint high)
    {
        var w = BeginResults(8);
        w.WriteUInt32(low);
        w.WriteUInt32(high);
        WriteAccepted(AcceptStat.ProgMismatch, 8);
    }

    internal void BuildAccepted(AcceptStat stat) => WriteAccepted(stat, 0);

    /// <summary>
    /// accepted_reply (RFC 5531 section 9):
    /// <code>xid | REPLY(1) | MSG_ACCEPTED(0) | verf: AUTH_NONE(0), length 0 | accept_stat | results...</code>
    /// </summary>
    private void WriteAccepted(AcceptStat stat, int resultsLength)
    {
        EnsureReply(ResultsOffset);
        AcceptStat = stat;
        var h = _reply.AsSpan(0, ResultsOffset);
        RecordMarking.WriteMark(h, ResultsOffset - 4 + resultsLength);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], Xid);
        BinaryPrimitives.WriteUInt32BigEndian(h[8..], (uint)MessageType.Reply);
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], (uint)ReplyStat.Accepted);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], (uint)AuthFlavor.None);
        BinaryPrimitives.WriteUInt32BigEndian(h[20..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(h[24..], (uint)stat);
        ReplyLength = ResultsOffset + resultsLength;
    }

    /// <summary>rejected_reply AUTH_ERROR: <code>xid | REPLY | MSG_DENIED(1) | AUTH_ERROR(1) | auth_stat</code></summary>
    internal void WriteDenied(AuthStat stat)
    {
        EnsureReply(24);
        var h = _reply.AsSpan(0, 24);
        RecordMarking.WriteMark(h, 20);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], Xid);
        BinaryPrimitives.WriteUInt32BigEndian(h[8..], (uint)MessageType.Reply);
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], (uint)ReplyStat.Denied);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], (uint)RejectStat.AuthError);
        BinaryPrimitives.WriteUInt32BigEndian(h[20..], (uint)stat);
        ReplyLength = 24;
    }

    /// <summary>rejected_reply RPC_MISMATCH: <code>xid | REPLY | MSG_DENIED | RPC_MISMATCH(0) | low(2) | high(2)</code></summary>
    internal void WriteRpcMismatch()
    {
        EnsureReply(28);
        var h = _reply.AsSpan(0, 28);
        RecordMarking.WriteMark(h, 24);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], Xid);
        BinaryPrimitives.WriteUInt32BigEndian(h[8..], (uint)MessageType.Reply);
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], (uint)ReplyStat.Denied);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], (uint)RejectStat.RpcMismatch);
        BinaryPrimitives.WriteUInt32BigEndian(h[20..], 2);
        BinaryPrimitives.WriteUInt32BigEndian(h[24..], 2);
        ReplyLength = 28;
    }

    /// <summary>Gives the record buffer back; returns the budget charge the caller must release.</summary>
    internal int ReleaseRequest()
    {
        RecordBuffers.Return(_request);
        _request = Array.Empty<byte>();
        _requestLength = 0;
        int charge = _requestCharge;
        _requestCharge = 0;
        return charge;
    }

    /// <summary>Readies the object for reuse after its reply was sent.</summary>
    internal void Reset()
    {
        ReleaseRequest();
        if (_reply.Length > KeepReplyBuffer)
        {
            ArrayPool<byte>.Shared.Return(_reply);
            _reply = Array.Empty<byte>();
        }
        _resultsLength = 0;
        ReplyLength = 0;
        ProgramState = null;
        Connection = null;
        Handler = null;
    }
}
