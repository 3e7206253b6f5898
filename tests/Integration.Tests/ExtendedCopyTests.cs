using System.Buffers.Binary;
using System.Diagnostics;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// EXTENDED COPY (LID1) of a 1 GiB range from one LUN to another, as ESXi's XCOPY offload sends it: the
/// parameter lists are built by hand here, naming the LUNs by the NAA designators their VPD page 83h reports,
/// and the result is checked with `qemu-img compare` over iscsi://.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ExtendedCopyTests
{
    private const long Size = 1L << 30;
    private const int BlockSize = 512;
    private const ushort BlocksPerSegment = 32768; // 16 MiB
    private const int SegmentsPerCommand = 8; // 128 MiB per EXTENDED COPY

    /// <summary>The NAA designator (LU association) of a LUN, from INQUIRY VPD page 83h.</summary>
    private static byte[] Naa(RawInitiator raw, int lun)
    {
        var (status, page) = raw.ScsiCommandIn([0x12, 0x01, 0x83, 0x01, 0x00, 0x00], 256, lun);
        Assert.That(status, Is.Zero);
        int end = 4 + BinaryPrimitives.ReadUInt16BigEndian(page.AsSpan(2));
        for (int pos = 4; pos < end; pos += 4 + page[pos + 3])
        {
            if ((page[pos + 1] & 0x30) == 0 && (page[pos + 1] & 0x0F) == 0x3)
                return page.AsSpan(pos + 4, page[pos + 3]).ToArray();
        }
        Assert.Fail("no NAA designator in VPD page 83h");
        return [];
    }

    /// <summary>A parameter list: two identification CSCDs (source 0, destination 1) and block-to-block segments.</summary>
    private static byte[] ParameterList(byte listId, byte[] sourceNaa, byte[] destinationNaa, ulong firstLba, int segments)
    {
        var list = new byte[16 + 2 * 32 + segments * 28];
        list[0] = listId;
        BinaryPrimitives.WriteUInt16BigEndian(list.AsSpan(2), 64);
        BinaryPrimitives.WriteUInt32BigEndian(list.AsSpan(8), (uint)(segments * 28));
        int pos = 16;
        foreach (var naa in new[] { sourceNaa, destinationNaa })
        {
            var d = list.AsSpan(pos, 32);
            d[0] = 0xE4;
            d[4] = 0x01; // binary
            d[5] = 0x03; // LU association, NAA
            d[7] = (byte)naa.Length;
            naa.CopyTo(d[8..]);
            d[30] = BlockSize >> 8;
            d[31] = BlockSize & 0xFF;
            pos += 32;
        }
        for (int i = 0; i < segments; i++)
        {
            var d = list.AsSpan(pos, 28);
            ulong lba = firstLba + (ulong)i * BlocksPerSegment;
            d[0] = 0x02;
            BinaryPrimitives.WriteUInt16BigEndian(d[2..], 0x18);
            BinaryPrimitives.WriteUInt16BigEndian(d[4..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(d[6..], 1);
            BinaryPrimitives.WriteUInt16BigEndian(d[10..], BlocksPerSegment);
            BinaryPrimitives.WriteUInt64BigEndian(d[12..], lba);
            BinaryPrimitives.WriteUInt64BigEndian(d[20..], lba);
            pos += 28;
        }
        return list;
    }

    /// <param name="dedup">In a deduplicating container whole blocks are copied as references: nothing new is stored.</param>
    [TestCase(false)]
    [TestCase(true)]
    public void OneGibibyte_BetweenTwoLuns_IsIdentical(bool dedup)
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("1GiB", vdisks: 2,
            containerExtra: dedup ? "    dedup: true\n    compression: lz4" : null));
        // Fill LUN 0 with data that differs in every 4 KiB (a copy from a wrong offset would not compare equal).
        string source = Path.Combine(appliance.WorkDir, "source.raw");
        using (var file = File.Create(source))
        {
            var random = new Random(1234);
            var chunk = new byte[1 << 20];
            for (long at = 0; at < Size; at += chunk.Length)
            {
                random.NextBytes(chunk);
                for (int i = 0; i < chunk.Length; i += 4096)
                    BinaryPrimitives.WriteInt64BigEndian(chunk.AsSpan(i), at + i);
                file.Write(chunk);
            }
        }
        var fill = Client.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", source, appliance.Url(lun: 0)], TimeSpan.FromMinutes(5));
        Assert.That(fill.ExitCode, Is.Zero, fill.All);
        File.Delete(source);
        var differ = Client.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", appliance.Url(lun: 0), appliance.Url(lun: 1)], TimeSpan.FromMinutes(5));
        Assert.That(differ.ExitCode, Is.EqualTo(1), "before the copy the LUNs differ: " + differ.All);

        long storedBefore = 0;
        if (dedup)
        {
            // Blocks qemu-img wrote in parts are reduced now, so every source block can be copied by reference.
            Assert.That(appliance.Cli("curator", "scan", "--no-scrub").ExitCode, Is.Zero);
            storedBefore = StoredBytes(appliance);
        }

        using var raw = new RawInitiator(appliance.IscsiPort);
        Assert.That(raw.Login("iqn.2026-11.test:xcopy", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        Assert.That(raw.ClearUnitAttentions(0) && raw.ClearUnitAttentions(1), Is.True);
        byte[] sourceNaa = Naa(raw, 0), destinationNaa = Naa(raw, 1);
        Assert.That(sourceNaa, Is.Not.EqualTo(destinationNaa));

        var clock = Stopwatch.StartNew();
        ulong blocks = Size / BlockSize;
        const ulong perCommand = (ulong)BlocksPerSegment * SegmentsPerCommand;
        byte listId = 0;
        for (ulong lba = 0; lba < blocks; lba += perCommand)
        {
            var list = ParameterList(++listId, sourceNaa, destinationNaa, lba, SegmentsPerCommand);
            var cdb = new byte[16];
            cdb[0] = 0x83;
            BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), (uint)list.Length);
            var (status, sense) = raw.ScsiCommandOut(cdb, list, lun: 0);
            Assert.That(status, Is.Zero, $"EXTENDED COPY from LBA {lba}: sense {Convert.ToHexString(sense)}");
        }
        TestContext.Out.WriteLine($"EXTENDED COPY of 1 GiB in {clock.Elapsed.TotalSeconds:F1} s ({Size / clock.Elapsed.TotalSeconds / (1 << 20):F0} MiB/s), {listId} commands");

        // RECEIVE COPY RESULTS (COPY STATUS) for the last list: completed, every segment, 128 MiB.
        var (rs, copyStatus) = raw.ScsiCommandIn([0x84, 0x00, listId, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x00, 0, 0], 1024);
        Assert.That(rs, Is.Zero);
        Assert.That(copyStatus[4] & 0x7F, Is.EqualTo(0x01), "completed without errors");
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(copyStatus.AsSpan(5)), Is.EqualTo(SegmentsPerCommand));
        long transferred = (long)BinaryPrimitives.ReadUInt32BigEndian(copyStatus.AsSpan(8)) << (10 * copyStatus[7]);
        Assert.That(transferred, Is.EqualTo((long)perCommand * BlockSize));

        var compare = Client.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", appliance.Url(lun: 0), appliance.Url(lun: 1)], TimeSpan.FromMinutes(5));
        Assert.That(compare.ExitCode, Is.Zero, compare.All);
        Assert.That(compare.Stdout, Does.Contain("Images are identical"));
        if (dedup)
        {
            long storedAfter = StoredBytes(appliance);
            TestContext.Out.WriteLine($"stored before the copy {storedBefore}, after {storedAfter}");
            Assert.That(storedAfter, Is.LessThan(storedBefore + (8 << 20)), "the copy became reference counts, not data");
        }
    }

    private static long StoredBytes(ApplianceProcess appliance)
    {
        var r = appliance.Cli("stats", "--json", "--interval", "0");
        Assert.That(r.ExitCode, Is.Zero, r.All);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("dataReduction").GetProperty("containers")[0].GetProperty("storedBytes").GetInt64();
    }
}
