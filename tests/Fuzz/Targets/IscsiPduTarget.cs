using System.Buffers;
using StorageAppliance.Fuzz.Support;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Protocol;

namespace StorageAppliance.Fuzz.Targets;

/// <summary>
/// iSCSI PDU framing (RFC 7143 11.1): <see cref="PduReader.TryRead"/> over a stream cut into segments,
/// the header of every framed PDU decoded into its request struct, and the text of Login and Text PDUs
/// parsed. Input: byte 0 the framing options (bit 0 header digest, bit 1 data digest, bits 2-3 the
/// MaxRecvDataSegmentLength), byte 1 where the stream is cut, then the stream.
/// Documented outcomes: the <see cref="FrameResult"/> values; the reader must always consume what it framed.
/// </summary>
public sealed class IscsiPduTarget : IFuzzTarget
{
    private static readonly int[] SegmentLimits = [512, 8192, 65536, 262144];

    public string Name => "iscsi-pdu";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2)
            return;
        var options = new FramingOptions
        {
            HeaderDigest = (input[0] & 1) != 0,
            DataDigest = (input[0] & 2) != 0,
            MaxRecvDataSegmentLength = SegmentLimits[(input[0] >> 2) & 3],
        };
        var buffer = FuzzInput.Segmented(input[2..], input[1]);
        var keys = new List<KeyValuePair<string, string>>();
        for (int pdus = 0; pdus < 1000; pdus++)
        {
            long before = buffer.Length;
            var result = PduReader.TryRead(ref buffer, options, out var frame, out long needed);
            switch (result)
            {
                case FrameResult.Incomplete:
                    if (buffer.Length != before)
                        throw new FuzzDefectException("Incomplete consumed input");
                    if (needed <= before && before >= BasicHeaderSegment.Length)
                        throw new FuzzDefectException($"Incomplete with {before} bytes buffered and {needed} needed");
                    return;
                case FrameResult.HeaderDigestError:
                    return; // the connection closes: the framing can no longer be trusted
                case FrameResult.DataSegmentTooLong:
                    if (buffer.Length != before || frame.WireLength < BasicHeaderSegment.Length)
                        throw new FuzzDefectException("DataSegmentTooLong moved the buffer or framed nothing");
                    if (frame.WireLength >= buffer.Length)
                        return;
                    buffer = buffer.Slice(frame.WireLength); // as the connection skips it
                    continue;
                case FrameResult.Complete:
                case FrameResult.DataDigestError:
                    if (before - buffer.Length != frame.WireLength || frame.WireLength < BasicHeaderSegment.Length)
                        throw new FuzzDefectException($"{result}: consumed {before - buffer.Length} bytes for a PDU of {frame.WireLength}");
                    if (frame.Data.Length != frame.Header.DataSegmentLength || frame.Ahs.Length != frame.Header.TotalAhsLength)
                        throw new FuzzDefectException("frame slices disagree with the header");
                    if (result == FrameResult.Complete)
                        Decode(in frame, keys);
                    continue;
                default:
                    throw new FuzzDefectException($"unknown FrameResult {result}");
            }
        }
    }

    private static void Decode(in PduFrame frame, List<KeyValuePair<string, string>> keys)
    {
        var h = frame.Header;
        switch (h.Opcode)
        {
            case IscsiOpcode.LoginRequest:
                _ = new LoginRequest(in h);
                ParseText(frame.Data, keys);
                break;
            case IscsiOpcode.TextRequest:
                _ = new TextRequest(in h);
                ParseText(frame.Data, keys);
                break;
            case IscsiOpcode.ScsiCommand:
                _ = new ScsiCommandRequest(in h);
                break;
            case IscsiOpcode.DataOut:
                _ = new DataOut(in h);
                break;
            case IscsiOpcode.NopOut:
                _ = new NopOut(in h);
                break;
            case IscsiOpcode.LogoutRequest:
                _ = new LogoutRequest(in h);
                break;
            case IscsiOpcode.TaskManagementRequest:
                _ = new TaskManagementRequest(in h);
                break;
        }
    }

    private static void ParseText(ReadOnlySequence<byte> data, List<KeyValuePair<string, string>> keys)
    {
        keys.Clear();
        byte[] text = data.ToArray();
        if (TextParameters.TryParse(text, keys, out string? error) == (error is not null))
            throw new FuzzDefectException("TryParse result and error disagree");
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        byte[] text = Text("InitiatorName=iqn.1994-05.com.example:host1\0SessionType=Normal\0TargetName=iqn.2026-01.io.storageappliance.test:disk0\0AuthMethod=None\0");
        var login = Concat(Pdus.Login(true, false, LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, 0x80_0000_0001UL, 0, 1, 0, 1, 0, text.Length), Pad(text));
        yield return ("login-security", Concat([0, 0], login));
        yield return ("login-split", Concat([0, 7], login));
        byte[] op = Text("HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=262144\0ImmediateData=Yes\0InitialR2T=No\0");
        yield return ("login-operational", Concat([0, 0], Pdus.Login(true, false, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, 0x80_0000_0001UL, 0, 2, 0, 1, 0, op.Length), Pad(op)));
        var read = Pdus.ScsiCommand([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0], 3, 4096, 2, 1, read: true, write: false);
        var write = Pdus.ScsiCommand([0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], 4, 512, 3, 1, read: false, write: true, dataSegmentLength: 512);
        yield return ("scsi-read-write", Concat([0, 0], read, write, new byte[512]));
        yield return ("data-out", Concat([0x04, 3], Pdus.DataOut(true, 4, 0x10, 1, 0, 0, 256), new byte[256]));
        yield return ("nop-text-logout", Concat([0, 0], Pdus.NopOut(5, 0xFFFFFFFF, 4, 1, 4), [1, 2, 3, 4],
            Pdus.Text(6, 0xFFFFFFFF, 5, 1, 16), Pad(Text("SendTargets=All\0")), Pdus.Logout(LogoutReason.CloseSession, 7, 0, 6, 1)));
        yield return ("task-management", Concat([0, 0], Pdus.TaskManagement(TaskManagementFunction.AbortTask, 8, 3, 7, 1, 2)));
        var withAhs = Pdus.ScsiCommand(new byte[16], 9, 0, 8, 1, read: false, write: false);
        withAhs[4] = 2; // TotalAHSLength: one 8-byte Extended CDB AHS
        yield return ("extended-cdb-ahs", Concat([0, 0], withAhs, [0, 5, 1, 0, 1, 2, 3, 4]));
        yield return ("digests", DigestSeed());
    }

    private static byte[] DigestSeed()
    {
        var nop = Pdus.NopOut(5, 0xFFFFFFFF, 4, 1, 4);
        var hd = new byte[4];
        Common.Crc32C.WriteDigest(hd, Common.Crc32C.Compute(nop));
        byte[] data = [1, 2, 3, 4];
        var dd = new byte[4];
        Common.Crc32C.WriteDigest(dd, Common.Crc32C.Compute(data));
        return Concat([3, 0], nop, hd, data, dd);
    }

    internal static byte[] Text(string s) => System.Text.Encoding.ASCII.GetBytes(s);

    internal static byte[] Pad(byte[] b) => Concat(b, new byte[((b.Length + 3) & ~3) - b.Length]);

    internal static byte[] Concat(params byte[][] parts)
    {
        var all = new List<byte>();
        foreach (var p in parts)
            all.AddRange(p);
        return all.ToArray();
    }
}
