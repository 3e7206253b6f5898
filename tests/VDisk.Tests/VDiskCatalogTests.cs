using NUnit.Framework;

namespace StorageAppliance.VDisk.Tests;

public sealed class VDiskCatalogTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("catalog-test-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    [Test]
    public void Ids_are_stable_across_reopening_and_unique_per_vdisk()
    {
        var c = VDiskCatalog.Open(_dir);
        long a = c.GetOrCreateId("a");
        long b = c.GetOrCreateId("b");
        Assert.That(a, Is.Not.EqualTo(b));
        Assert.That(a, Is.GreaterThan(0));
        var again = VDiskCatalog.Open(_dir);
        Assert.That(again.ApplianceId, Is.EqualTo(c.ApplianceId));
        Assert.That(again.GetOrCreateId("a"), Is.EqualTo(a));
        Assert.That(again.GetOrCreateId("b"), Is.EqualTo(b));
    }

    [Test]
    public void Naa_designator_is_type_6_with_a_locally_administered_company_id_and_the_vdisk_id()
    {
        var c = VDiskCatalog.Open(_dir);
        long id = c.GetOrCreateId("a");
        byte[] naa = c.NaaDesignator(id);
        Assert.That(naa, Has.Length.EqualTo(16));
        Assert.That(naa[0] >> 4, Is.EqualTo(6), "NAA field 6: IEEE Registered Extended");
        // The 24-bit company id starts in the low nibble of byte 0; its first octet must be xxxx1010b.
        int firstOctet = ((naa[0] & 0x0F) << 4) | (naa[1] >> 4);
        Assert.That(firstOctet & 0x0F, Is.EqualTo(0x0A));
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(naa.AsSpan(8)), Is.EqualTo(id));
        Assert.That(c.NaaDesignator(id), Is.EqualTo(naa), "deterministic");
    }

    [Test]
    public void A_damaged_catalog_stops_with_an_explanation_instead_of_making_new_ids()
    {
        VDiskCatalog.Open(_dir).GetOrCreateId("a");
        File.WriteAllText(Path.Combine(_dir, "catalog.json"), "{ not json");
        var e = Assert.Throws<InvalidDataException>(() => VDiskCatalog.Open(_dir));
        Assert.That(e!.Message, Does.Contain("catalog.json is damaged"));
    }
}
