using System.Buffers.Binary;
using System.Text.Json;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// GET LBA STATUS against the running appliance: written ranges are mapped, an UNMAPped range and the rest of a
/// thin vDisk are deallocated, as a raw CDB shows and as qemu (which asks GET LBA STATUS for block status) maps it,
/// both while the writes are still in the journal and after a restart has drained them into extents.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LbaStatusTests
{
    private const int Chunk = 64 * 1024; // one immediate-data write
    private const long Capacity = 64L << 20;

    private static byte[] Write10(uint lba, ushort blocks) =>
        [0x2A, 0, (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];

    private static byte[] UnmapList(ulong lba, uint blocks)
    {
        var d = new byte[24];
        BinaryPrimitives.WriteUInt16BigEndian(d, 22);
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(2), 16);
        BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(8), lba);
        BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(16), blocks);
        return d;
    }

    /// <summary>GET LBA STATUS descriptors as (lba, blocks, provisioning status).</summary>
    private static List<(ulong, uint, int)> GetLbaStatus(RawInitiator raw, ulong lba)
    {
        byte[] cdb = new byte[16];
        cdb[0] = 0x9E;
        cdb[1] = 0x12;
        BinaryPrimitives.WriteUInt64BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), 4096);
        var (status, d) = raw.ScsiCommandIn(cdb, 4096);
        Assert.That(status, Is.Zero, "GET LBA STATUS");
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(d), Is.EqualTo(d.Length - 4), "PARAMETER DATA LENGTH");
        var list = new List<(ulong, uint, int)>();
        for (int at = 8; at + 16 <= d.Length; at += 16)
            list.Add((BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(at)), BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(at + 8)), d[at + 12] & 0x0F));
        return list;
    }

    /// <summary>`qemu-img map --output=json` as (start, length, data) extents.</summary>
    private static List<(long Start, long Length, bool Data)> QemuMap(ApplianceProcess appliance)
    {
        var r = Client.Run("qemu-img", ["map", "--output=json", "-f", "raw", appliance.Url()], TimeSpan.FromMinutes(2));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        using var json = JsonDocument.Parse(r.Stdout);
        var list = new List<(long, long, bool)>();
        foreach (var e in json.RootElement.EnumerateArray())
        {
            long start = e.GetProperty("start").GetInt64();
            long length = e.GetProperty("length").GetInt64();
            bool data = e.GetProperty("data").GetBoolean();
            // qemu may split a run in several entries: merge them, the state is what counts.
            if (list.Count > 0 && list[^1].Item3 == data && list[^1].Item1 + list[^1].Item2 == start)
                list[^1] = (list[^1].Item1, list[^1].Item2 + length, data);
            else
                list.Add((start, length, data));
        }
        return list;
    }

    [Test]
    public void WrittenRanges_AreMapped_AndAnUnmappedOne_IsAHole_ForARawCdbAndForQemu()
    {
        string config = ApplianceProcess.SimpleConfig("64MiB");
        var appliance = ApplianceProcess.Start(config);
        try
        {
            using (var raw = new RawInitiator(appliance.IscsiPort))
            {
                Assert.That(raw.Login("iqn.2026-11.test:lba-status", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
                Assert.That(raw.ClearUnitAttentions(), Is.True);
                var data = new byte[Chunk];
                Array.Fill(data, (byte)0x5A);
                // 0..128 KiB, 4 MiB..4 MiB+64 KiB, 8 MiB..8 MiB+64 KiB
                foreach (uint lba in new uint[] { 0, 128, 8192, 16384 })
                    Assert.That(raw.ScsiCommandOut(Write10(lba, Chunk / 512), data).Status, Is.Zero, $"WRITE at {lba}");
                var unmap = UnmapList(8192, Chunk / 512);
                Assert.That(raw.ScsiCommandOut([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], unmap).Status, Is.Zero, "UNMAP 4 MiB..+64 KiB");

                var expected = new List<(ulong, uint, int)>
                {
                    (0, 256, 0), (256, 16384 - 256, 1), (16384, 128, 0), (16512, (uint)(Capacity / 512) - 16512, 1),
                };
                Assert.That(GetLbaStatus(raw, 0), Is.EqualTo(expected), "undrained (journal overlay)");
                Assert.That(GetLbaStatus(raw, 8200), Is.EqualTo(new List<(ulong, uint, int)> { (8200, 16384 - 8200, 1), (16384, 128, 0), (16512, (uint)(Capacity / 512) - 16512, 1) }),
                    "from inside the hole");
            }
            var map = QemuMap(appliance);
            Assert.That(map, Is.EqualTo(new List<(long, long, bool)>
            {
                (0, 2 * Chunk, true), (2 * Chunk, (8L << 20) - 2 * Chunk, false), (8L << 20, Chunk, true), ((8L << 20) + Chunk, Capacity - (8L << 20) - Chunk, false),
            }), "qemu-img map");

            // A clean stop drains the journal; the same answers then come from the extents.
            Assert.That(appliance.Signal("INT", TimeSpan.FromSeconds(30)), Is.True);
            string workDir = appliance.WorkDir;
            appliance.Dispose(keepWorkDir: true);
            appliance = ApplianceProcess.Start(config, workDir);
            using (var raw = new RawInitiator(appliance.IscsiPort))
            {
                Assert.That(raw.Login("iqn.2026-11.test:lba-status", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
                Assert.That(raw.ClearUnitAttentions(), Is.True);
                Assert.That(GetLbaStatus(raw, 0), Is.EqualTo(new List<(ulong, uint, int)>
                {
                    (0, 256, 0), (256, 16384 - 256, 1), (16384, 128, 0), (16512, (uint)(Capacity / 512) - 16512, 1),
                }), "drained (extents)");
            }
            Assert.That(QemuMap(appliance)[0], Is.EqualTo((0L, 2L * Chunk, true)));
        }
        finally
        {
            appliance.Dispose();
        }
    }
}
