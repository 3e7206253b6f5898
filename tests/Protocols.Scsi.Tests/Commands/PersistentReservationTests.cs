using System.Buffers.Binary;
using System.Text;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

/// <summary>Three I_T nexuses on one unit: A and B from two hosts through one target port, A2 from A's initiator port through another.</summary>
internal sealed class PrFixture
{
    public const string OtherTargetPort = "iqn.2026-11.io.storageappliance:disk1,t,0x0002";

    public PrFixture(IReservationStore? store = null)
    {
        F = LuFixture.Create();
        if (store is not null)
            F.Unit.UseReservationStore(store);
        A = F.Nexus;
        B = Add(LuFixture.NewNexus("iqn.1994-05.com.example:host2", 1));
        A2 = Add(LuFixture.NewNexus("iqn.1994-05.com.example:host1", 2, OtherTargetPort));
    }

    public LuFixture F { get; }

    public ITNexus A { get; }

    public ITNexus B { get; }

    public ITNexus A2 { get; }

    public ITNexus Add(ITNexus nexus)
    {
        F.Unit.AddNexus(nexus);
        F.Run(Cdbs.TestUnitReady(), nexus: nexus);
        return nexus;
    }

    public ScsiTask Out(ITNexus nexus, byte serviceAction, ulong key, ulong saKey = 0, byte type = 0, bool allTargetPorts = false, bool aptpl = false) =>
        F.Run(Cdbs.PersistentReserveOut(serviceAction, type), Cdbs.PrOutParameters(key, saKey, allTargetPorts, aptpl), nexus: nexus);

    public ScsiTask Register(ITNexus nexus, ulong key, bool allTargetPorts = false, bool aptpl = false) =>
        Out(nexus, 0x06, 0, key, allTargetPorts: allTargetPorts, aptpl: aptpl);

    public ScsiTask Reserve(ITNexus nexus, ulong key, byte type) => Out(nexus, 0x01, key, type: type);

    public ScsiTask Release(ITNexus nexus, ulong key, byte type) => Out(nexus, 0x02, key, type: type);

    public ScsiTask In(byte serviceAction, ITNexus? nexus = null, ushort allocation = 8192) =>
        F.Run(Cdbs.PersistentReserveIn(serviceAction, allocation), nexus: nexus ?? A);

    public (uint Generation, ulong[] Keys) ReadKeys(ITNexus? nexus = null)
    {
        var task = In(0x00, nexus);
        TaskAssert.Good(task);
        var d = task.DataIn.Span;
        uint length = LuFixture.U32(d, 4);
        var keys = new ulong[length / 8];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = LuFixture.U64(d, 8 + 8 * i);
        return (LuFixture.U32(d, 0), keys);
    }

    /// <summary>(reserved, key, type) from READ RESERVATION.</summary>
    public (bool Reserved, ulong Key, byte Type) ReadReservation(ITNexus? nexus = null)
    {
        var task = In(0x01, nexus);
        TaskAssert.Good(task);
        var d = task.DataIn.Span;
        if (LuFixture.U32(d, 4) == 0)
            return (false, 0, 0);
        Assert.That(LuFixture.U32(d, 4), Is.EqualTo(16));
        return (true, LuFixture.U64(d, 8), (byte)(d[21] & 0x0F));
    }

    public SenseCode[] Pending(ITNexus nexus) => F.Unit.PendingUnitAttentions(nexus);

    public void ClearUnitAttentions()
    {
        foreach (var n in new[] { A, B, A2 })
            while (Pending(n).Length > 0)
                F.Run(Cdbs.TestUnitReady(), nexus: n);
    }

    public static void Conflict(ScsiTask task) => Assert.That(task.Status, Is.EqualTo(ScsiStatus.ReservationConflict));
}

public class PersistentReserveInTests
{
    [Test]
    public void ReadKeys_CountsEveryRegistration_AndGenerationOnlyForChanges()
    {
        var p = new PrFixture();
        Assert.That(p.ReadKeys(), Is.EqualTo((0u, Array.Empty<ulong>())));
        TaskAssert.Good(p.Register(p.A, 0xA1));
        TaskAssert.Good(p.Register(p.B, 0xB1));
        TaskAssert.Good(p.Reserve(p.A, 0xA1, LogicalUnit.PrWriteExclusive)); // RESERVE does not count
        var (generation, keys) = p.ReadKeys(p.B);
        Assert.That(generation, Is.EqualTo(2));
        Assert.That(keys, Is.EqualTo(new ulong[] { 0xA1, 0xB1 }));
    }

    [Test]
    public void AllocationLength_Truncates_ButAdditionalLengthStaysWhole()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        var task = p.In(0x00, allocation: 12);
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(12));
        Assert.That(LuFixture.U32(task.DataIn.Span, 4), Is.EqualTo(16));
    }

    [Test]
    public void ReadReservation_ReportsKeyAndType_AndZeroKeyForAllRegistrants()
    {
        var p = new PrFixture();
        Assert.That(p.ReadReservation().Reserved, Is.False);
        Assert.That(p.In(0x01).DataIn.Length, Is.EqualTo(8));
        p.Register(p.A, 0xA1);
        p.Reserve(p.A, 0xA1, LogicalUnit.PrExclusiveAccessRegistrantsOnly);
        Assert.That(p.ReadReservation(p.B), Is.EqualTo((true, 0xA1UL, LogicalUnit.PrExclusiveAccessRegistrantsOnly)));
        p.Release(p.A, 0xA1, LogicalUnit.PrExclusiveAccessRegistrantsOnly);
        p.Reserve(p.A, 0xA1, LogicalUnit.PrWriteExclusiveAllRegistrants);
        Assert.That(p.ReadReservation(), Is.EqualTo((true, 0UL, LogicalUnit.PrWriteExclusiveAllRegistrants)));
    }

    [Test]
    public void ReportCapabilities_GoldenBytes()
    {
        var p = new PrFixture();
        var task = p.In(0x02);
        TaskAssert.Good(task);
        // LENGTH 8; CRH, ATP_C (no PTPL_C without a store); TMV, ALLOW COMMANDS 011b; every type.
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0x00, 0x08, 0x14, 0xB0, 0xEA, 0x01, 0x00, 0x00 }));

        var stored = new PrFixture(new InMemoryReservationStore());
        stored.Register(stored.A, 1, aptpl: true);
        var d = stored.In(0x02).DataIn.Span;
        Assert.That(d[2], Is.EqualTo(0x15), "PTPL_C with a store");
        Assert.That(d[3], Is.EqualTo(0xB1), "PTPL_A once APTPL is on");
    }

    [Test]
    public void ReadFullStatus_DescribesEveryRegistration()
    {
        var p = new PrFixture();
        p.Register(p.A, 0xA1);
        p.Register(p.B, 0xB1, allTargetPorts: true);
        p.Reserve(p.A, 0xA1, LogicalUnit.PrExclusiveAccess);
        var task = p.In(0x03);
        TaskAssert.Good(task);
        var d = task.DataIn.Span;
        Assert.That(LuFixture.U32(d, 0), Is.EqualTo(2), "PRGENERATION");
        Assert.That(LuFixture.U32(d, 4), Is.EqualTo(d.Length - 8));
        int pos = 8;
        var seen = new List<(ulong, byte, byte, ushort, string)>();
        while (pos < d.Length)
        {
            var e = d[pos..];
            uint idLength = LuFixture.U32(e, 20);
            var id = e.Slice(24, (int)idLength);
            Assert.That(id[0], Is.EqualTo(0x45), "TransportID format 01b, iSCSI");
            Assert.That(LuFixture.U16(id, 2) % 4, Is.Zero);
            Assert.That(LuFixture.U16(id, 2), Is.GreaterThanOrEqualTo(20));
            string name = Encoding.UTF8.GetString(id[4..]).TrimEnd('\0');
            seen.Add((LuFixture.U64(e, 0), e[12], e[13], LuFixture.U16(e, 18), name));
            pos += 24 + (int)idLength;
        }
        Assert.That(seen, Is.EqualTo(new[]
        {
            (0xA1UL, (byte)0x01, LogicalUnit.PrExclusiveAccess, (ushort)1, p.A.InitiatorPortName),
            (0xB1UL, (byte)0x02, (byte)0, (ushort)0, p.B.InitiatorPortName),
        }));
    }

    [TestCase(0x04)]
    [TestCase(0x1F)]
    public void UnknownServiceAction_IsInvalidField(int serviceAction)
    {
        var p = new PrFixture();
        TaskAssert.InvalidCdbField(p.F.Run(Cdbs.PersistentReserveIn((byte)serviceAction)), 1, 4);
    }
}

public class PersistentReserveOutTests
{
    [Test]
    public void Register_FromAnUnregisteredNexusWithAReservationKey_IsAConflict()
    {
        var p = new PrFixture();
        PrFixture.Conflict(p.Out(p.A, 0x00, key: 5, saKey: 6));
        Assert.That(p.ReadKeys().Keys, Is.Empty);
        TaskAssert.Good(p.Out(p.A, 0x00, key: 0, saKey: 6));
        Assert.That(p.ReadKeys().Keys, Is.EqualTo(new ulong[] { 6 }));
    }

    [Test]
    public void Register_ChangesTheKeyOnlyWithTheCurrentOne_RegisterAndIgnoreWithout()
    {
        var p = new PrFixture();
        p.Register(p.A, 6);
        PrFixture.Conflict(p.Out(p.A, 0x00, key: 7, saKey: 8)); // libiscsi's "reregister fails"
        TaskAssert.Good(p.Out(p.A, 0x00, key: 6, saKey: 8));
        TaskAssert.Good(p.Out(p.A, 0x06, key: 12345, saKey: 9));
        Assert.That(p.ReadKeys(), Is.EqualTo((3u, new ulong[] { 9 })));
    }

    [Test]
    public void Register_WithZeroFromAnUnregisteredNexus_ChangesNothing()
    {
        var p = new PrFixture();
        TaskAssert.Good(p.Out(p.A, 0x00, key: 0, saKey: 0));
        TaskAssert.Good(p.Out(p.A, 0x06, key: 0, saKey: 0));
        Assert.That(p.ReadKeys(), Is.EqualTo((0u, Array.Empty<ulong>())));
    }

    [Test]
    public void Unregister_OfTheHolder_ReleasesTheReservation_RegistrantsOnlyTellsTheOthers()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusiveRegistrantsOnly);
        TaskAssert.Good(p.Out(p.A, 0x00, key: 1, saKey: 0));
        Assert.That(p.Pending(p.B), Is.EqualTo(new[] { SenseCode.ReservationsReleased }));
        Assert.That(p.Pending(p.A), Is.Empty);
        Assert.That(p.ReadReservation(p.A).Reserved, Is.False);

        var q = new PrFixture();
        q.Register(q.A, 1);
        q.Register(q.B, 2);
        q.Reserve(q.A, 1, LogicalUnit.PrExclusiveAccess);
        TaskAssert.Good(q.Out(q.A, 0x00, key: 1, saKey: 0));
        Assert.That(q.ReadReservation(q.B).Reserved, Is.False);
        Assert.That(q.Pending(q.B), Is.Empty, "no unit attention for a WE/EA reservation");
    }

    [Test]
    public void AllRegistrantsReservation_LastsUntilTheLastRegistrantLeaves()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccessAllRegistrants);
        // B is a holder too: it may RESERVE the same type again, and it can read and write.
        TaskAssert.Good(p.Reserve(p.B, 2, LogicalUnit.PrExclusiveAccessAllRegistrants));
        TaskAssert.Good(p.F.Run(Cdbs.Block(0x2A, 0, 1), new byte[512], nexus: p.B));
        p.Out(p.A, 0x00, key: 1, saKey: 0);
        Assert.That(p.ReadReservation().Type, Is.EqualTo(LogicalUnit.PrExclusiveAccessAllRegistrants));
        p.Out(p.B, 0x00, key: 2, saKey: 0);
        Assert.That(p.ReadReservation().Reserved, Is.False);
    }

    [Test]
    public void Reserve_NeedsARegistrationAndItsKey_AndConflictsWithAnotherReservation()
    {
        var p = new PrFixture();
        PrFixture.Conflict(p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusive));
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        PrFixture.Conflict(p.Reserve(p.A, 9, LogicalUnit.PrWriteExclusive));
        TaskAssert.Good(p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusive));
        TaskAssert.Good(p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusive));
        PrFixture.Conflict(p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccess));
        PrFixture.Conflict(p.Reserve(p.B, 2, LogicalUnit.PrWriteExclusive));
        Assert.That(p.ReadKeys().Generation, Is.EqualTo(2), "RESERVE does not change PRGENERATION");
    }

    [TestCase(1, 0)]
    [TestCase(2, 0)]
    [TestCase(4, 0)]
    [TestCase(9, 0)]
    [TestCase(15, 0)]
    public void Reserve_OfAnUndefinedType_IsInvalidFieldInCdb(int type, int scope)
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        if (type == 1)
            TaskAssert.InvalidCdbField(p.F.Run(Cdbs.PersistentReserveOut(0x01, 1, scope: 1), Cdbs.PrOutParameters(1)), 2, 7);
        else
            TaskAssert.InvalidCdbField(p.Reserve(p.A, 1, (byte)type), 2, 3);
    }

    [Test]
    public void Release_ByANonHolderIsAQuietSuccess_ByTheHolderOfAnotherTypeIsInvalid()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        TaskAssert.Good(p.Release(p.A, 1, LogicalUnit.PrWriteExclusive)); // nothing reserved
        p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusive);
        TaskAssert.Good(p.Release(p.B, 2, LogicalUnit.PrWriteExclusive));
        Assert.That(p.ReadReservation().Reserved, Is.True);
        PrFixture.Conflict(p.Release(p.A, 7, LogicalUnit.PrWriteExclusive));
        TaskAssert.Check(p.Release(p.A, 1, LogicalUnit.PrExclusiveAccess), SenseCode.InvalidReleaseOfPersistentReservation);
        PrFixture.Conflict(p.Release(p.A2, 1, LogicalUnit.PrWriteExclusive)); // A through another port is not registered
        TaskAssert.Good(p.Release(p.A, 1, LogicalUnit.PrWriteExclusive));
        Assert.That(p.ReadReservation().Reserved, Is.False);
        Assert.That(p.Pending(p.B), Is.Empty);
        Assert.That(p.ReadKeys().Generation, Is.EqualTo(2), "RELEASE does not change PRGENERATION");
    }

    [TestCase(LogicalUnit.PrWriteExclusiveRegistrantsOnly)]
    [TestCase(LogicalUnit.PrExclusiveAccessAllRegistrants)]
    public void Release_OfARegistrantsReservation_TellsTheOtherRegistrants(byte type)
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Reserve(p.A, 1, type);
        TaskAssert.Good(p.Release(p.A, 1, type));
        Assert.That(p.Pending(p.B), Is.EqualTo(new[] { SenseCode.ReservationsReleased }));
        Assert.That(p.Pending(p.A), Is.Empty);
        Assert.That(p.Pending(p.A2), Is.Empty, "A2 is not registered");
    }

    [Test]
    public void Clear_RemovesEverything_AndTellsTheOthers()
    {
        var p = new PrFixture();
        PrFixture.Conflict(p.Out(p.A, 0x03, key: 1));
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccess);
        PrFixture.Conflict(p.Out(p.A, 0x03, key: 2));
        TaskAssert.Good(p.Out(p.B, 0x03, key: 2));
        Assert.That(p.Pending(p.A), Is.EqualTo(new[] { SenseCode.ReservationsPreempted }));
        Assert.That(p.Pending(p.B), Is.Empty);
        Assert.That(p.ReadKeys(p.B), Is.EqualTo((3u, Array.Empty<ulong>())));
        Assert.That(p.ReadReservation(p.B).Reserved, Is.False);
    }

    [Test]
    public void Preempt_WithoutAReservation_RemovesTheRegistrationsOfTheKey()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Register(p.A2, 2);
        TaskAssert.Good(p.Out(p.A, 0x04, key: 1, saKey: 2, type: LogicalUnit.PrWriteExclusive));
        Assert.That(p.ReadKeys(), Is.EqualTo((4u, new ulong[] { 1 })));
        Assert.That(p.ReadReservation().Reserved, Is.False, "no reservation was there to take");
        Assert.That(p.Pending(p.B), Is.EqualTo(new[] { SenseCode.RegistrationsPreempted }));
        Assert.That(p.Pending(p.A2), Is.EqualTo(new[] { SenseCode.RegistrationsPreempted }));
        PrFixture.Conflict(p.Out(p.A, 0x04, key: 1, saKey: 77, type: LogicalUnit.PrWriteExclusive));
        TaskAssert.InvalidParameter(p.Out(p.A, 0x04, key: 1, saKey: 0, type: LogicalUnit.PrWriteExclusive), 8, 7);
        p.ClearUnitAttentions();
        PrFixture.Conflict(p.Out(p.B, 0x04, key: 2, saKey: 1, type: LogicalUnit.PrWriteExclusive)); // B is no longer registered
    }

    [Test]
    public void Preempt_OfTheHoldersKey_TakesTheReservation()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Register(p.A2, 3);
        p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccess);
        TaskAssert.Good(p.Out(p.B, 0x04, key: 2, saKey: 1, type: LogicalUnit.PrWriteExclusiveRegistrantsOnly));
        Assert.That(p.Pending(p.A), Is.EqualTo(new[] { SenseCode.RegistrationsPreempted }));
        Assert.That(p.Pending(p.A2), Is.EqualTo(new[] { SenseCode.ReservationsReleased }), "the type changed");
        Assert.That(p.Pending(p.B), Is.Empty);
        Assert.That(p.ReadReservation(p.B), Is.EqualTo((true, 2UL, LogicalUnit.PrWriteExclusiveRegistrantsOnly)));
        Assert.That(p.ReadKeys(p.B).Keys, Is.EqualTo(new ulong[] { 2, 3 }));
    }

    [Test]
    public void Preempt_OfAnAllRegistrantsReservationWithKeyZero_RemovesEveryOtherRegistration()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Register(p.A2, 3);
        p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusiveAllRegistrants);
        TaskAssert.Good(p.Out(p.B, 0x04, key: 2, saKey: 0, type: LogicalUnit.PrExclusiveAccess));
        Assert.That(p.Pending(p.A), Is.EqualTo(new[] { SenseCode.RegistrationsPreempted }));
        Assert.That(p.Pending(p.A2), Is.EqualTo(new[] { SenseCode.RegistrationsPreempted }));
        Assert.That(p.ReadKeys(p.B).Keys, Is.EqualTo(new ulong[] { 2 }));
        Assert.That(p.ReadReservation(p.B), Is.EqualTo((true, 2UL, LogicalUnit.PrExclusiveAccess)));
        // With a non-zero key it only removes registrations.
        var q = new PrFixture();
        q.Register(q.A, 1);
        q.Register(q.B, 2);
        q.Reserve(q.A, 1, LogicalUnit.PrWriteExclusiveAllRegistrants);
        TaskAssert.Good(q.Out(q.B, 0x04, key: 2, saKey: 1, type: LogicalUnit.PrExclusiveAccess));
        Assert.That(q.ReadReservation(q.B), Is.EqualTo((true, 0UL, LogicalUnit.PrWriteExclusiveAllRegistrants)));
        Assert.That(q.ReadKeys(q.B).Keys, Is.EqualTo(new ulong[] { 2 }));
    }

    [Test]
    public void PreemptAndAbort_AsksTheTransportToAbortThePreemptedNexusesTasks_AndWaits()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccess);
        TaskAbortRequest? seen = null;
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        p.F.Unit.AbortTasksRequested += r =>
        {
            seen = r;
            r.Track(aborted.Task);
        };
        var task = p.F.NewTask(Cdbs.PersistentReserveOut(0x05, LogicalUnit.PrExclusiveAccess), Cdbs.PrOutParameters(2, 1), nexus: p.B);
        var running = p.F.Unit.ExecuteAsync(task).AsTask();
        Assert.That(running.Wait(200), Is.False, "the PREEMPT AND ABORT waits for the aborts");
        Assert.That(seen!.Nexuses.Select(n => n.Id), Is.EqualTo(new[] { p.A.Id }));
        Assert.That(seen.Unit, Is.SameAs(p.F.Unit));
        aborted.SetResult();
        Assert.That(running.Wait(5000), Is.True);
        TaskAssert.Good(task);
        Assert.That(p.ReadReservation(p.B), Is.EqualTo((true, 2UL, LogicalUnit.PrExclusiveAccess)));
    }

    [Test]
    public void Preempt_WithoutAbort_RaisesNoAbort()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        bool raised = false;
        p.F.Unit.AbortTasksRequested += _ => raised = true;
        TaskAssert.Good(p.Out(p.B, 0x04, key: 2, saKey: 1, type: LogicalUnit.PrExclusiveAccess));
        Assert.That(raised, Is.False);
    }

    [Test]
    public void RegisterAndMove_GivesTheReservationToAnotherNexus()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccess);
        var list = Cdbs.RegisterAndMoveParameters(1, 0xB7, relativeTargetPort: 1, p.B.InitiatorPortName, unregister: true);
        TaskAssert.Good(p.F.Run(Cdbs.PersistentReserveOut(0x07, LogicalUnit.PrExclusiveAccess, (uint)list.Length), list, nexus: p.A));
        Assert.That(p.ReadReservation(p.B), Is.EqualTo((true, 0xB7UL, LogicalUnit.PrExclusiveAccess)));
        Assert.That(p.ReadKeys(p.B), Is.EqualTo((2u, new ulong[] { 0xB7 })));
        // B holds it now: it may write; A is no longer registered and may not.
        TaskAssert.Good(p.F.Run(Cdbs.Block(0x2A, 0, 1), new byte[512], nexus: p.B));
        PrFixture.Conflict(p.F.Run(Cdbs.Block(0x2A, 0, 1), new byte[512], nexus: p.A));
    }

    [Test]
    public void RegisterAndMove_ByInitiatorName_KeepsTheSourceRegisteredWithoutUnreg()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusive);
        var list = Cdbs.RegisterAndMoveParameters(1, 0x22, 1, p.B.InitiatorName);
        TaskAssert.Good(p.F.Run(Cdbs.PersistentReserveOut(0x07, 0, (uint)list.Length), list, nexus: p.A));
        Assert.That(p.ReadReservation(), Is.EqualTo((true, 0x22UL, LogicalUnit.PrWriteExclusive)));
        Assert.That(p.ReadKeys().Keys, Is.EqualTo(new ulong[] { 1, 0x22 }));
    }

    [Test]
    public void RegisterAndMove_Refusals()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        ScsiTask Move(ITNexus from, byte[] list) => p.F.Run(Cdbs.PersistentReserveOut(0x07, 0, (uint)list.Length), list, nexus: from);

        PrFixture.Conflict(Move(p.A, Cdbs.RegisterAndMoveParameters(1, 5, 1, p.B.InitiatorPortName))); // no reservation
        p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccess);
        PrFixture.Conflict(Move(p.B, Cdbs.RegisterAndMoveParameters(2, 5, 1, p.A.InitiatorPortName))); // not the holder
        PrFixture.Conflict(Move(p.A, Cdbs.RegisterAndMoveParameters(9, 5, 1, p.B.InitiatorPortName))); // wrong key
        TaskAssert.InvalidParameter(Move(p.A, Cdbs.RegisterAndMoveParameters(1, 0, 1, p.B.InitiatorPortName)), 8, 7);
        TaskAssert.InvalidParameter(Move(p.A, Cdbs.RegisterAndMoveParameters(1, 5, 1, p.A.InitiatorPortName)), 24, 7); // to itself
        TaskAssert.InvalidParameter(Move(p.A, Cdbs.RegisterAndMoveParameters(1, 5, 99, p.B.InitiatorPortName)), 18, 7);
        var bad = Cdbs.RegisterAndMoveParameters(1, 5, 1, p.B.InitiatorPortName);
        bad[24] = 0x41; // FC, not iSCSI
        TaskAssert.InvalidParameter(Move(p.A, bad), 24, 7);
        TaskAssert.Check(p.F.Run(Cdbs.PersistentReserveOut(0x07, 0, 20), new byte[20], nexus: p.A), SenseCode.ParameterListLengthError);

        var all = new PrFixture();
        all.Register(all.A, 1);
        all.Reserve(all.A, 1, LogicalUnit.PrExclusiveAccessAllRegistrants);
        var list = Cdbs.RegisterAndMoveParameters(1, 5, 1, all.B.InitiatorPortName);
        PrFixture.Conflict(all.F.Run(Cdbs.PersistentReserveOut(0x07, 0, (uint)list.Length), list, nexus: all.A));
    }

    [Test]
    public void AllTargetPorts_RegistersTheInitiatorPortThroughEveryTargetPort()
    {
        var p = new PrFixture();
        TaskAssert.Good(p.Register(p.A, 0xAA, allTargetPorts: true));
        // A2 is A's initiator port through another target port: registered under the same key.
        TaskAssert.Good(p.Reserve(p.A2, 0xAA, LogicalUnit.PrExclusiveAccess));
        TaskAssert.Good(p.F.Run(Cdbs.Block(0x28, 0, 1), nexus: p.A));
        TaskAssert.Good(p.F.Run(Cdbs.Block(0x28, 0, 1), nexus: p.A2));
        PrFixture.Conflict(p.F.Run(Cdbs.Block(0x28, 0, 1), nexus: p.B));
        Assert.That(p.ReadKeys().Keys, Is.EqualTo(new ulong[] { 0xAA }));
        Assert.That(p.In(0x03).DataIn.Span[8 + 12], Is.EqualTo(0x03), "ALL_TG_PT and R_HOLDER");

        // Without ALL_TG_PT, the other target port is another, unregistered, I_T nexus.
        var q = new PrFixture();
        q.Register(q.A, 0xAA);
        PrFixture.Conflict(q.Reserve(q.A2, 0xAA, LogicalUnit.PrExclusiveAccess));
    }

    [Test]
    public void ParameterListErrors()
    {
        var p = new PrFixture();
        TaskAssert.Check(p.F.Run(Cdbs.PersistentReserveOut(0x06, 0, 20), new byte[20]), SenseCode.ParameterListLengthError);
        TaskAssert.Check(p.F.Run(Cdbs.PersistentReserveOut(0x06, 0, 28), new byte[28]), SenseCode.ParameterListLengthError);
        TaskAssert.Check(p.F.Run(Cdbs.PersistentReserveOut(0x06, 0, 24), new byte[12]), SenseCode.ParameterListLengthError);
        // SPEC_I_PT is not supported (SIP_C=0).
        TaskAssert.InvalidParameter(p.F.Run(Cdbs.PersistentReserveOut(0x00, 0, 24), Cdbs.PrOutParameters(0, 1, specIpt: true)), 20, 3);
        // APTPL without a store to keep the state in (PTPL_C=0).
        TaskAssert.InvalidParameter(p.Register(p.A, 1, aptpl: true), 20, 0);
        Assert.That(p.ReadKeys().Keys, Is.Empty);
    }

    [Test]
    public void TooManyRegistrations_IsInsufficientRegistrationResources()
    {
        var p = new PrFixture();
        for (int i = 0; i < LogicalUnit.MaxRegistrations; i++)
        {
            var n = p.Add(LuFixture.NewNexus($"iqn.1994-05.com.example:many{i}", 1));
            TaskAssert.Good(p.F.Run(Cdbs.PersistentReserveOut(0x06), Cdbs.PrOutParameters(0, (ulong)i + 1), nexus: n));
        }
        TaskAssert.Check(p.F.Run(Cdbs.PersistentReserveOut(0x06), Cdbs.PrOutParameters(0, 999), nexus: p.B), SenseCode.InsufficientRegistrationResources);
    }

    [Test]
    public void Reservations_SurviveResetsAndNexusLoss()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccess);
        p.F.Unit.Reset(p.B);
        p.F.Unit.RemoveNexus(p.A);
        // The same initiator port logs in again: a new session, the same I_T nexus name, still the holder.
        var again = p.Add(LuFixture.NewNexus("iqn.1994-05.com.example:host1", 1));
        p.ClearUnitAttentions();
        TaskAssert.Good(p.F.Run(Cdbs.Block(0x2A, 0, 1), new byte[512], nexus: again));
        PrFixture.Conflict(p.F.Run(Cdbs.Block(0x28, 0, 1), nexus: p.B));
    }
}

/// <summary>
/// SPC-4 and SBC-3 tables of commands allowed in the presence of persistent reservations, for every type,
/// from the holder, a registered non-holder and an unregistered nexus.
/// </summary>
public class ReservationAccessMatrixTests
{
    public enum Who
    {
        Holder,
        Registered,
        Unregistered,
    }

    public enum Kind
    {
        Read,
        Write,
        Allowed,
    }

    private static readonly (string Name, Kind Kind, Func<byte[]> Cdb, int DataOut)[] Commands =
    [
        ("READ (10)", Kind.Read, () => Cdbs.Block(0x28, 1, 1), 0),
        ("VERIFY (16)", Kind.Read, () => Cdbs.Block(0x8F, 1, 1), 0),
        ("PRE-FETCH (10)", Kind.Read, () => Cdbs.Block(0x34, 1, 1), 0),
        ("MODE SENSE (6)", Kind.Read, () => Cdbs.ModeSense6(0x3F), 0),
        ("REPORT SUPPORTED OPERATION CODES", Kind.Read, () => Cdbs.ReportSupportedOpcodes(0), 0),
        ("GET LBA STATUS", Kind.Read, () => Cdbs.GetLbaStatus(0), 0),
        ("WRITE (10)", Kind.Write, () => Cdbs.Block(0x2A, 1, 1), 512),
        ("WRITE SAME (16)", Kind.Write, () => Cdbs.Block(0x93, 1, 2), 512),
        ("UNMAP", Kind.Write, () => Cdbs.Unmap(24), 24),
        ("SYNCHRONIZE CACHE (10)", Kind.Write, () => Cdbs.Block(0x35, 0, 0), 0),
        ("MODE SELECT (6)", Kind.Write, () => Cdbs.ModeSelect6(0), 0),
        ("START STOP UNIT start=0", Kind.Write, () => Cdbs.StartStopUnit(start: false), 0),
        ("PREVENT ALLOW prevent=1", Kind.Write, () => Cdbs.PreventAllow(1), 0),
        ("TEST UNIT READY", Kind.Allowed, Cdbs.TestUnitReady, 0),
        ("INQUIRY", Kind.Allowed, () => Cdbs.Inquiry(), 0),
        ("READ CAPACITY (10)", Kind.Allowed, () => Cdbs.ReadCapacity10(), 0),
        ("READ CAPACITY (16)", Kind.Allowed, () => Cdbs.ReadCapacity16(), 0),
        ("REQUEST SENSE", Kind.Allowed, () => Cdbs.RequestSense(), 0),
        ("PERSISTENT RESERVE IN", Kind.Allowed, () => Cdbs.PersistentReserveIn(0), 0),
        ("REPORT TARGET PORT GROUPS", Kind.Allowed, () => Cdbs.ReportTargetPortGroups(), 0),
        ("START STOP UNIT start=1", Kind.Allowed, () => Cdbs.StartStopUnit(start: true), 0),
        ("PREVENT ALLOW prevent=0", Kind.Allowed, () => Cdbs.PreventAllow(0), 0),
    ];

    private static readonly byte[] Types =
    [
        LogicalUnit.PrWriteExclusive, LogicalUnit.PrExclusiveAccess,
        LogicalUnit.PrWriteExclusiveRegistrantsOnly, LogicalUnit.PrExclusiveAccessRegistrantsOnly,
        LogicalUnit.PrWriteExclusiveAllRegistrants, LogicalUnit.PrExclusiveAccessAllRegistrants,
    ];

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (byte type in Types)
            foreach (Who who in Enum.GetValues<Who>())
                foreach (var c in Commands)
                    yield return new TestCaseData(type, who, c.Name).SetName($"Type{type:X}_{who}_{c.Name.Replace(' ', '_')}");
    }

    /// <summary>The table, written out: whether the command conflicts.</summary>
    private static bool ExpectConflict(byte type, Who who, Kind kind)
    {
        bool allRegistrants = type is 7 or 8;
        if (who == Who.Holder || (allRegistrants && who == Who.Registered) || kind == Kind.Allowed)
            return false;
        return type switch
        {
            1 => kind == Kind.Write, // WE
            3 => true, // EA
            5 or 7 => who == Who.Unregistered && kind == Kind.Write, // WE-RO, WE-AR
            _ => who == Who.Unregistered, // EA-RO, EA-AR
        };
    }

    [TestCaseSource(nameof(Cases))]
    public void Command(byte type, Who who, string name)
    {
        var c = Commands.Single(x => x.Name == name);
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        TaskAssert.Good(p.Reserve(p.A, 1, type));
        var nexus = who switch { Who.Holder => p.A, Who.Registered => p.B, _ => p.A2 };
        byte[]? data = c.DataOut > 0 ? new byte[c.DataOut] : null;
        if (name == "UNMAP")
            data = Cdbs.UnmapList((1, 1));
        var task = p.F.Run(c.Cdb(), data, nexus: nexus);
        if (ExpectConflict(type, who, c.Kind))
        {
            Assert.That(task.Status, Is.EqualTo(ScsiStatus.ReservationConflict));
            Assert.That(task.Sense.Length, Is.Zero);
        }
        else
        {
            Assert.That(task.Status, Is.Not.EqualTo(ScsiStatus.ReservationConflict),
                () => task.Status == ScsiStatus.CheckCondition ? Sense.Parse(task.Sense).Code.ToString() : "");
        }
    }

    [Test]
    public void NoReservation_RegistrationsAloneRestrictNothing()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        TaskAssert.Good(p.F.Run(Cdbs.Block(0x2A, 0, 1), new byte[512], nexus: p.B));
    }
}

public class ReservationPersistenceTests
{
    private static (LogicalUnit Unit, ITNexus A, ITNexus B, ITNexus C) Restart(IReservationStore store)
    {
        var unit = new LogicalUnit(new TestDoubles.MemoryVDisk(1 << 20), new LogicalUnitOptions
        {
            SerialNumber = "s",
            NaaDesignator = LuFixture.Naa,
            ReservationStore = store,
        }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var a = LuFixture.NewNexus("iqn.1994-05.com.example:host1", 1);
        var b = LuFixture.NewNexus("iqn.1994-05.com.example:host2", 2, PrFixture.OtherTargetPort);
        var c = LuFixture.NewNexus("iqn.1994-05.com.example:host3", 1);
        foreach (var n in new[] { a, b, c })
        {
            unit.AddNexus(n);
            Run(unit, Cdbs.TestUnitReady(), n);
        }
        return (unit, a, b, c);
    }

    private static ScsiTask Run(LogicalUnit unit, byte[] cdb, ITNexus nexus, byte[]? data = null)
    {
        var task = new ScsiTask { Nexus = nexus };
        cdb.CopyTo(task.CdbBuffer, 0);
        task.CdbLength = cdb.Length;
        task.DataOut = data ?? ReadOnlyMemory<byte>.Empty;
        task.ExpectedTransferLength = data is null ? 8192u : (uint)data.Length;
        unit.ExecuteAsync(task).AsTask().GetAwaiter().GetResult();
        return task;
    }

    [Test]
    public void AptplState_SurvivesARestartThroughTheStore()
    {
        var store = new InMemoryReservationStore();
        var p = new PrFixture(store);
        TaskAssert.Good(p.Register(p.A, 0xA1, aptpl: true));
        TaskAssert.Good(p.Register(p.B, 0xB1, allTargetPorts: true, aptpl: true));
        TaskAssert.Good(p.Reserve(p.A, 0xA1, LogicalUnit.PrWriteExclusiveRegistrantsOnly));
        Assert.That(store.Saves, Is.EqualTo(3), "every change is saved before its status");
        Assert.That(store.Load(Convert.ToHexStringLower(LuFixture.Naa)), Is.Not.Empty, "kept under the NAA designator in hex");

        var (unit, a, b, c) = Restart(store);
        var keys = Run(unit, Cdbs.PersistentReserveIn(0), c).DataIn.ToArray();
        Assert.That(LuFixture.U32(keys, 0), Is.EqualTo(2), "PRGENERATION");
        Assert.That(LuFixture.U64(keys, 8), Is.EqualTo(0xA1));
        Assert.That(LuFixture.U64(keys, 16), Is.EqualTo(0xB1));
        var reservation = Run(unit, Cdbs.PersistentReserveIn(1), c).DataIn.ToArray();
        Assert.That(LuFixture.U64(reservation, 8), Is.EqualTo(0xA1));
        Assert.That(reservation[21], Is.EqualTo(LogicalUnit.PrWriteExclusiveRegistrantsOnly));
        TaskAssert.Good(Run(unit, Cdbs.Block(0x2A, 0, 1), a, new byte[512]));
        TaskAssert.Good(Run(unit, Cdbs.Block(0x2A, 0, 1), b, new byte[512])); // ALL_TG_PT: through another port too
        Assert.That(Run(unit, Cdbs.Block(0x2A, 0, 1), c, new byte[512]).Status, Is.EqualTo(ScsiStatus.ReservationConflict));
        Assert.That(Run(unit, Cdbs.PersistentReserveIn(2), c).DataIn.Span[3] & 0x01, Is.EqualTo(1), "PTPL_A");
    }

    [Test]
    public void TurningAptplOff_SavesAnEmptyState()
    {
        var store = new InMemoryReservationStore();
        var p = new PrFixture(store);
        p.Register(p.A, 0xA1, aptpl: true);
        p.Reserve(p.A, 0xA1, LogicalUnit.PrExclusiveAccess);
        TaskAssert.Good(p.Out(p.A, 0x06, 0, 0xA2, aptpl: false));
        Assert.That(store.Load(p.F.Unit.UnitKey), Is.Empty);
        int saves = store.Saves;
        p.Register(p.B, 0xB1);
        Assert.That(store.Saves, Is.EqualTo(saves), "nothing more to save while APTPL is off");
        var (unit, _, _, c) = Restart(store);
        Assert.That(LuFixture.U32(Run(unit, Cdbs.PersistentReserveIn(0), c).DataIn.Span, 4), Is.Zero);
    }

    [Test]
    public void WithoutAptpl_NothingIsSaved()
    {
        var store = new InMemoryReservationStore();
        var p = new PrFixture(store);
        p.Register(p.A, 1);
        p.Reserve(p.A, 1, LogicalUnit.PrExclusiveAccess);
        Assert.That(store.Saves, Is.Zero);
    }

    private sealed class FailingStore : IReservationStore
    {
        public byte[]? Load(string unitKey) => null;

        public void Save(string unitKey, byte[] state) => throw new IOException("disk full");
    }

    [Test]
    public void AStoreThatCannotSave_FailsTheCommand()
    {
        var p = new PrFixture(new FailingStore());
        TaskAssert.Check(p.Register(p.A, 1, aptpl: true), SenseCode.InternalTargetFailure);
        // The change stands in memory (it only may not survive a restart).
        Assert.That(p.ReadKeys().Keys, Is.EqualTo(new ulong[] { 1 }));
        var q = new PrFixture(new FailingStore());
        TaskAssert.Good(q.Register(q.A, 1)); // without APTPL nothing is saved
    }

    [Test]
    public void AnUnreadableState_StartsEmpty()
    {
        var store = new InMemoryReservationStore();
        store.Save(Convert.ToHexStringLower(LuFixture.Naa), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        var (unit, _, _, c) = Restart(store);
        Assert.That(LuFixture.U32(Run(unit, Cdbs.PersistentReserveIn(0), c).DataIn.Span, 4), Is.Zero);
    }

    [Test]
    public void SerializedState_RoundTripsEveryField()
    {
        var store = new InMemoryReservationStore();
        var p = new PrFixture(store);
        p.Register(p.A, ulong.MaxValue, aptpl: true);
        p.Register(p.B, 7, allTargetPorts: true, aptpl: true);
        p.Reserve(p.B, 7, LogicalUnit.PrExclusiveAccess);
        byte[] state = store.Load(p.F.Unit.UnitKey)!;
        var (unit, _, _, _) = Restart(store);
        lock (unit)
            Assert.That(unit.SerializeState(), Is.EqualTo(state));
    }
}

public class Reserve6Tests
{
    [Test]
    public void Reserve_ExcludesOtherNexuses_UntilReleased()
    {
        var p = new PrFixture();
        TaskAssert.Good(p.F.Run(Cdbs.Reserve6(), nexus: p.A));
        TaskAssert.Good(p.F.Run(Cdbs.Reserve6(), nexus: p.A)); // the holder may repeat it
        PrFixture.Conflict(p.F.Run(Cdbs.Reserve6(), nexus: p.B));
        PrFixture.Conflict(p.F.Run(Cdbs.ModeSense6(0x3F), nexus: p.B));
        PrFixture.Conflict(p.F.Run(Cdbs.TestUnitReady(), nexus: p.B));
        PrFixture.Conflict(p.F.Run(Cdbs.PersistentReserveIn(0), nexus: p.B));
        PrFixture.Conflict(p.Register(p.B, 5));
        TaskAssert.Good(p.F.Run(Cdbs.Inquiry(), nexus: p.B));
        TaskAssert.Good(p.F.Run(Cdbs.ReadCapacity10(), nexus: p.B));
        TaskAssert.Good(p.F.Run(Cdbs.RequestSense(), nexus: p.B));
        TaskAssert.Good(p.F.Run(Cdbs.PreventAllow(0), nexus: p.B));
        TaskAssert.Good(p.F.Run(Cdbs.Release6(), nexus: p.B)); // not the holder: GOOD, nothing changes
        PrFixture.Conflict(p.F.Run(Cdbs.Block(0x28, 0, 1), nexus: p.B));
        TaskAssert.Good(p.F.Run(Cdbs.ModeSense6(0x3F), nexus: p.A));
        TaskAssert.Good(p.F.Run(Cdbs.Release6(), nexus: p.A));
        TaskAssert.Good(p.F.Run(Cdbs.Reserve6(), nexus: p.B));
    }

    [Test]
    public void Reserve_EndsWithTheNexus_AndWithAReset()
    {
        var p = new PrFixture();
        p.F.Run(Cdbs.Reserve6(), nexus: p.A);
        p.F.Unit.RemoveNexus(p.A);
        TaskAssert.Good(p.F.Run(Cdbs.Reserve6(), nexus: p.B));
        p.F.Unit.Reset(p.A2);
        p.ClearUnitAttentions();
        TaskAssert.Good(p.F.Run(Cdbs.Reserve6(), nexus: p.A2));
    }

    [Test]
    public void WithPersistentReservations_CompatibleReservationHandling()
    {
        var p = new PrFixture();
        p.Register(p.A, 1);
        p.Register(p.B, 2);
        // Registrations exist: RESERVE/RELEASE conflict unless the nexus holds the persistent reservation.
        PrFixture.Conflict(p.F.Run(Cdbs.Reserve6(), nexus: p.A));
        p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusive);
        TaskAssert.Good(p.F.Run(Cdbs.Reserve6(), nexus: p.A));
        TaskAssert.Good(p.F.Run(Cdbs.Release6(), nexus: p.A));
        Assert.That(p.ReadReservation().Type, Is.EqualTo(LogicalUnit.PrWriteExclusive), "unchanged");
        PrFixture.Conflict(p.F.Run(Cdbs.Reserve6(), nexus: p.B));
        PrFixture.Conflict(p.F.Run(Cdbs.Release6(), nexus: p.B));
        // A registrants-only reservation: every registrant gets GOOD without effect.
        p.Release(p.A, 1, LogicalUnit.PrWriteExclusive);
        p.Reserve(p.A, 1, LogicalUnit.PrWriteExclusiveRegistrantsOnly);
        TaskAssert.Good(p.F.Run(Cdbs.Reserve6(), nexus: p.B));
        PrFixture.Conflict(p.F.Run(Cdbs.Reserve6(), nexus: p.A2));
    }

    [Test]
    public void ReservedBits_AreInvalid()
    {
        var p = new PrFixture();
        TaskAssert.InvalidCdbField(p.F.Run([0x16, 0x10, 0, 0, 0, 0]), 1, 4); // 3RDPTY
    }
}
