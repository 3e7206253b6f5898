using StorageAppliance.Fuzz.Support;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Fuzz.Targets;

/// <summary>
/// ONC RPC record marking (RFC 5531 11) and the call header (RFC 5531 9), with the XDR reader (RFC 4506):
/// records are taken off a stream cut into segments by <see cref="RecordAssembler.TryRead"/>, each parsed by
/// <see cref="RpcCallHeader.TryRead"/>, and the arguments walked with every <see cref="XdrReader"/> read.
/// Input: byte 0 where the stream is cut, then the stream.
/// Documented outcomes: false (need more bytes / malformed header) and, for a record over the limit,
/// <see cref="InvalidDataException"/> (the connection closes).
/// </summary>
public sealed class RpcRecordTarget : IFuzzTarget
{
    /// <summary>Small, so the over-limit path is reachable by the fuzzer.</summary>
    private const int MaxRecord = 64 << 10;

    /// <summary>The appliance's default bound on fragments per record.</summary>
    private const int MaxFragments = 1024;

    public string Name => "rpc-record";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 1)
            return;
        var buffer = FuzzInput.Segmented(input[1..], input[0]);
        using var assembler = new RecordAssembler(MaxRecord, MaxFragments);
        for (int records = 0; records < 1000; records++)
        {
            long before = buffer.Length;
            byte[] record;
            int length;
            try
            {
                var progress = assembler.TryRead(ref buffer, out record, out length, out _);
                if (progress != RecordProgress.Complete)
                {
                    // Without a budget the assembler never waits for one; an incomplete record takes all input.
                    if (progress != RecordProgress.NeedMore || !buffer.IsEmpty)
                        throw new FuzzDefectException($"incomplete record: {progress} with {buffer.Length} bytes left");
                    return;
                }
            }
            catch (InvalidDataException)
            {
                return;
            }
            if (length < 0 || length > MaxRecord || buffer.Length >= before)
                throw new FuzzDefectException($"record of {length} bytes, {before - buffer.Length} consumed");
            try
            {
                Header(record.AsSpan(0, length));
            }
            finally
            {
                RecordBuffers.Return(record);
            }
        }
    }

    private static void Header(ReadOnlySpan<byte> record)
    {
        if (!RpcCallHeader.TryRead(record, out var header, out uint? xid))
        {
            if (record.Length >= 4 && xid is null)
                throw new FuzzDefectException("no xid from a record of four bytes or more");
            return;
        }
        if (header.Type != MessageType.Call)
            return;
        if (header.ArgumentsOffset > record.Length || header.CredentialOffset + header.CredentialLength > record.Length || header.CredentialLength > RpcCallHeader.MaxAuthBody)
            throw new FuzzDefectException("call header ranges outside the record");
        Walk(record[header.ArgumentsOffset..], header.Procedure);
    }

    /// <summary>Reads the arguments as a sequence of XDR items chosen by the procedure number; every read either advances or fails.</summary>
    private static void Walk(ReadOnlySpan<byte> args, uint choice)
    {
        var r = new XdrReader(args);
        for (int i = 0; i < 64; i++)
        {
            int before = r.Position;
            bool ok = ((choice >> (i % 8 * 4)) & 7) switch
            {
                0 => r.TryReadUInt32(out _),
                1 => r.TryReadUInt64(out _),
                2 => r.TryReadBool(out _),
                3 => r.TryReadOpaque(1024, out _),
                4 => r.TryReadString(255, out _),
                5 => r.TryReadOpaqueRange(int.MaxValue, out _, out _),
                6 => r.TryReadFixedOpaque(i * 3, out _),
                _ => r.TrySkip(i),
            };
            if (r.Position < before || r.Position > args.Length || r.Remaining < 0)
                throw new FuzzDefectException("XdrReader position out of range");
            if (!ok)
                return;
        }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var nullCall = RpcSeeds.Call(1, 100003, 3, 0, []);
        yield return ("nfs-null", IscsiPduTarget.Concat([0], RpcSeeds.Record(nullCall)));
        yield return ("two-fragments", IscsiPduTarget.Concat([5], RpcSeeds.Fragments(RpcSeeds.Call(2, 100003, 3, 1, new byte[28]), 20)));
        yield return ("mount-auth-none", IscsiPduTarget.Concat([0], RpcSeeds.Record(RpcSeeds.Call(3, 100005, 3, 1, RpcSeeds.Str("/data"), authSys: false))));
        yield return ("pipelined", IscsiPduTarget.Concat([11], RpcSeeds.Record(nullCall), RpcSeeds.Record(RpcSeeds.Call(4, 100000, 2, 3, new byte[16])), RpcSeeds.Record(nullCall)));
        yield return ("reply-message", IscsiPduTarget.Concat([0], RpcSeeds.Record([0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0])));
        yield return ("empty-fragments", IscsiPduTarget.Concat([0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], RpcSeeds.Record(nullCall)));
        yield return ("over-limit", IscsiPduTarget.Concat([0], [0x80, 0x01, 0x00, 0x04], nullCall));
    }
}
