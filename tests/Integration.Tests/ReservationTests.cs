using System.Buffers.Binary;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// SCSI-3 persistent reservations through the running appliance, from raw iSCSI sessions: the fencing a
/// failover cluster relies on, across two sessions, across two targets exporting one vDisk (multipath), and
/// with APTPL across a restart (the host keeps them in the metadata store).
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

    /// <summary>(PTPL_C, PTPL_A) from PERSISTENT RESERVE IN, REPORT CAPABILITIES.</summary>
    private static (bool, bool) Capabilities(RawInitiator raw)
    {
        var (status, d) = raw.ScsiCommandIn([0x5E, 0x02, 0, 0, 0, 0, 0, 0, 8, 0], 8);
        Assert.That(status, Is.Zero);
        return ((d[2] & 0x01) != 0, (d[3] & 0x01) != 0);
    }

    /// <summary>READ KEYS: the registered keys.</summary>
    private static ulong[] ReadKeys(RawInitiator raw)
    {
        var (status, d) = raw.ScsiCommandIn([0x5E, 0x00, 0, 0, 0, 0, 0, 0x01, 0x00, 0], 256);
        Assert.That(status, Is.Zero);
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4));
        var keys = new ulong[length / 8];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(8 + 8 * i));
        return keys;
    }

    /// <summary>Stops the appliance (SIGINT, or SIGKILL for a power loss) and starts it again on the same data folder.</summary>
    private static ApplianceProcess Restart(ApplianceProcess appliance, string config, bool crash)
    {
        Assert.That(appliance.Signal(crash ? "KILL" : "INT", TimeSpan.FromSeconds(30)), Is.True, "the appliance stops");
        string workDir = appliance.WorkDir;
        appliance.Dispose(keepWorkDir: true);
        return ApplianceProcess.Start(config, workDir);
    }

    /// <summary>
    /// APTPL=1: the registrations and the reservation survive a restart of the appliance, clean or killed
    /// (SPC-4, persisting reservations: with APTPL set, they are kept across a power loss), and the same I_T nexus still holds it.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    public void AptplReservation_SurvivesARestart(bool crash)
    {
        const uint isidA = 0x0A0A0A0A;
        string config = ApplianceProcess.SimpleConfig("64MiB");
        var appliance = ApplianceProcess.Start(config);
        try
        {
            using (var a = Session(appliance, "iqn.2026-11.test:node-a", isid: isidA))
            {
                Assert.That(Capabilities(a), Is.EqualTo((true, false)), "PTPL_C=1 (persistence capable), PTPL_A=0 before any APTPL");
                var (status, sense) = a.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xA, aptpl: true));
                Assert.That(status, Is.Zero, $"REGISTER with APTPL=1: sense {Convert.ToHexString(sense)}");
                Assert.That(a.ScsiCommandOut(PrOut(0x01, WriteExclusive), Parameters(0xA)).Status, Is.Zero);
                Assert.That(Capabilities(a), Is.EqualTo((true, true)), "PTPL_A=1");
            }
            using (var c = Session(appliance, "iqn.2026-11.test:node-c"))
                Assert.That(c.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xC, aptpl: true)).Status, Is.Zero, "a second registrant (the APTPL of the last REGISTER applies to all)");
            appliance = Restart(appliance, config, crash);

            using var b = Session(appliance, "iqn.2026-11.test:node-b");
            Assert.That(ReadReservation(b), Is.EqualTo((true, 0xAUL, WriteExclusive)));
            Assert.That(ReadKeys(b), Is.EquivalentTo(new ulong[] { 0xA, 0xC }));
            Assert.That(b.ScsiCommandOut(Write10(), new byte[512]).Status, Is.EqualTo(0x18), "the reservation still fences others");
            using var again = Session(appliance, "iqn.2026-11.test:node-a", isid: isidA);
            Assert.That(again.ScsiCommandOut(Write10(), new byte[512]).Status, Is.Zero, "the same I_T nexus still holds it");
            Assert.That(Capabilities(again), Is.EqualTo((true, true)), "APTPL still active");
        }
        finally
        {
            appliance.Dispose();
        }
    }

    /// <summary>APTPL=0: registrations and the reservation are gone after a restart (SPC-4, persisting reservations: without APTPL they do not survive a power loss).</summary>
    [Test]
    public void NonAptplReservation_IsDroppedAtRestart()
    {
        string config = ApplianceProcess.SimpleConfig("64MiB");
        var appliance = ApplianceProcess.Start(config);
        try
        {
            using (var a = Session(appliance, "iqn.2026-11.test:node-a"))
            {
                Assert.That(a.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xA)).Status, Is.Zero);
                Assert.That(a.ScsiCommandOut(PrOut(0x01, ExclusiveAccess), Parameters(0xA)).Status, Is.Zero);
            }
            appliance = Restart(appliance, config, crash: false);

            using var b = Session(appliance, "iqn.2026-11.test:node-b");
            Assert.That(ReadReservation(b), Is.EqualTo((false, 0UL, (byte)0)));
            Assert.That(ReadKeys(b), Is.Empty);
            Assert.That(b.ScsiCommandIn(Read10(), 512).Status, Is.Zero, "no Exclusive Access left to fence a read");
        }
        finally
        {
            appliance.Dispose();
        }
    }

    /// <summary>
    /// APTPL turned off again by a later REGISTER (the last one decides, SPC-4, persisting reservations): what was saved is
    /// dropped, so the restart brings nothing back.
    /// </summary>
    [Test]
    public void AptplTurnedOff_IsNotRestored()
    {
        string config = ApplianceProcess.SimpleConfig("64MiB");
        var appliance = ApplianceProcess.Start(config);
        try
        {
            using (var a = Session(appliance, "iqn.2026-11.test:node-a"))
            {
                Assert.That(a.ScsiCommandOut(PrOut(0x06), Parameters(0, 0xA, aptpl: true)).Status, Is.Zero);
                Assert.That(a.ScsiCommandOut(PrOut(0x01, WriteExclusive), Parameters(0xA)).Status, Is.Zero);
                Assert.That(a.ScsiCommandOut(PrOut(0x00), Parameters(0xA, 0xA2, aptpl: false)).Status, Is.Zero, "REGISTER with a new key and APTPL=0");
                Assert.That(Capabilities(a), Is.EqualTo((true, false)));
            }
            appliance = Restart(appliance, config, crash: true);

            using var b = Session(appliance, "iqn.2026-11.test:node-b");
            Assert.That(ReadKeys(b), Is.Empty);
            Assert.That(ReadReservation(b), Is.EqualTo((false, 0UL, (byte)0)));
        }
        finally
        {
            appliance.Dispose();
        }
    }
}
