using System.Buffers.Binary;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// SCSI-3 persistent reservations through the running appliance, from raw iSCSI sessions: the fencing a
/// failover cluster relies on, across two sessions, across two targets exporting one vDisk (multipath), and
/// (once the host wires IReservationStore to the metadata store) across a restart.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ReservationTests
{
    private const string SecondTarget = "iqn.2026-11.io.storageappliance:path2";
    private const byte WriteExclusive = 0x1;
    private const byte ExclusiveAccess = 0x3;

    private static byte[] PrOut(byte serviceAction, byte type = 0) => [0x5F, serviceAction, type, 0, 0, 0, 0, 0, 24, 0];

    private static byte[] Parameters(ulong key, ulong serviceActionKey = 0, bool aptpl = false)
    {
        var d = new byte[24];
        BinaryPrimitives.WriteUInt64BigEndian(d, key);
        BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(8), serviceActionKey);
        d[20] = (byte)(aptpl ? 0x01 : 0);
        return d;
    }

    private static byte[] Read10() => [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0];

    private static byte[] Write10() => [0x2A, 0, 0, 0, 0, 1, 0, 0, 1, 0];

    private static RawInitiator Session(ApplianceProcess appliance, string initiator, string target = ApplianceProcess.DefaultTarget, uint? isid = null)
    {
        var raw = new RawInitiator(appliance.IscsiPort);
        Assert.That(raw.Login(initiator, target, isidQualifier: isid), Is.EqualTo(0));
        Assert.That(raw.ClearUnitAttentions(), Is.True);
        return raw;
    }

    /// <summary>(reserved, key, type) from PERSISTENT RESERVE IN, READ RESERVATION.</summary>
    private static (bool, ulong, byte) ReadReservation(RawInitiator raw)
    {
        var (status, d) = raw.ScsiCommandIn([0x5E, 0x01, 0, 0, 0, 0, 0, 0x01, 0x00, 0], 256);
        Assert.That(status, Is.Zero);
        return BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)) == 0 ? (false, 0, 0) : (true, BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(8)), (byte)(d[21] & 0x0F));
    }

    [Test]
    public void WriteExclusive_FencesTheOtherSession_UntilReleased()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        using var a = Session(appliance, "iqn.2026-11.test:node-a");
        using var b = Session(appliance, "iqn.2026-11.test:node-b");
        var block = new byte[512];
        Assert.That(a.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xA)).Status, Is.Zero, "REGISTER AND IGNORE EXISTING KEY");
        Assert.That(a.ScsiCommandOut(PrOut(0x01, WriteExclusive), Parameters(0xA)).Status, Is.Zero, "RESERVE");
        Assert.That(ReadReservation(b), Is.EqualTo((true, 0xAUL, WriteExclusive)));
        Assert.That(b.ScsiCommandOut(Write10(), block).Status, Is.EqualTo(0x18), "RESERVATION CONFLICT");
        Assert.That(b.ScsiCommandIn(Read10(), 512).Status, Is.Zero, "reads pass a Write Exclusive reservation");
        Assert.That(a.ScsiCommandOut(Write10(), block).Status, Is.Zero);
        Assert.That(a.ScsiCommandOut(PrOut(0x02, WriteExclusive), Parameters(0xA)).Status, Is.Zero, "RELEASE");
        Assert.That(b.ScsiCommandOut(Write10(), block).Status, Is.Zero);
    }

    [Test]
    public void PreemptAndAbort_TakesTheReservation_AndTellsThePreemptedSession()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        using var a = Session(appliance, "iqn.2026-11.test:node-a");
        using var b = Session(appliance, "iqn.2026-11.test:node-b");
        Assert.That(a.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xA)).Status, Is.Zero);
        Assert.That(a.ScsiCommandOut(PrOut(0x01, ExclusiveAccess), Parameters(0xA)).Status, Is.Zero);
        Assert.That(b.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xB)).Status, Is.Zero);
        Assert.That(b.ScsiCommandIn(Read10(), 512).Status, Is.EqualTo(0x18), "Exclusive Access fences reads too");
        Assert.That(b.ScsiCommandOut(PrOut(0x05, ExclusiveAccess), Parameters(0xB, 0xA)).Status, Is.Zero, "PREEMPT AND ABORT");
        var (status, _, sense) = a.ScsiCommandInWithSense(Read10(), 512);
        Assert.That(status, Is.EqualTo(0x02));
        Assert.That((sense[2] & 0x0F, sense[12], sense[13]), Is.EqualTo((0x06, (byte)0x2A, (byte)0x05)), "UNIT ATTENTION, REGISTRATIONS PREEMPTED");
        Assert.That(a.ScsiCommandIn(Read10(), 512).Status, Is.EqualTo(0x18));
        Assert.That(ReadReservation(b), Is.EqualTo((true, 0xBUL, ExclusiveAccess)));
    }

    [Test]
    public void OneVDiskThroughTwoTargets_SharesItsReservations()
    {
        string config = ApplianceProcess.SimpleConfig("64MiB", targetExtra: $"  - name: {SecondTarget}\n    luns:\n      - lun: 0\n        vdisk: disk0");
        using var appliance = ApplianceProcess.Start(config);
        using var a = Session(appliance, "iqn.2026-11.test:node-a", isid: 0x0A);
        using var b = Session(appliance, "iqn.2026-11.test:node-b", SecondTarget);
        Assert.That(a.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xA)).Status, Is.Zero);
        Assert.That(a.ScsiCommandOut(PrOut(0x01, ExclusiveAccess), Parameters(0xA)).Status, Is.Zero);
        Assert.That(ReadReservation(b), Is.EqualTo((true, 0xAUL, ExclusiveAccess)), "the same unit behind the second target");
        Assert.That(b.ScsiCommandIn(Read10(), 512).Status, Is.EqualTo(0x18));
        // The same initiator port through the second target is another I_T nexus: not registered there.
        using var a2 = Session(appliance, "iqn.2026-11.test:node-a", SecondTarget, isid: 0x0A);
        Assert.That(a2.ScsiCommandIn(Read10(), 512).Status, Is.EqualTo(0x18));
    }

    /// <summary>
    /// APTPL: registrations and the reservation survive a restart of the appliance. Needs the host to give each
    /// logical unit an IReservationStore over the metadata store (until then APTPL=1 is refused: PTPL_C=0).
    /// </summary>
    [Test]
    [Category("NeedsEngine")]
    [Explicit("needs IReservationStore wired to the metadata store by the host (LogicalUnitOptions.ReservationStore)")]
    public void AptplReservation_SurvivesARestart()
    {
        const uint isidA = 0x0A0A0A0A;
        string config = ApplianceProcess.SimpleConfig("64MiB");
        var appliance = ApplianceProcess.Start(config);
        string workDir = appliance.WorkDir;
        try
        {
            using (var a = Session(appliance, "iqn.2026-11.test:node-a", isid: isidA))
            {
                var (status, sense) = a.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xA, aptpl: true));
                Assert.That(status, Is.Zero, $"REGISTER with APTPL=1: sense {Convert.ToHexString(sense)}");
                Assert.That(a.ScsiCommandOut(PrOut(0x01, WriteExclusive), Parameters(0xA)).Status, Is.Zero);
            }
            Assert.That(appliance.Signal("INT", TimeSpan.FromSeconds(30)), Is.True, "clean stop");
            appliance.Dispose(keepWorkDir: true);
            appliance = ApplianceProcess.Start(config, workDir);

            using var b = Session(appliance, "iqn.2026-11.test:node-b");
            Assert.That(ReadReservation(b), Is.EqualTo((true, 0xAUL, WriteExclusive)));
            Assert.That(b.ScsiCommandOut(Write10(), new byte[512]).Status, Is.EqualTo(0x18));
            using var again = Session(appliance, "iqn.2026-11.test:node-a", isid: isidA);
            Assert.That(again.ScsiCommandOut(Write10(), new byte[512]).Status, Is.Zero, "the same I_T nexus still holds it");
        }
        finally
        {
            appliance.Dispose();
        }
    }
}
