using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace StorageAppliance.DataReduction.Tests;

public class ExtentIdTests
{
    [Test]
    public void IsTwentyFourBytes() => Assert.That(Unsafe.SizeOf<ExtentId>(), Is.EqualTo(24));

    [Test]
    public void Compute_IsSizeAndSha1()
    {
        byte[] data = TestData.Random(65536 + 3, 20);
        ExtentId id = ExtentId.Compute(data);
        Span<byte> hash = stackalloc byte[20];
        id.CopyHashTo(hash);
        Assert.That(id.Size, Is.EqualTo(data.Length));
        Assert.That(hash.ToArray(), Is.EqualTo(SHA1.HashData(data)));
        Assert.That(id, Is.EqualTo(ExtentId.FromHash(SHA1.HashData(data), data.Length)));
    }

    [Test]
    public void KnownVector_Abc()
    {
        // FIPS 180 example: SHA-1("abc").
        ExtentId id = ExtentId.Compute("abc"u8);
        Assert.That(id.ToString(), Is.EqualTo("3:a9993e364706816aba3e25717850c26c9cd0d89d"));
    }

    [Test]
    public void RoundTrips_ThroughTheStoredForm_AtAnOffset()
    {
        ExtentId id = ExtentId.Compute(TestData.Random(1000, 21));
        byte[] buffer = new byte[7 + ExtentId.SerializedSize];
        id.WriteTo(buffer.AsSpan(7));
        Assert.That(buffer.AsSpan(7, 4).ToArray(), Is.EqualTo(new byte[] { 0, 0, 0x03, 0xE8 }), "size big-endian first");
        Assert.That(ExtentId.TryRead(buffer.AsSpan(7), out ExtentId back), Is.True);
        Assert.That(back, Is.EqualTo(id));
        Assert.That(back.GetHashCode(), Is.EqualTo(id.GetHashCode()));
        Assert.That(ExtentId.TryRead(buffer.AsSpan(8), out _), Is.False, "23 bytes");
    }

    [Test]
    public void DiffersBy_SizeOrContent()
    {
        byte[] data = TestData.Random(4096, 22);
        ExtentId id = ExtentId.Compute(data);
        byte[] flipped = (byte[])data.Clone();
        flipped[4000] ^= 1;
        Assert.That(ExtentId.Compute(flipped), Is.Not.EqualTo(id));
        Assert.That(ExtentId.FromHash(SHA1.HashData(data), 4095), Is.Not.EqualTo(id));
        Assert.That(ExtentId.Compute(data) == id, Is.True);
        var set = new HashSet<ExtentId> { id, ExtentId.Compute(flipped), ExtentId.Compute(data) };
        Assert.That(set, Has.Count.EqualTo(2));
    }
}
