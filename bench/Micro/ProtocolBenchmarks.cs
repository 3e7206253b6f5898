using System.Buffers;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using StorageAppliance.Common;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Micro;

/// <summary>
/// Framing a SCSI Command PDU (a 4 KiB WRITE with immediate data, CRC32C header and data digests) out of a
/// receive buffer, and decoding an NFSv3 WRITE call (RPC header, AUTH_SYS, WRITE3args) from a record:
/// the work the receive loops do per request before the Director sees it.
/// </summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private ReadOnlySequence<byte> _pdu;
    private readonly FramingOptions _framing = new() { HeaderDigest = true, DataDigest = true, MaxRecvDataSegmentLength = 262144 };
    private byte[] _rpcWrite = null!;

    [GlobalSetup]
    public void Setup()
    {
        // SCSI Command: opcode 0x01, F and W, LUN 0, ITT 1, EDTL 4096, CmdSN 1, WRITE(10) CDB, 4 KiB immediate data.
        var pdu = new byte[48 + 4 + 4096 + 4];
        pdu[0] = 0x01;
        pdu[1] = 0xA1;
        pdu[5] = 0x00; pdu[6] = 0x10; pdu[7] = 0x00;
        BinaryPrimitives.WriteUInt32BigEndian(pdu.AsSpan(16), 1);
        BinaryPrimitives.WriteUInt32BigEndian(pdu.AsSpan(20), 4096);
        BinaryPrimitives.WriteUInt32BigEndian(pdu.AsSpan(24), 1);
        pdu[32] = 0x2A;
        pdu[39] = 0x08;
        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(48), Crc32C.Compute(pdu.AsSpan(0, 48)));
        new Random(1).NextBytes(pdu.AsSpan(52, 4096));
        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(52 + 4096), Crc32C.Compute(pdu.AsSpan(52, 4096)));
        _pdu = new ReadOnlySequence<byte>(pdu);

        // An NFSv3 WRITE call: xid, CALL, rpcvers 2, prog 100003, vers 3, proc 7, AUTH_SYS, AUTH_NONE verifier,
        // then a 24-byte handle, offset, count, stable, and 4 KiB of data.
        var w = new List<byte>();
        void U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, v); w.AddRange(b); }
        U32(7); U32(0); U32(2); U32(100003); U32(3); U32(7);
        U32(1); U32(20); U32(0); U32(4); w.AddRange("host"u8.ToArray()); U32(0); U32(0); U32(0);
        U32(0); U32(0);
        U32(24); w.AddRange(new byte[24]);
        U32(0); U32(65536); U32(4096); U32(0); U32(4096); w.AddRange(new byte[4096]);
        _rpcWrite = w.ToArray();
    }

    [Benchmark(Description = "iSCSI: frame a 4 KiB SCSI WRITE PDU with digests")]
    public uint IscsiFrameScsiCommand()
    {
        var buffer = _pdu;
        if (PduReader.TryRead(ref buffer, _framing, out var frame, out _) != FrameResult.Complete)
            throw new InvalidOperationException("the PDU did not frame");
        var command = new ScsiCommandRequest(frame.Header);
        return command.ExpectedDataTransferLength + (uint)frame.Data.Length;
    }

    [Benchmark(Description = "ONC RPC + XDR: decode an NFSv3 WRITE call of 4 KiB")]
    public long DecodeNfsWrite()
    {
        if (!RpcCallHeader.TryRead(_rpcWrite, out var header, out _))
            throw new InvalidOperationException("the call did not parse");
        var r = new XdrReader(_rpcWrite.AsSpan(header.ArgumentsOffset));
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh) || !r.TryReadUInt64(out ulong offset) || !r.TryReadUInt32(out uint count)
            || !r.TryReadUInt32(out uint stable) || !r.TryReadOpaqueRange(int.MaxValue, out int dataOffset, out int dataLength))
            throw new InvalidOperationException("WRITE3args did not parse");
        return (long)offset + count + stable + fh.Length + dataOffset + dataLength;
    }
}

/// <summary>CRC32C (iSCSI digests, journal records, extent checksums) over a 4 KiB and a 64 KiB buffer.</summary>
[MemoryDiagnoser]
public class Crc32CBenchmarks
{
    private byte[] _data = null!;

    [Params(4096, 65536)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(2).NextBytes(_data);
    }

    [Benchmark(Description = "CRC32C")]
    public uint Compute() => Crc32C.Compute(_data);
}
