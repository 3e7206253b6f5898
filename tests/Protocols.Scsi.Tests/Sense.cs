using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi.Tests;

/// <summary>Sense data parsed from either format (SPC-4 4.5), for assertions.</summary>
public readonly record struct Sense(
    bool Descriptor,
    SenseKey Key,
    byte Asc,
    byte Ascq,
    ulong? Information,
    bool SenseKeySpecificValid,
    bool InCdb,
    ushort FieldPointer,
    int? BitPointer)
{
    public SenseCode Code => new(Key, Asc, Ascq);

    public static Sense Parse(ReadOnlySpan<byte> s)
    {
        if ((s[0] & 0x7F) == 0x70)
        {
            ulong? info = (s[0] & 0x80) != 0 ? BinaryPrimitives.ReadUInt32BigEndian(s[3..]) : null;
            var sks = s[15..18];
            return new Sense(false, (SenseKey)(s[2] & 0x0F), s[12], s[13], info, (sks[0] & 0x80) != 0, (sks[0] & 0x40) != 0,
                BinaryPrimitives.ReadUInt16BigEndian(sks[1..]), (sks[0] & 0x08) != 0 ? sks[0] & 0x07 : null);
        }
        Assert.That(s[0] & 0x7F, Is.EqualTo(0x72), "response code");
        ulong? information = null;
        bool valid = false, cd = false;
        ushort field = 0;
        int? bit = null;
        int end = 8 + s[7];
        for (int pos = 8; pos < end; pos += 2 + s[pos + 1])
        {
            if (s[pos] == 0x00)
                information = BinaryPrimitives.ReadUInt64BigEndian(s[(pos + 4)..]);
            else if (s[pos] == 0x02)
            {
                var sks = s.Slice(pos + 4, 3);
                valid = (sks[0] & 0x80) != 0;
                cd = (sks[0] & 0x40) != 0;
                field = BinaryPrimitives.ReadUInt16BigEndian(sks[1..]);
                bit = (sks[0] & 0x08) != 0 ? sks[0] & 0x07 : null;
            }
        }
        return new Sense(true, (SenseKey)(s[1] & 0x0F), s[2], s[3], information, valid, cd, field, bit);
    }
}

public static class TaskAssert
{
    public static void Good(ScsiTask task)
    {
        Assert.That(task.Status, Is.EqualTo(ScsiStatus.Good),
            () => task.Status == ScsiStatus.CheckCondition ? $"sense {Sense.Parse(task.Sense).Code}" : "");
    }

    /// <summary>Asserts CHECK CONDITION with <paramref name="code"/> and returns the parsed sense.</summary>
    public static Sense Check(ScsiTask task, SenseCode code)
    {
        Assert.That(task.Status, Is.EqualTo(ScsiStatus.CheckCondition));
        var sense = Sense.Parse(task.Sense);
        Assert.That(sense.Code, Is.EqualTo(code));
        Assert.That(task.DataIn.Length, Is.Zero, "no data with CHECK CONDITION");
        return sense;
    }

    /// <summary>INVALID FIELD IN CDB pointing at a byte (and bit, when given).</summary>
    public static void InvalidCdbField(ScsiTask task, int bytePosition, int? bit = null)
    {
        var sense = Check(task, SenseCode.InvalidFieldInCdb);
        Assert.Multiple(() =>
        {
            Assert.That(sense.SenseKeySpecificValid, Is.True, "SKSV");
            Assert.That(sense.InCdb, Is.True, "C/D");
            Assert.That(sense.FieldPointer, Is.EqualTo(bytePosition), "field pointer");
            if (bit is int b)
                Assert.That(sense.BitPointer, Is.EqualTo(b), "bit pointer");
        });
    }

    public static void InvalidParameter(ScsiTask task, int bytePosition, int? bit = null)
    {
        var sense = Check(task, SenseCode.InvalidFieldInParameterList);
        Assert.Multiple(() =>
        {
            Assert.That(sense.SenseKeySpecificValid, Is.True, "SKSV");
            Assert.That(sense.InCdb, Is.False, "C/D");
            Assert.That(sense.FieldPointer, Is.EqualTo(bytePosition), "field pointer");
            if (bit is int b)
                Assert.That(sense.BitPointer, Is.EqualTo(b), "bit pointer");
        });
    }
}
