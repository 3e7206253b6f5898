using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Fuzz.Support;
using StorageAppliance.Protocols.Iscsi;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Security;
using StorageAppliance.Protocols.Iscsi.Tests.Protocol;
using StorageAppliance.Protocols.Scsi;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

namespace StorageAppliance.Fuzz.Targets;

/// <summary>
/// A whole iSCSI connection (login state machine, text keys, CHAP, negotiation, then full feature phase
/// with SCSI commands, Data-Out, task management, text and logout) fed the input as the initiator's byte
/// stream, through <see cref="IscsiServer.RunConnectionAsync"/> over in-memory pipes. Each input gets a new
/// server with two targets: an open one with LUN 0, and one protected by CHAP whose LUN must never be
/// read or written (no fuzzed login can authenticate), so an authentication bypass is a defect too.
/// Documented outcomes: Login Responses with a failure status, Rejects, and closing the connection;
/// a defect is an exception the connection logs (it catches every one at its boundary) or one that
/// escapes it, or a connection that does not end after the input ends.
/// </summary>
public sealed class IscsiConnectionTarget : IFuzzTarget
{
    public const string OpenTarget = "iqn.2026-01.io.storageappliance.fuzz:open";
    public const string ChapTarget = "iqn.2026-01.io.storageappliance.fuzz:chap";
    private const string Initiator = "iqn.1994-05.com.example:host1";

    private static readonly byte[] Naa = [0x60, 0x01, 0x40, 0x50, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11, 0x22, 0x33, 0x44];

    public string Name => "iscsi-connection";

    public void Run(ReadOnlySpan<byte> input) => RunAndCapture(input);

    /// <summary>Runs the input; returns the start of what the target sent back.</summary>
    public byte[] RunAndCapture(ReadOnlySpan<byte> input)
    {
        var log = new FaultLoggerFactory(_ => false);
        var server = new IscsiServer(new IscsiServerOptions { NopInInterval = TimeSpan.Zero, LoginTimeout = TimeSpan.FromSeconds(30) }, log);
        var open = new ScsiTarget(OpenTarget, NullLogger.Instance);
        open.AddLogicalUnit(0, new LogicalUnit(new MemoryVDisk(256 * 512), new LogicalUnitOptions { SerialNumber = "FUZZ0001", NaaDesignator = Naa }, NullLogger.Instance));
        server.AddTarget(new IscsiTargetNode(OpenTarget, "open", open, null, null, null));
        var chap = new ScsiTarget(ChapTarget, NullLogger.Instance);
        var guarded = new GuardedVDisk(new MemoryVDisk(256 * 512));
        chap.AddLogicalUnit(0, new LogicalUnit(guarded, new LogicalUnitOptions { SerialNumber = "FUZZ0002", NaaDesignator = Naa }, NullLogger.Instance));
        server.AddTarget(new IscsiTargetNode(ChapTarget, null, chap, new ChapCredentials("user", "secret-secret"), null, null));

        var pipe = new PipePair(input);
        FuzzInput.Wait(server.RunConnectionAsync(pipe, new IPEndPoint(IPAddress.Loopback, 3260), new IPEndPoint(IPAddress.Loopback, 40000)), "the iSCSI connection");
        pipe.Finish();
        log.ThrowIfFaulted("the iSCSI connection");
        if (server.ConnectionCount != 0)
            throw new FuzzDefectException($"{server.ConnectionCount} connection(s) still registered after the connection ended");
        // RFC 7143 12.1: the target "MUST NOT" let a session into full feature phase on a target that requires
        // CHAP unless the initiator authenticated; a fuzzed login cannot answer a random challenge.
        if (guarded.Touched)
            throw new FuzzDefectException("a login that never authenticated read or wrote the LUN of the CHAP-protected target (authentication bypass)");
        return pipe.Received;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("login-read-write-logout", Session(OpenTarget, "None", Commands()));
        yield return ("login-only", Session(OpenTarget, "None", []));
        yield return ("discovery-sendtargets", Discovery());
        yield return ("chap-target-without-chap", Session(ChapTarget, "None", Commands()));
        yield return ("chap-target-chap-offered", Session(ChapTarget, "CHAP", Commands()));
        yield return ("pdu-before-login", Commands());
    }

    private static byte[] LoginPdu(bool transit, LoginStage csg, LoginStage nsg, uint itt, string text)
    {
        var data = IscsiPduTarget.Text(text);
        return IscsiPduTarget.Concat(Pdus.Login(transit, false, csg, nsg, 0x80_0000_0001UL, 0, itt, 0, 1, 0, data.Length), IscsiPduTarget.Pad(data));
    }

    private static byte[] Session(string target, string auth, byte[] after) => IscsiPduTarget.Concat(
        LoginPdu(true, LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, 1,
            $"InitiatorName={Initiator}\0SessionType=Normal\0TargetName={target}\0AuthMethod={auth}\0"),
        LoginPdu(true, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, 2,
            "HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=65536\0ImmediateData=Yes\0InitialR2T=No\0MaxBurstLength=262144\0FirstBurstLength=65536\0"),
        after);

    private static byte[] Commands()
    {
        var tur = Pdus.ScsiCommand(new byte[16], 10, 0, 1, 1, read: false, write: false);
        var inquiry = Pdus.ScsiCommand([0x12, 0, 0, 0, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 11, 96, 2, 1, read: true, write: false);
        var write = Pdus.ScsiCommand([0x2A, 0, 0, 0, 0, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], 12, 1024, 3, 1, read: false, write: true, dataSegmentLength: 512, final: false);
        var dataOut = Pdus.DataOut(true, 12, 0xFFFFFFFF, 1, 0, 512, 512);
        var read = Pdus.ScsiCommand([0x28, 0, 0, 0, 0, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], 13, 1024, 4, 1, read: true, write: false);
        var nop = Pdus.NopOut(14, 0xFFFFFFFF, 5, 1);
        var tmf = Pdus.TaskManagement(TaskManagementFunction.AbortTask, 15, 13, 6, 1, 4);
        var logout = Pdus.Logout(LogoutReason.CloseSession, 16, 0, 7, 1);
        return IscsiPduTarget.Concat(tur, inquiry, write, new byte[512], dataOut, new byte[512], read, nop, tmf, logout);
    }

    private static byte[] Discovery()
    {
        var text = IscsiPduTarget.Text("SendTargets=All\0");
        return IscsiPduTarget.Concat(
            LoginPdu(true, LoginStage.SecurityNegotiation, LoginStage.FullFeaturePhase, 1,
                $"InitiatorName={Initiator}\0SessionType=Discovery\0AuthMethod=None\0"),
            Pdus.Text(2, 0xFFFFFFFF, 1, 1, text.Length), IscsiPduTarget.Pad(text),
            Pdus.Logout(LogoutReason.CloseSession, 3, 0, 2, 1));
    }

    /// <summary>
    /// Issue 13's CHAP bypass: a discovery login that names the protected target in a later PDU. Not a seed
    /// while the bug is open: committed as tests/Fuzz/KnownFailing/iscsi-connection/chap-bypass-session-type-switch.
    /// </summary>
    public static byte[] SessionTypeSwitch() => IscsiPduTarget.Concat(
        LoginPdu(false, LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, 1,
            $"InitiatorName={Initiator}\0SessionType=Discovery\0AuthMethod=None\0"),
        LoginPdu(true, LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation, 2,
            $"SessionType=Normal\0TargetName={ChapTarget}\0"),
        LoginPdu(true, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, 3, "HeaderDigest=None\0"),
        Commands());
}
