using StorageAppliance.Management.Config;

namespace StorageAppliance.Management.Tests.Config;

// Pools, disks and the container policy keys. Line and column numbers count from Base (14 lines)
// unless a test writes its own text.
public class PoolConfigTests
{
    private const string Base = """
        pools:
          - name: fast
            disks:
              - path: /srv/ssd0
                tier: ssd
                capacity: 100GiB
          - name: slow
            disks:
              - path: /srv/hdd0
                tier: hdd
                capacity: 1TiB
        containers:
          - name: default
            pool: fast
        """;

    private static string Container(string keys) => Base + "\n" + keys;

    [Test]
    public void TheBase_Loads()
    {
        ApplianceConfig c = Yaml.Load(Base);

        Assert.Multiple(() =>
        {
            Assert.That(c.Pools.Select(p => (p.Name, p.Implicit)), Is.EqualTo(new[] { ("fast", false), ("slow", false) }));
            Assert.That(c.Pools.Select(p => p.Disks.Single().Tier), Is.EqualTo(new[] { StorageTier.Ssd, StorageTier.Hdd }));
            Assert.That(c.Pools.Select(p => p.FixedCapacityBytes), Is.EqualTo(new long?[] { 100L << 30, 1L << 40 }));
            Assert.That(c.FindPool("slow")!.HasTier(StorageTier.Hdd), Is.True);
            Assert.That(c.FindPool("slow")!.HasTier(StorageTier.Ssd), Is.False);
            Assert.That(c.Containers.Single().Pool, Is.EqualTo("fast"));
        });
    }

    [Test]
    public void EveryPoolAndContainerKey_IsBound()
    {
        const string yaml = """
            appliance: {data_dir: /var/lib/appliance}
            pools:
              - name: tiered
                disks:
                  - {path: disks/nvme0, tier: SSD, capacity: 400GiB}
                  - {path: /dev/sdb, tier: hdd, capacity: auto}
                  - {path: /mnt/hdd1/}
            containers:
              - name: vm
                replication_factor: 1
                max_capacity: 2TiB
                reserved_capacity: 100GiB
                vdisk_block_size: 256KiB
                extent_group_size: 32MiB
                tier_preference: hdd
            """;

        ApplianceConfig c = Yaml.Load(yaml);

        PoolConfig pool = c.Pools.Single();
        ContainerConfig vm = c.Containers.Single();
        Assert.Multiple(() =>
        {
            Assert.That(pool.Disks.Select(d => (d.Path, d.Tier, d.CapacityBytes)), Is.EqualTo(new[]
            {
                (Path.GetFullPath("/srv/appliance/disks/nvme0"), StorageTier.Ssd, (long?)(400L << 30)),
                ("/dev/sdb", StorageTier.Hdd, null),
                ("/mnt/hdd1", StorageTier.Ssd, null),
            }));
            Assert.That(pool.FixedCapacityBytes, Is.Null, "an auto disk makes the pool's capacity unknown until start");
            Assert.That(vm.Pool, Is.EqualTo("tiered"), "the only pool is the default");
            Assert.That((vm.ReplicationFactor, vm.MaxCapacityBytes, vm.ReservedCapacityBytes), Is.EqualTo((1, 2L << 40, 100L << 30)));
            Assert.That((vm.VDiskBlockSize, vm.ExtentGroupSize), Is.EqualTo((256 << 10, 32L << 20)));
            Assert.That(vm.TierPreference, Is.EqualTo(new[] { StorageTier.Hdd }));
        });
    }

    [Test]
    public void PoolsMayComeAfterTheContainersThatNameThem()
    {
        const string yaml = """
            containers: [{name: a, pool: p2}, {name: b, pool: p1}]
            pools:
              - {name: p1, disks: [{path: /d1}]}
              - {name: p2, disks: [{path: /d2}]}
            """;

        Assert.That(Yaml.Load(yaml).Containers.Select(c => c.Pool), Is.EqualTo(new[] { "p2", "p1" }));
    }

    // --- pools and disks ----------------------------------------------------------------------

    [Test]
    public void DuplicatePoolName_IsReportedAtTheSecondOne()
    {
        Yaml.FailsAt(Base.Replace("name: slow", "name: fast"), 7, 11, "pools[1].name", "duplicate pool name 'fast' (first defined at line 2)");
    }

    [Test]
    public void InvalidPoolName_IsReported()
    {
        Yaml.FailsAt(Base.Replace("name: slow", "name: \"slow pool\""), 7, 11, "pools[1].name", "is not a valid name");
    }

    [Test]
    public void DuplicateDiskPath_AcrossPools_IsReportedAtTheSecondOne()
    {
        Yaml.FailsAt(Base.Replace("/srv/hdd0", "/srv/ssd0"), 9, 15, "pools[1].disks[0].path",
            "disk '/srv/ssd0' is already used by pool 'fast' (line 4)");
    }

    [Test]
    public void DuplicateDiskPath_WrittenDifferently_IsStillTheSameDisk()
    {
        Yaml.FailsAt(Base.Replace("/srv/hdd0", "/srv/x/../ssd0/"), 9, 15, "pools[1].disks[0].path", "is already used by pool 'fast'");
    }

    [Test]
    public void DuplicateDiskPath_WithinOnePool_IsReported()
    {
        string yaml = Base.Replace("        capacity: 100GiB\n", "        capacity: 100GiB\n      - path: /srv/ssd0\n");

        Yaml.FailsAt(yaml, 7, 15, "pools[0].disks[1].path", "disk '/srv/ssd0' is already used by pool 'fast' (line 4)");
    }

    [Test]
    public void RelativeDiskPaths_ResolveAgainstTheConfigFolder_ForTheDuplicateCheck()
    {
        // The test base directory is /srv/appliance.
        Yaml.FailsAt(Base.Replace("/srv/hdd0", "../ssd0"), 9, 15, "pools[1].disks[0].path", "disk '/srv/ssd0' is already used");
    }

    [Test]
    public void DiskInsideAnotherDisk_IsReported()
    {
        Yaml.FailsAt(Base.Replace("/srv/hdd0", "/srv/ssd0/more"), 9, 15, "pools[1].disks[0].path",
            "disk '/srv/ssd0/more' and disk '/srv/ssd0' of pool 'fast' (line 4) lie one inside the other");
    }

    [Test]
    public void DiskThatIsDataDir_IsReported()
    {
        Yaml.FailsAt(Base.Replace("/srv/hdd0", "./data"), 9, 15, "pools[1].disks[0].path", "is data_dir itself");
    }

    [Test]
    public void DiskThatHoldsDataDir_IsReported()
    {
        Yaml.FailsAt(Base.Replace("/srv/hdd0", "."), 9, 15, "pools[1].disks[0].path",
            "data_dir '/srv/appliance/data' lies inside this disk '/srv/appliance'");
    }

    [Test]
    public void BadTier_IsReported()
    {
        Yaml.FailsAt(Base.Replace("tier: hdd", "tier: nvme"), 10, 15, "pools[1].disks[0].tier", "'nvme' is not a tier (use ssd or hdd)");
    }

    [Test]
    public void CapacityThatIsNotASize_IsReported()
    {
        Yaml.FailsAt(Base.Replace("capacity: 1TiB", "capacity: lots"), 11, 19, "pools[1].disks[0].capacity", "'lots' is not a size");
    }

    [Test]
    public void CapacitySmallerThanAnExtentGroup_IsReported()
    {
        Yaml.FailsAt(Base.Replace("capacity: 1TiB", "capacity: 1MiB"), 11, 19, "pools[1].disks[0].capacity",
            "'1MiB' is too small: a disk holds at least one extent group (16 MiB)");
    }

    [Test]
    public void CapacityAuto_IsAcceptedInAnyCase()
    {
        ApplianceConfig c = Yaml.Load(Base.Replace("capacity: 1TiB", "capacity: AUTO"));

        Assert.That(c.FindPool("slow")!.Disks[0].CapacityBytes, Is.Null);
    }

    [Test]
    public void PoolWithoutDisks_IsReported()
    {
        string yaml = Base.Replace("    disks:\n      - path: /srv/hdd0\n        tier: hdd\n        capacity: 1TiB\n", "    disks: []\n");

        Yaml.FailsAt(yaml, 8, 12, "pools[1].disks", "a pool needs at least one disk");
    }

    [Test]
    public void DiskWithoutPath_IsReported()
    {
        Yaml.FailsAt(Base.Replace("      - path: /srv/hdd0\n        tier: hdd", "      - tier: hdd"), 9, 9, "pools[1].disks[0].path", "every disk needs a path");
    }

    [Test]
    public void EmptyPoolList_IsReported()
    {
        Yaml.FailsAt("pools: []\ncontainers: [{name: default}]", 1, 8, "pools", "at least one pool is required");
    }

    [Test]
    public void UnknownDiskKey_IsReportedWithAHint()
    {
        Yaml.FailsAt(Base.Replace("capacity: 1TiB", "capacity: 1TiB\n        teir: hdd"), 12, 9, "pools[1].disks[0].teir", "did you mean 'tier'?");
    }

    // --- containers ---------------------------------------------------------------------------

    [Test]
    public void ContainerNamingAnUnknownPool_IsReportedWithAHint()
    {
        Yaml.FailsAt(Base.Replace("pool: fast", "pool: fats"), 14, 11, "containers[0].pool", "no pool is named 'fats'; did you mean 'fast'?");
    }

    [Test]
    public void ContainerWithoutPool_WhenThereAreSeveralPools_IsReported()
    {
        Yaml.FailsAt(Base.Replace("    pool: fast", "    max_capacity: 0"), 13, 5, "containers[0].pool",
            "pool is required when there are several pools (defined: fast, slow)");
    }

    [Test]
    public void ContainerNamingAPool_WhenOnlyTheImplicitOneExists_IsReportedWithIt()
    {
        Yaml.FailsAt("containers: [{name: a, pool: fast}]", 1, 30, "containers[0].pool", "no pool is named 'fast' (defined: default)");
    }

    [Test]
    public void ContainerWithoutPool_TakesTheOnlyExplicitPool()
    {
        const string yaml = "pools: [{name: only, disks: [{path: /d}]}]\ncontainers: [{name: a}, {name: b}]";

        Assert.That(Yaml.Load(yaml).Containers.Select(c => c.Pool), Is.EqualTo(new[] { "only", "only" }));
    }

    [TestCase("2")]
    [TestCase("3")]
    [TestCase("0")]
    public void ReplicationFactorOtherThanOne_IsRefusedSayingOnlyOneIsSupported(string rf)
    {
        Yaml.FailsAt(Container($"    replication_factor: {rf}"), 15, 25, "containers[0].replication_factor",
            $"replication factor {rf} is not supported: this version keeps one copy of the data (replication_factor: 1)");
    }

    [TestCase("64KiB", 64 << 10)]
    [TestCase("128KiB", 128 << 10)]
    [TestCase("16MiB", 16 << 20)]
    public void VDiskBlockSize_PowersOfTwoInRange_AreAccepted(string text, int bytes)
    {
        Assert.That(Yaml.Load(Container($"    vdisk_block_size: {text}")).Containers[0].VDiskBlockSize, Is.EqualTo(bytes));
    }

    [TestCase("100KiB", "'100KiB' (102400 bytes) is not a power of two")]
    [TestCase("3MiB", "is not a power of two")]
    [TestCase("32KiB", "'32KiB' is out of range (64KiB..16MiB)")]
    [TestCase("32MiB", "'32MiB' is out of range (64KiB..16MiB)")]
    public void VDiskBlockSize_OutsideTheRules_IsReported(string text, string reason)
    {
        Yaml.FailsAt(Container($"    vdisk_block_size: {text}"), 15, 23, "containers[0].vdisk_block_size", reason);
    }

    [TestCase("8MiB", "'8MiB' is out of range (16MiB..1GiB)")]
    [TestCase("2GiB", "'2GiB' is out of range (16MiB..1GiB)")]
    public void ExtentGroupSize_OutOfRange_IsReported(string text, string reason)
    {
        Yaml.FailsAt(Container($"    extent_group_size: {text}"), 15, 24, "containers[0].extent_group_size", reason);
    }

    [Test]
    public void ExtentGroupSize_NotAMultipleOfTheBlockSize_IsReported()
    {
        Yaml.FailsAt(Container("    vdisk_block_size: 16MiB\n    extent_group_size: 40MiB"), 16, 24, "containers[0].extent_group_size",
            "'40MiB' (41943040 bytes) is not a multiple of vdisk_block_size 16 MiB");
    }

    [Test]
    public void ExtentGroupSize_NotAPowerOfTwoButAMultiple_IsAccepted()
    {
        Assert.That(Yaml.Load(Container("    extent_group_size: 48MiB")).Containers[0].ExtentGroupSize, Is.EqualTo(48L << 20));
    }

    [Test]
    public void UnknownTierInPreference_IsReported()
    {
        Yaml.FailsAt(Container("    tier_preference: [ssd, nvme]"), 15, 28, "containers[0].tier_preference[1]", "'nvme' is not a tier (use ssd or hdd)");
    }

    [Test]
    public void RepeatedTierInPreference_IsReported()
    {
        Yaml.FailsAt(Container("    tier_preference: [ssd, SSD]"), 15, 28, "containers[0].tier_preference[1]", "'SSD' is listed twice");
    }

    [Test]
    public void EmptyTierPreference_IsReported()
    {
        Yaml.FailsAt(Container("    tier_preference: []"), 15, 22, "containers[0].tier_preference", "expected at least one of ssd, hdd");
    }

    [Test]
    public void TierPreferenceThePoolHasNoDiskFor_IsReported()
    {
        Yaml.FailsAt(Container("    tier_preference: [hdd]"), 15, 22, "containers[0].tier_preference",
            "pool 'fast' has no disk in any tier of tier_preference (hdd)");
    }

    [Test]
    public void ReservedAboveMax_IsReported()
    {
        Yaml.FailsAt(Container("    max_capacity: 10GiB\n    reserved_capacity: 20GiB"), 16, 24, "containers[0].reserved_capacity",
            "reserves 20 GiB, more than max_capacity 10 GiB");
    }

    [Test]
    public void ReservationsOfAPool_BeyondItsDisks_AreReportedAtTheContainerThatOverbooks()
    {
        string yaml = Container("    reserved_capacity: 60GiB\n  - name: second\n    pool: fast\n    reserved_capacity: 50GiB\n  - name: third\n    pool: slow\n    reserved_capacity: 500GiB");

        Yaml.FailsAt(yaml, 18, 24, "containers[1].reserved_capacity",
            "the containers of pool 'fast' reserve 110 GiB in total, more than its disks hold (100 GiB)");
    }

    [Test]
    public void ReservationsFillingThePoolExactly_AreAccepted()
    {
        string yaml = Container("    reserved_capacity: 60GiB\n  - name: second\n    pool: fast\n    reserved_capacity: 40GiB");

        Assert.That(Yaml.Load(yaml).Containers.Sum(c => c.ReservedCapacityBytes), Is.EqualTo(100L << 30));
    }

    [Test]
    public void Reservations_AreNotCheckedWhenADiskIsAuto()
    {
        string yaml = Container("    reserved_capacity: 10TiB").Replace("capacity: 100GiB", "capacity: auto");

        Assert.That(Yaml.Load(yaml).Containers[0].ReservedCapacityBytes, Is.EqualTo(10L << 40));
    }

    [Test]
    public void ContainerSizesThatAreNotSizes_AreReported()
    {
        Yaml.FailsAt(Container("    max_capacity: huge"), 15, 19, "containers[0].max_capacity", "'huge' is not a size");
    }
}
