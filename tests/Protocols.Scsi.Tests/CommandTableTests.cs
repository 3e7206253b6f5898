namespace StorageAppliance.Protocols.Scsi.Tests;

/// <summary>The usage maps drive both REPORT SUPPORTED OPERATION CODES and CDB checking: they must agree with the code.</summary>
public class CommandTableTests
{
    private static IEnumerable<TestCaseData> Commands() =>
        CommandTable.Commands.Select((c, i) => new TestCaseData(i).SetName($"{c.Name}"));

    [TestCaseSource(nameof(Commands))]
    public void EveryBitInTheUsageMap_IsAccepted(int index)
    {
        var c = CommandTable.Commands[index];
        var cdb = (byte[])c.Usage.Clone();
        cdb[^1] = 0; // a CONTROL byte with NACA or LINK set is refused on purpose
        Assert.That(CommandTable.FindReservedBit(cdb, in c, out _, out _), Is.False);
        Assert.That(CommandTable.Find(cdb, out _), Is.EqualTo(index));
    }

    [TestCaseSource(nameof(Commands))]
    public void EveryBitOutsideTheUsageMap_IsRefusedWithItsPosition(int index)
    {
        var c = CommandTable.Commands[index];
        for (int i = 1; i < c.CdbLength - 1; i++)
        {
            if (i == 1 && c.HasServiceAction)
                continue;
            for (int bit = 0; bit < 8; bit++)
            {
                if ((c.Usage[i] & (1 << bit)) != 0)
                    continue;
                var cdb = new byte[c.CdbLength];
                cdb[0] = c.Opcode;
                if (c.HasServiceAction)
                    cdb[1] = c.Usage[1];
                cdb[i] = (byte)(1 << bit);
                Assert.That(CommandTable.FindReservedBit(cdb, in c, out int pos, out int b), Is.True, $"byte {i} bit {bit}");
                Assert.That((pos, b), Is.EqualTo((i, bit)));
            }
        }
    }

    [Test]
    public void OperationCodesAreSortedAndUnique()
    {
        var keys = CommandTable.Commands.Select(c => c.Opcode * 256 + c.ServiceAction).ToList();
        Assert.That(keys, Is.Ordered);
        Assert.That(keys, Is.Unique);
    }

    [Test]
    public void CdbLengthsMatchTheOperationCodeGroup()
    {
        foreach (var c in CommandTable.Commands)
        {
            int expected = (c.Opcode >> 5) switch { 0 => 6, 1 or 2 => 10, 4 => 16, 5 => 12, _ => -1 };
            Assert.That(c.CdbLength, Is.EqualTo(expected), c.Name);
        }
    }
}

public class CdbValidationTests
{
    [TestCase(0x02)]
    [TestCase(0x04)] // FORMAT UNIT
    [TestCase(0x1D)] // SEND DIAGNOSTIC
    [TestCase(0x56)] // RESERVE (10): only the 6-byte form
    [TestCase(0x8C)] // READ ATTRIBUTE
    [TestCase(0xFF)]
    public void UnknownOperationCode_IsInvalidCommandOperationCode(int opcode)
    {
        var f = LuFixture.Create();
        var cdb = new byte[16];
        cdb[0] = (byte)opcode;
        var sense = TaskAssert.Check(f.Run(cdb), SenseCode.InvalidCommandOperationCode);
        Assert.That(sense.FieldPointer, Is.Zero);
    }

    [TestCase(0x9E, 0x1F)]
    [TestCase(0xA3, 0x05)] // REPORT IDENTIFYING INFORMATION
    [TestCase(0x5E, 0x04)] // PERSISTENT RESERVE IN: service actions 0..3 only
    [TestCase(0x84, 0x02)] // RECEIVE COPY RESULTS: 02h is not defined for LID1
    [TestCase(0x83, 0x01)] // EXTENDED COPY (LID4)
    [TestCase(0xA3, 0x0D)]
    public void UnknownServiceAction_IsInvalidFieldAtTheServiceAction(int opcode, int serviceAction)
    {
        var f = LuFixture.Create();
        var cdb = new byte[16];
        cdb[0] = (byte)opcode;
        cdb[1] = (byte)serviceAction;
        TaskAssert.InvalidCdbField(f.Run(cdb), 1, 4);
    }

    [Test]
    public void ReservedBit_IsInvalidFieldWithBitPointer()
    {
        var f = LuFixture.Create();
        var cdb = Cdbs.Block(0x28, 0, 1);
        cdb[1] = 0x01; // obsolete RELADR
        TaskAssert.InvalidCdbField(f.Run(cdb), 1, 0);
        cdb = Cdbs.Block(0x28, 0, 1);
        cdb[6] = 0x20; // reserved above GROUP NUMBER
        TaskAssert.InvalidCdbField(f.Run(cdb), 6, 5);
    }

    [Test]
    public void ControlByte_NacaAndLinkAreRefused_VendorBitsIgnored()
    {
        var f = LuFixture.Create();
        var cdb = Cdbs.TestUnitReady();
        cdb[5] = 0x04;
        TaskAssert.InvalidCdbField(f.Run(cdb), 5, 2);
        cdb[5] = 0x01;
        TaskAssert.InvalidCdbField(f.Run(cdb), 5, 0);
        cdb[5] = 0xC0;
        TaskAssert.Good(f.Run(cdb));
        var read = Cdbs.Block(0x88, 0, 1);
        read[15] = 0x04;
        TaskAssert.InvalidCdbField(f.Run(read), 15, 2);
    }

    [Test]
    public void CdbShorterThanTheCommand_IsInvalidField()
    {
        var f = LuFixture.Create();
        var task = f.NewTask(Cdbs.Block(0x28, 0, 1));
        task.CdbLength = 6;
        f.Unit.ExecuteAsync(task).AsTask().Wait();
        TaskAssert.Check(task, SenseCode.InvalidFieldInCdb);
    }

    [Test]
    public void InvalidOperationCode_FollowsDSense()
    {
        var f = LuFixture.Create();
        f.Unit.DescriptorSense = true;
        var task = f.Run([0x02, 0, 0, 0, 0, 0]);
        Assert.That(task.Sense[0], Is.EqualTo(0x72));
    }

    [Test]
    public void AbortedTask_IsNotExecuted()
    {
        var f = LuFixture.Create();
        var task = f.NewTask(Cdbs.Block(0x2A, 0, 1), new byte[512]);
        task.Aborted = true;
        f.Unit.ExecuteAsync(task).AsTask().Wait();
        Assert.That(f.Disk.Calls, Is.Empty);
    }
}
