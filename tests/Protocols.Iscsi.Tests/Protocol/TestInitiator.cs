using System.IO.Pipelines;
using System.Net;
using System.Text;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>
/// A small iSCSI initiator over in-memory pipes: it writes PDUs to an <see cref="IscsiServer"/> connection and
/// reads what comes back. Every read is bounded by a timeout, so a target that hangs fails the test.
/// </summary>
public sealed class TestInitiator
{
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    private static readonly PipeOptions Unbounded = new(pauseWriterThreshold: 1L << 30, resumeWriterThreshold: 1L << 29);

    private readonly Pipe _toTarget = new(Unbounded);
    private readonly Pipe _toInitiator = new(Unbounded);
    private uint _nextItt = 0x1000;

    public TestInitiator(IscsiServer server, string name, ulong isid, EndPoint? local = null)
    {
        Name = name;
        Isid = isid;
        local ??= new IPEndPoint(IPAddress.Loopback, 3260);
        Connection = server.RunConnectionAsync(new DuplexPipe(_toTarget.Reader, _toInitiator.Writer), local, new IPEndPoint(IPAddress.Loopback, 50000));
    }

    /// <summary>The target's handling of this connection; it completes when the target closed it.</summary>
    public Task Connection { get; }

    public string Name { get; }

    public ulong Isid { get; }

    public ushort Cid { get; set; } = 1;

    public ushort Tsih { get; private set; }

    /// <summary>The next CmdSN to use for a non-immediate request.</summary>
    public uint CmdSN { get; set; } = 0x100;

    public uint ExpStatSN { get; private set; }

    /// <summary>How the target's PDUs are framed (digests switch on after login).</summary>
    public FramingOptions Receive { get; } = new() { MaxRecvDataSegmentLength = 16777215 };

    public bool SendHeaderDigest { get; set; }

    public bool SendDataDigest { get; set; }

    /// <summary>What the target declared it accepts.</summary>
    public int TargetMaxRecvDataSegmentLength { get; private set; } = 8192;

    public Dictionary<string, string> Negotiated { get; } = new(StringComparer.Ordinal);

    public uint NextItt() => _nextItt++;

    // ---------------------------------------------------------------- raw I/O

    public async Task SendAsync(byte[] bhs, ReadOnlyMemory<byte> data = default)
    {
        await SendRawAsync(Wire.Pdu(bhs, data.Span, headerDigest: SendHeaderDigest, dataDigest: SendDataDigest));
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        await _toTarget.Writer.WriteAsync(bytes);
    }

    /// <summary>End of stream from the initiator (like a TCP FIN).</summary>
    public void CloseOutput() => _toTarget.Writer.Complete();

    /// <summary>The next PDU from the target; fails the test on timeout or if the target closed instead.</summary>
    public async Task<TargetPdu> ReceiveAsync(TimeSpan? timeout = null)
    {
        var pdu = await ReceiveOrClosedAsync(timeout);
        Assert.That(pdu, Is.Not.Null, "the target closed the connection instead of answering");
        return pdu!;
    }

    /// <summary>The next PDU, or null when the target closed the connection.</summary>
    public async Task<TargetPdu?> ReceiveOrClosedAsync(TimeSpan? timeout = null)
    {
        var reader = _toInitiator.Reader;
        using var cts = new CancellationTokenSource(timeout ?? ReadTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"no PDU from the target within {(timeout ?? ReadTimeout).TotalSeconds} s");
                throw;
            }
            var buffer = result.Buffer;
            var fr = PduReader.TryRead(ref buffer, Receive, out PduFrame frame, out _);
            if (fr == FrameResult.Complete)
            {
                var pdu = new TargetPdu(frame.Header.ReadOnlySpan.ToArray(), frame.Data.ToArray());
                reader.AdvanceTo(buffer.Start);
                Track(pdu);
                return pdu;
            }
            Assert.That(fr, Is.EqualTo(FrameResult.Incomplete), "the target sent a PDU that does not frame");
            if (result.IsCompleted)
            {
                Assert.That(buffer.Length, Is.EqualTo(0), "the target closed in the middle of a PDU");
                reader.AdvanceTo(buffer.End);
                return null;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Asserts the target sends nothing more and closes; then that its connection task ended without fault.</summary>
    public async Task ExpectClosedAsync(TimeSpan? timeout = null)
    {
        var pdu = await ReceiveOrClosedAsync(timeout);
        Assert.That(pdu, Is.Null, $"expected the connection to close, got {pdu}");
        await ExpectConnectionEndedAsync(timeout);
    }

    /// <summary>Reads and returns whatever the target sends until it closes.</summary>
    public async Task<List<TargetPdu>> DrainUntilClosedAsync(TimeSpan? timeout = null)
    {
        var pdus = new List<TargetPdu>();
        while (await ReceiveOrClosedAsync(timeout) is { } pdu)
            pdus.Add(pdu);
        await ExpectConnectionEndedAsync(timeout);
        return pdus;
    }

    public async Task ExpectConnectionEndedAsync(TimeSpan? timeout = null)
    {
        var finished = await Task.WhenAny(Connection, Task.Delay(timeout ?? ReadTimeout));
        Assert.That(finished, Is.SameAs(Connection), "the target's connection task did not end");
        Assert.That(Connection.IsCompletedSuccessfully, Is.True, () => $"the connection task faulted: {Connection.Exception}");
    }

    private void Track(TargetPdu pdu)
    {
        bool advancesStatSN = pdu.Opcode switch
        {
            IscsiOpcode.LoginResponse or IscsiOpcode.ScsiResponse or IscsiOpcode.TaskManagementResponse or IscsiOpcode.TextResponse
                or IscsiOpcode.LogoutResponse or IscsiOpcode.Reject => true,
            IscsiOpcode.DataIn => pdu.HasStatus,
            IscsiOpcode.NopIn => pdu.Itt != BasicHeaderSegment.ReservedTag,
            _ => false,
        };
        if (advancesStatSN)
            ExpStatSN = pdu.StatSN + 1;
    }

    // ---------------------------------------------------------------- login

    public static byte[] Text(IEnumerable<(string Key, string Value)> keys)
    {
        var text = new List<byte>();
        foreach (var (k, v) in keys)
            TextParameters.Append(text, k, v);
        return text.ToArray();
    }

    /// <summary>Sends one Login Request and returns the Login Response.</summary>
    public async Task<TargetPdu> LoginStepAsync(LoginStage csg, LoginStage nsg, bool transit, IEnumerable<(string Key, string Value)> keys,
        bool @continue = false, byte versionMin = 0, ushort? tsih = null)
    {
        byte[] text = Text(keys);
        var bhs = Pdus.Login(transit, @continue, csg, nsg, Isid, tsih ?? Tsih, 0x7a7a0000, Cid, CmdSN, ExpStatSN, text.Length, versionMin: versionMin);
        await SendAsync(bhs, text);
        var response = await ReceiveAsync();
        Assert.That(response.Opcode, Is.EqualTo(IscsiOpcode.LoginResponse));
        Assert.That(response.Itt, Is.EqualTo(0x7a7a0000u), "the login response echoes the ITT");
        Assert.That(response.Isid, Is.EqualTo(Isid), "the login response echoes the ISID");
        return response;
    }

    /// <summary>
    /// Logs in through the operational stage straight to full feature phase and applies what was negotiated
    /// (digests, data segment lengths). Returns the answered keys.
    /// </summary>
    public async Task<Dictionary<string, string>> LoginAsync(string? targetName, params (string Key, string Value)[] keys)
    {
        var all = new List<(string, string)> { ("InitiatorName", Name) };
        if (targetName is not null)
            all.Add(("TargetName", targetName));
        all.Add(("SessionType", targetName is null ? "Discovery" : "Normal"));
        all.AddRange(keys);
        var response = await LoginStepAsync(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, true, all);
        Assert.That(response.LoginStatus, Is.EqualTo(LoginStatus.Success), "login status");
        Assert.That(response.Transit, Is.True);
        Assert.That(response.NextStage, Is.EqualTo(LoginStage.FullFeaturePhase));
        var answered = response.Keys();
        EnterFullFeature(response, answered);
        return answered;
    }

    /// <summary>Applies a final login response.</summary>
    public void EnterFullFeature(TargetPdu response, Dictionary<string, string> answered)
    {
        Tsih = response.Tsih;
        Assert.That(Tsih, Is.Not.Zero, "a new session gets a non-zero TSIH");
        foreach (var (k, v) in answered)
            Negotiated[k] = v;
        bool hd = Negotiated.TryGetValue("HeaderDigest", out var h) && h == "CRC32C";
        bool dd = Negotiated.TryGetValue("DataDigest", out var d) && d == "CRC32C";
        Receive.HeaderDigest = SendHeaderDigest = hd;
        Receive.DataDigest = SendDataDigest = dd;
        if (Negotiated.TryGetValue("MaxRecvDataSegmentLength", out var m))
            TargetMaxRecvDataSegmentLength = int.Parse(m);
    }

    // ---------------------------------------------------------------- full feature phase

    /// <summary>NOP-Out ping (immediate) with optional data; returns the NOP-In.</summary>
    public async Task<TargetPdu> PingAsync(byte[]? data = null)
    {
        uint itt = NextItt();
        data ??= [];
        await SendAsync(Pdus.NopOut(itt, BasicHeaderSegment.ReservedTag, CmdSN, ExpStatSN, data.Length), data);
        var pdu = await ReceiveAsync();
        Assert.That(pdu.Opcode, Is.EqualTo(IscsiOpcode.NopIn), $"expected the NOP-In answering the ping, got {pdu}");
        Assert.That(pdu.Itt, Is.EqualTo(itt));
        Assert.That(pdu.Data, Is.EqualTo(data));
        return pdu;
    }

    public sealed class ScsiResult
    {
        public required uint Itt { get; init; }

        public List<TargetPdu> Pdus { get; } = new();

        public List<TargetPdu> R2Ts { get; } = new();

        public List<TargetPdu> DataIns { get; } = new();

        public TargetPdu Final { get; set; } = null!;

        public byte Status => Final.Status;

        public byte[] DataIn { get; set; } = [];

        public byte[] Sense => Final.Opcode == IscsiOpcode.ScsiResponse ? Final.Sense() : [];

        public byte SenseKey => (byte)(Sense[2] & 0x0F);

        public byte Asc => Sense[12];

        public byte Ascq => Sense[13];
    }

    /// <summary>
    /// Runs one SCSI command: sends it (with <paramref name="immediateLength"/> bytes of immediate data), answers every
    /// R2T with Data-Out PDUs no larger than the target accepts, gathers Data-In, and returns at the status.
    /// </summary>
    public async Task<ScsiResult> CommandAsync(byte[] cdb, uint edtl, bool read = false, byte[]? write = null, int immediateLength = 0,
        ulong lun = 0)
    {
        uint itt = NextItt();
        var bhs = Pdus.ScsiCommand(cdb, itt, edtl, CmdSN, ExpStatSN, read, write is not null, immediateLength, lun: lun);
        await SendAsync(bhs, write is null ? default : write.AsMemory(0, immediateLength));
        CmdSN++;
        var result = new ScsiResult { Itt = itt };
        var dataIn = new byte[read ? edtl : 0];
        int dataInLength = 0;
        while (true)
        {
            var pdu = await ReceiveAsync();
            result.Pdus.Add(pdu);
            Assert.That(pdu.Itt, Is.EqualTo(itt), $"unexpected {pdu}");
            switch (pdu.Opcode)
            {
                case IscsiOpcode.ReadyToTransfer:
                    Assert.That(write, Is.Not.Null, "R2T for a command without data to write");
                    result.R2Ts.Add(pdu);
                    await SendDataOutAsync(itt, pdu.Ttt, write!, (int)pdu.BufferOffset, (int)pdu.DesiredLength, lun);
                    break;
                case IscsiOpcode.DataIn:
                    result.DataIns.Add(pdu);
                    pdu.Data.CopyTo(dataIn, (int)pdu.BufferOffset);
                    dataInLength = Math.Max(dataInLength, (int)pdu.BufferOffset + pdu.Data.Length);
                    if (pdu.HasStatus)
                    {
                        result.Final = pdu;
                        result.DataIn = dataIn[..dataInLength];
                        return result;
                    }
                    break;
                case IscsiOpcode.ScsiResponse:
                    result.Final = pdu;
                    result.DataIn = dataIn[..dataInLength];
                    return result;
                default:
                    Assert.Fail($"unexpected {pdu} during a SCSI command");
                    break;
            }
        }
    }

    /// <summary>Sends [offset, offset+length) of <paramref name="data"/> as one Data-Out sequence.</summary>
    public async Task SendDataOutAsync(uint itt, uint ttt, byte[] data, int offset, int length, ulong lun = 0)
    {
        uint dataSN = 0;
        int end = offset + length;
        while (offset < end)
        {
            int n = Math.Min(TargetMaxRecvDataSegmentLength, end - offset);
            bool final = offset + n == end;
            await SendAsync(Pdus.DataOut(final, itt, ttt, ExpStatSN, dataSN++, (uint)offset, n, lun), data.AsMemory(offset, n));
            offset += n;
        }
    }

    public async Task<TargetPdu> TextAsync(params (string Key, string Value)[] keys)
    {
        byte[] text = Text(keys);
        uint itt = NextItt();
        await SendAsync(Pdus.Text(itt, BasicHeaderSegment.ReservedTag, CmdSN, ExpStatSN, text.Length), text);
        var pdu = await ReceiveAsync();
        Assert.That(pdu.Opcode, Is.EqualTo(IscsiOpcode.TextResponse), $"got {pdu}");
        Assert.That(pdu.Itt, Is.EqualTo(itt));
        return pdu;
    }

    public static string Ascii(byte[] bytes) => Encoding.ASCII.GetString(bytes);

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
