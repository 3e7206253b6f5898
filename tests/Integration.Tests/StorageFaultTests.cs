using System.Text;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// The storage engine's failure modes seen from an initiator of the real process (issue 3, "Safety"):
/// a full pool refuses new space with the SBC sense and keeps what it has; a corrupted extent is a
/// MEDIUM ERROR, never data.
/// </summary>
/// <remarks>
/// A failing disk (EIO) is not covered here: as root, permissions do not make a read fail, and there is
/// no device-mapper here (dmsetup is installed, /dev/mapper/control is not). /dev/fuse exists, so a small
/// FUSE file system that returns EIO on demand could make it real later; until then the in-process
/// fault-injecting device tests (tests/VDisk.Tests EngineFaultTests) cover it.
/// </remarks>
[TestFixture]
[NonParallelizable]
public sealed class StorageFaultTests
{
    private const int Chunk = 64 * 1024; // one command's immediate data
    private const int Lba = 512;

    /// <summary>A 256 MiB thin vDisk in a pool of one 64 MiB disk (16 MiB extent groups of 1 MiB blocks).</summary>
    private static string SmallPoolConfig() => $"""
        appliance:
          name: test-appliance
        iscsi:
          listen: ["127.0.0.1:3260"]
          nop_in_interval: 0
        pools:
          - name: small
            disks:
              - path: ./data/disks/small
                tier: ssd
                capacity: 64MiB
        containers:
          - name: default
            pool: small
            vdisk_block_size: 1MiB
            extent_group_size: 16MiB
        vdisks:
          - name: big
            container: default
            size: 256MiB
            thin: true
        targets:
          - name: {ApplianceProcess.DefaultTarget}
            luns:
              - lun: 0
                vdisk: big
        """;

    [Test]
    public void A_full_pool_refuses_new_blocks_with_space_allocation_failed_and_keeps_everything_it_has()
    {
        var appliance = ApplianceProcess.Start(SmallPoolConfig());
        try
        {
            var written = new List<byte[]>();
            byte status;
            byte[] sense;
            using (var raw = LoggedIn(appliance))
            {
                while (true)
                {
                    var data = Pattern(written.Count, generation: 0);
                    (status, sense) = raw.ScsiCommandOut(Scsi.Write16((long)written.Count * Chunk / Lba, Chunk / Lba), data);
                    if (status != Scsi.Good)
                        break;
                    written.Add(data);
                    Assert.That(written.Count * (long)Chunk, Is.LessThanOrEqualTo(64L << 20), "more was accepted than the pool's 64 MiB");
                }
                AssertSpaceAllocationFailed(status, sense, "the write that needed a new block");
                // The pool is not the vDisk's limit: most of the 64 MiB was usable before the refusal.
                Assert.That(written.Count * (long)Chunk, Is.GreaterThanOrEqualTo(48L << 20), "the pool refused far too early");
                Assert.That(written.Count % 16, Is.EqualTo(0), "the refusal comes at a new 1 MiB block, not inside an allocated one");

                // Another new block far away: refused the same way.
                (status, sense) = raw.ScsiCommandOut(Scsi.Write16((200L << 20) / Lba, Chunk / Lba), Pattern(9999, 0));
                AssertSpaceAllocationFailed(status, sense, "a write to an unallocated block near the end");

                // Overwrites of allocated blocks still work: every 5th chunk gets new content.
                for (int i = 0; i < written.Count; i += 5)
                {
                    var data = Pattern(i, generation: 1);
                    (status, sense) = raw.ScsiCommandOut(Scsi.Write16((long)i * Chunk / Lba, Chunk / Lba), data);
                    Assert.That(status, Is.EqualTo(Scsi.Good), $"overwrite of chunk {i} in a full pool: {Scsi.Describe(status, sense)}");
                    written[i] = data;
                }
                AssertReadsBack(raw, written, "in the full pool");
            }

            // After a clean restart (everything drained into extent groups) the data is intact and the pool still full.
            appliance.Stop();
            appliance = appliance.Restart();
            using (var raw = LoggedIn(appliance))
            {
                AssertReadsBack(raw, written, "after a restart");
                (status, sense) = raw.ScsiCommandOut(Scsi.Write16((long)written.Count * Chunk / Lba, Chunk / Lba), Pattern(written.Count, 0));
                AssertSpaceAllocationFailed(status, sense, "a new block after the restart");
                (status, sense) = raw.ScsiCommandOut(Scsi.Write16(0, Chunk / Lba), Pattern(0, 2));
                Assert.That(status, Is.EqualTo(Scsi.Good), "an overwrite after the restart: " + Scsi.Describe(status, sense));
            }
        }
        finally
        {
            appliance.Dispose();
        }
    }

    private static void AssertSpaceAllocationFailed(byte status, byte[] sense, string what)
    {
        Assert.That(status, Is.EqualTo(Scsi.CheckCondition), $"{what}: {Scsi.Describe(status, sense)}");
        var (key, asc, ascq) = Scsi.Decode(sense);
        Assert.That((key, asc, ascq), Is.EqualTo((Scsi.DataProtect, 0x27, 0x07)),
            $"{what}: DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (27h/07h) expected, got {Scsi.Describe(status, sense)}");
    }

    private static void AssertReadsBack(RawInitiator raw, List<byte[]> written, string when)
    {
        for (int i = 0; i < written.Count; i++)
        {
            var (status, data) = raw.ScsiCommandIn(Scsi.Read16((long)i * Chunk / Lba, Chunk / Lba), Chunk);
            Assert.That(status, Is.EqualTo(Scsi.Good), $"{when}: read of chunk {i}");
            Assert.That(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)),
                Is.EqualTo(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(written[i]))), $"{when}: chunk {i} changed");
        }
    }

    /// <summary>64 KiB of content unique to (chunk, generation).</summary>
    private static byte[] Pattern(int chunk, int generation)
    {
        var data = new byte[Chunk];
        new Random(chunk * 31 + generation * 1_000_003).NextBytes(data);
        return data;
    }

    [Test]
    public void A_corrupted_extent_reads_as_medium_error_naming_the_vdisk_offset_and_disk()
    {
        var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        try
        {
            // 1 MiB at offset 1 MiB (one vDisk block), each 4 KiB slice starting with its own marker.
            const long baseOffset = 1 << 20;
            var content = new byte[1 << 20];
            new Random(7).NextBytes(content);
            for (int slice = 0; slice < 256; slice++)
                Encoding.ASCII.GetBytes($"SA-SLICE-{slice:D4}-").CopyTo(content, slice * 4096);
            using (var raw = LoggedIn(appliance))
            {
                for (int off = 0; off < content.Length; off += Chunk)
                {
                    var (status, sense) = raw.ScsiCommandOut(Scsi.Write16((baseOffset + off) / Lba, Chunk / Lba), content[off..(off + Chunk)]);
                    Assert.That(status, Is.EqualTo(Scsi.Good), Scsi.Describe(status, sense));
                }
            }

            // A clean stop drains the journal into the extent groups and checkpoints, so the data read
            // after the restart comes from the extent group file, not from a journal replay.
            appliance.Stop();
            string disk = Path.Combine(appliance.DataDir, "disks", "ssd0");
            string[] egroups = Directory.GetFiles(Path.Combine(disk, "egroups"), "*.eg");
            Assert.That(egroups, Is.Not.Empty, "the data was drained into an extent group");
            const int victim = 37; // the slice whose bytes are flipped
            byte[] marker = Encoding.ASCII.GetBytes($"SA-SLICE-{victim:D4}-");
            string? file = null;
            long at = -1;
            foreach (var eg in egroups)
            {
                at = IndexOf(File.ReadAllBytes(eg), marker);
                if (at >= 0)
                {
                    file = eg;
                    break;
                }
            }
            Assert.That(file, Is.Not.Null, "the slice's marker is in an extent group file (stored raw)");
            using (var fs = new FileStream(file!, FileMode.Open, FileAccess.ReadWrite))
            {
                var bytes = new byte[16];
                fs.Position = at + 1000;
                fs.ReadExactly(bytes);
                for (int i = 0; i < bytes.Length; i++)
                    bytes[i] ^= 0xff;
                fs.Position = at + 1000;
                fs.Write(bytes);
            }

            appliance = appliance.Restart();
            using (var raw = LoggedIn(appliance))
            {
                long victimOffset = baseOffset + victim * 4096L;
                var (status, data, sense) = raw.ScsiCommandInWithSense(Scsi.Read16(victimOffset / Lba, 8), 4096);
                Assert.That(status, Is.EqualTo(Scsi.CheckCondition), "the corrupted slice must not read as GOOD");
                Assert.That(Scsi.Decode(sense), Is.EqualTo((Scsi.MediumError, 0x11, 0x00)), "MEDIUM ERROR, UNRECOVERED READ ERROR: " + Scsi.Describe(status, sense));
                Assert.That(data, Is.Empty, "no data at all comes with the error");

                // A larger read spanning the bad slice fails as a whole.
                (status, data, sense) = raw.ScsiCommandInWithSense(Scsi.Read16(baseOffset / Lba, Chunk / Lba * 4), Chunk * 4);
                Assert.That(Scsi.Decode(sense), Is.EqualTo((Scsi.MediumError, 0x11, 0x00)), "a read spanning the slice: " + Scsi.Describe(status, sense));
                Assert.That(IndexOf(data, marker), Is.LessThan(0), "the bad slice's bytes are never returned");

                // Every other slice of the block reads back intact.
                for (int slice = 0; slice < 256; slice++)
                {
                    if (slice == victim)
                        continue;
                    var (s, d) = raw.ScsiCommandIn(Scsi.Read16((baseOffset + slice * 4096L) / Lba, 8), 4096);
                    Assert.That(s, Is.EqualTo(Scsi.Good), $"slice {slice}");
                    Assert.That(d, Is.EqualTo(content[(slice * 4096)..((slice + 1) * 4096)]), $"slice {slice}");
                }

                string log = appliance.LogWhenContains("read of vDisk disk0");
                Assert.That(log, Does.Contain($"read of vDisk disk0 at offset {victimOffset} failed on disk {disk}: ChecksumMismatch"),
                    "the log names the vDisk, the byte offset of the bad slice and the disk");
            }
        }
        finally
        {
            appliance.Dispose();
        }
    }

    private static long IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);

    private static RawInitiator LoggedIn(ApplianceProcess appliance)
    {
        var raw = new RawInitiator(appliance.IscsiPort);
        Assert.That(raw.Login("iqn.2026-11.test:faults", ApplianceProcess.DefaultTarget), Is.EqualTo(0), "login");
        Assert.That(raw.ClearUnitAttentions(), Is.True, "TEST UNIT READY turns GOOD");
        return raw;
    }
}
