using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using StorageAppliance.Common;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// A deliberately small initiator over a raw socket, for sending what real initiators never send:
/// truncated, oversized and malformed PDUs. It builds PDUs by hand from the RFC 7143 layouts.
/// </summary>
public sealed class RawInitiator : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private uint _cmdSN;
    private uint _itt = 1;

    public RawInitiator(int port)
    {
        _client = new TcpClient("127.0.0.1", port) { ReceiveTimeout = 10000, NoDelay = true };
        _stream = _client.GetStream();
    }

    public bool HeaderDigest { get; private set; }

    public uint CmdSN => _cmdSN;

    /// <summary>Logs in straight to full feature phase (operational stage only) and returns the status class/detail.</summary>
    public ushort Login(string initiator, string target, string headerDigest = "None", int maxRecv = 8192, uint? isidQualifier = null)
    {
        var text = new StringBuilder();
        text.Append($"InitiatorName={initiator}\0SessionType=Normal\0TargetName={target}\0");
        text.Append($"HeaderDigest={headerDigest}\0DataDigest=None\0MaxRecvDataSegmentLength={maxRecv}\0");
        text.Append("ImmediateData=Yes\0InitialR2T=No\0");
        byte[] data = Encoding.ASCII.GetBytes(text.ToString());
        var bhs = new byte[48];
        bhs[0] = 0x43; // I + Login Request
        bhs[1] = 0x80 | (1 << 2) | 3; // T, CSG=1 (operational), NSG=3 (full feature)
        SetLength(bhs, data.Length);
        bhs[8] = 0x40; // ISID type "random"
        // A fixed qualifier names the same initiator port (I_T nexus) across logins, as reservations need.
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(9), isidQualifier ?? (uint)Random.Shared.Next());
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), _itt++);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), _cmdSN);
        Send(bhs, data, digest: false);
        var (header, body) = ReceivePdu(digest: false);
        ushort status = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(36));
        if (status == 0)
        {
            HeaderDigest = Encoding.ASCII.GetString(body).Contains("HeaderDigest=CRC32C", StringComparison.Ordinal);
            _cmdSN = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(28));
        }
        return status;
    }

    /// <summary>A TEST UNIT READY on LUN 0; returns the SCSI status byte of the response (skipping other PDUs).</summary>
    public byte TestUnitReady()
    {
        var bhs = new byte[48];
        bhs[0] = 0x01;
        bhs[1] = 0x80 | 0x01; // F, simple
        uint itt = _itt++;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), itt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), _cmdSN++);
        Send(bhs, [], HeaderDigest);
        while (true)
        {
            var (h, _) = ReceivePdu(HeaderDigest);
            if ((h[0] & 0x3f) == 0x21 && BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16)) == itt)
                return h[3];
        }
    }

    /// <summary>Sends a data-in (or no-data) SCSI command to a LUN below 256 and gathers status and data (Data-In PDUs, S bit or SCSI Response).</summary>
    public (byte Status, byte[] Data) ScsiCommandIn(byte[] cdb, int expectedLength, int lun = 0)
    {
        var bhs = new byte[48];
        bhs[0] = 0x01;
        bhs[1] = (byte)(0x80 | (expectedLength > 0 ? 0x40 : 0) | 0x01); // F, R, simple
        bhs[9] = (byte)lun; // peripheral device addressing (SAM-5 4.7.6)
        uint itt = _itt++;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), itt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), (uint)expectedLength);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), _cmdSN++);
        cdb.CopyTo(bhs, 32);
        Send(bhs, [], HeaderDigest);
        var data = new List<byte>();
        while (true)
        {
            var (h, d) = ReceivePdu(HeaderDigest);
            int opcode = h[0] & 0x3f;
            if (BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16)) != itt)
                continue;
            if (opcode == 0x25)
            {
                data.AddRange(d);
                if ((h[1] & 0x01) != 0)
                    return (h[3], data.ToArray());
            }
            else if (opcode == 0x21)
            {
                return (h[3], data.ToArray());
            }
        }
    }

    /// <summary>
    /// Sends a data-out SCSI command with all its data as immediate data (at most 64 KiB, the default
    /// FirstBurstLength) and returns the status and the sense data of the SCSI Response.
    /// </summary>
    public (byte Status, byte[] Sense) ScsiCommandOut(byte[] cdb, byte[] data, int lun = 0)
    {
        if (data.Length > 65536)
            throw new ArgumentException("at most 64 KiB of immediate data", nameof(data));
        var bhs = new byte[48];
        bhs[0] = 0x01;
        bhs[1] = (byte)(0x80 | (data.Length > 0 ? 0x20 : 0) | 0x01); // F, W, simple
        bhs[9] = (byte)lun;
        SetLength(bhs, data.Length);
        uint itt = _itt++;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), itt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), (uint)data.Length);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), _cmdSN++);
        cdb.CopyTo(bhs, 32);
        Send(bhs, data, HeaderDigest);
        while (true)
        {
            var (h, d) = ReceivePdu(HeaderDigest);
            if ((h[0] & 0x3f) != 0x21 || BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16)) != itt)
                continue;
            byte[] sense = d.Length >= 2 ? d.AsSpan(2, Math.Min(d.Length - 2, (d[0] << 8) | d[1])).ToArray() : [];
            return (h[3], sense);
        }
    }

    /// <summary>As <see cref="ScsiCommandIn"/>, with the sense data of a CHECK CONDITION (the SCSI Response data segment).</summary>
    public (byte Status, byte[] Data, byte[] Sense) ScsiCommandInWithSense(byte[] cdb, int expectedLength, int lun = 0)
    {
        var bhs = new byte[48];
        bhs[0] = 0x01;
        bhs[1] = (byte)(0x80 | (expectedLength > 0 ? 0x40 : 0) | 0x01);
        bhs[9] = (byte)lun;
        uint itt = _itt++;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), itt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), (uint)expectedLength);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), _cmdSN++);
        cdb.CopyTo(bhs, 32);
        Send(bhs, [], HeaderDigest);
        var data = new List<byte>();
        while (true)
        {
            var (h, d) = ReceivePdu(HeaderDigest);
            if (BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16)) != itt)
                continue;
            int opcode = h[0] & 0x3f;
            if (opcode == 0x25)
            {
                data.AddRange(d);
                if ((h[1] & 0x01) != 0)
                    return (h[3], data.ToArray(), []);
            }
            else if (opcode == 0x21)
            {
                byte[] sense = d.Length >= 2 ? d.AsSpan(2, Math.Min(d.Length - 2, (d[0] << 8) | d[1])).ToArray() : [];
                return (h[3], data.ToArray(), sense);
            }
        }
    }

    /// <summary>TEST UNIT READY until GOOD (unit attentions after login are consumed); false after 10 tries.</summary>
    public bool ClearUnitAttentions(int lun = 0)
    {
        for (int i = 0; i < 10; i++)
            if (ScsiCommandIn([0x00, 0, 0, 0, 0, 0], 0, lun).Status == 0)
                return true;
        return false;
    }

    public void Send(byte[] bhs, byte[] data, bool digest)
    {
        var pdu = new List<byte>(bhs);
        if (digest)
        {
            var d = new byte[4];
            Crc32C.WriteDigest(d, Crc32C.Compute(bhs));
            pdu.AddRange(d);
        }
        pdu.AddRange(data);
        while (pdu.Count % 4 != 0)
            pdu.Add(0);
        _stream.Write(pdu.ToArray());
    }

    public void SendRaw(byte[] bytes) => _stream.Write(bytes);

    public (byte[] Header, byte[] Data) ReceivePdu(bool digest)
    {
        var header = ReadExactly(48);
        if (digest)
            ReadExactly(4);
        int dsl = (header[5] << 16) | (header[6] << 8) | header[7];
        int padded = (dsl + 3) & ~3;
        var data = ReadExactly(padded);
        return (header, data.AsSpan(0, dsl).ToArray());
    }

    /// <summary>True when the target closed the connection (read returns 0) within the timeout.</summary>
    public bool WaitForClose(TimeSpan timeout)
    {
        _client.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = _stream.Read(buffer);
                if (n == 0)
                    return true;
            }
        }
        catch (IOException)
        {
            return true; // reset or timeout; a timeout is told apart below
        }
    }

    private byte[] ReadExactly(int n)
    {
        var buffer = new byte[n];
        _stream.ReadExactly(buffer);
        return buffer;
    }

    public static void SetLength(byte[] bhs, int length)
    {
        bhs[5] = (byte)(length >> 16);
        bhs[6] = (byte)(length >> 8);
        bhs[7] = (byte)length;
    }

    public uint NextItt() => _itt++;

    public void Dispose() => _client.Dispose();
}
