using StorageAppliance.Management.Config;

namespace StorageAppliance.Management.Tests.Config;

// The container's data reduction keys and the vDisk's dedup. The container's keys start at line 3, column 5.
public class DataReductionConfigTests
{
    private static string Config(string containerKeys, string vdiskKeys = "")
    {
        string Indent(string s, int n) => string.Concat(s.Split('\n').Where(l => l.Length > 0).Select(l => new string(' ', n) + l + "\n"));
        return "containers:\n  - name: default\n" + Indent(containerKeys, 4) + """
            vdisks:
              - name: disk0
                container: default
                size: 8GiB

            """ + Indent(vdiskKeys, 4) + """
              - name: disk1
                container: default
                size: 8GiB
            """;
    }

    [Test]
    public void Defaults_AreNoReduction()
    {
        ApplianceConfig c = Yaml.Load(Config(""));
        ContainerConfig k = c.Containers.Single();
        Assert.Multiple(() =>
        {
            Assert.That(k.Dedup, Is.False);
            Assert.That(k.DedupChunk, Is.EqualTo(new DedupChunkSizes(16 << 10, 64 << 10, 256 << 10)));
            Assert.That((k.Compression, k.CompressionLevel), Is.EqualTo((ContainerCompression.None, 3)));
            Assert.That((k.DataContraction, k.PostProcessDelay), Is.EqualTo((DataContraction.Inline, TimeSpan.FromSeconds(60))));
            Assert.That(c.VDisks.Select(v => v.Dedup), Is.All.Null);
            Assert.That(c.VDisks.Select(c.DedupFor), Is.All.False);
        });
    }

    [Test]
    public void EveryKey_IsBound_AndAVDiskOverridesItsContainer()
    {
        ApplianceConfig c = Yaml.Load(Config("""
            dedup: true
            dedup_chunk: {min: 8KiB, average: 32KiB, max: 128KiB}
            compression: zstd
            compression_level: 9
            data_contraction: post_process
            post_process_delay: 10m
            """, "dedup: false"));
        ContainerConfig k = c.Containers.Single();
        Assert.Multiple(() =>
        {
            Assert.That(k.Dedup, Is.True);
            Assert.That(k.DedupChunk, Is.EqualTo(new DedupChunkSizes(8 << 10, 32 << 10, 128 << 10)));
            Assert.That((k.Compression, k.CompressionLevel), Is.EqualTo((ContainerCompression.Zstd, 9)));
            Assert.That((k.DataContraction, k.PostProcessDelay), Is.EqualTo((DataContraction.PostProcess, TimeSpan.FromMinutes(10))));
            Assert.That(c.VDisks.Select(v => v.Dedup), Is.EqualTo(new bool?[] { false, null }));
            Assert.That(c.VDisks.Select(c.DedupFor), Is.EqualTo(new[] { false, true }));
        });
    }

    [Test]
    public void AVDisk_CanTurnDedupOn_InAContainerWithout()
    {
        ApplianceConfig c = Yaml.Load(Config("compression: lz4", "dedup: yes"));
        Assert.That(c.VDisks.Select(c.DedupFor), Is.EqualTo(new[] { true, false }));
        Assert.That(c.Containers[0].Compression, Is.EqualTo(ContainerCompression.Lz4));
    }

    [Test]
    public void PartialChunkSizes_TakeTheOtherDefaults()
    {
        ApplianceConfig c = Yaml.Load(Config("dedup_chunk: {average: 128KiB}"));
        Assert.That(c.Containers[0].DedupChunk, Is.EqualTo(new DedupChunkSizes(16 << 10, 128 << 10, 256 << 10)));
    }

    [Test]
    public void DefaultChunkSizes_ScaleDown_ToASmallVDiskBlock()
    {
        ApplianceConfig c = Yaml.Load(Config("vdisk_block_size: 128KiB"));
        Assert.That(c.Containers[0].DedupChunk, Is.EqualTo(new DedupChunkSizes(8 << 10, 32 << 10, 128 << 10)));
    }

    [TestCase("dedup: maybe", 3, 12, "containers[0].dedup", "'maybe' is not a boolean")]
    [TestCase("compression: gzip", 3, 18, "containers[0].compression", "'gzip' is not a compression (use none, lz4 or zstd)")]
    [TestCase("compression: zstd\ncompression_level: 25", 4, 24, "containers[0].compression_level", "out of range")]
    [TestCase("compression: lz4\ncompression_level: 5", 4, 24, "containers[0].compression_level", "applies to zstd only (compression is lz4)")]
    [TestCase("compression_level: 5", 3, 24, "containers[0].compression_level", "applies to zstd only: add compression: zstd")]
    [TestCase("data_contraction: later", 3, 23, "containers[0].data_contraction", "'later' is not a data contraction policy (use inline or post_process)")]
    [TestCase("post_process_delay: soon", 3, 25, "containers[0].post_process_delay", "is not a duration")]
    [TestCase("dedup_chunk: {min: 12KiB}", 3, 24, "containers[0].dedup_chunk.min", "'12KiB' (12288 bytes) is not a power of two")]
    [TestCase("dedup_chunk: {min: 512}", 3, 24, "containers[0].dedup_chunk.min", "out of range (1KiB..16MiB)")]
    [TestCase("dedup_chunk: {min: 64KiB}", 3, 18, "containers[0].dedup_chunk", "needs min < average < max (here 64 KiB / 64 KiB / 256 KiB")]
    [TestCase("dedup_chunk: {max: 2MiB}", 3, 24, "containers[0].dedup_chunk.max", "max 2 MiB is larger than vdisk_block_size 1 MiB")]
    [TestCase("dedup_chunk: {maxx: 2MiB}", 3, 19, "containers[0].dedup_chunk.maxx", "unknown key 'maxx'; did you mean 'max'?")]
    [TestCase("dedup_chunk: {maximum: 2MiB}", 3, 19, "containers[0].dedup_chunk.maximum", "unknown key 'maximum' (known here: min, average, max)")]
    [TestCase("dedup_chunk: 64KiB", 3, 18, "containers[0].dedup_chunk", "")]
    [TestCase("dedupe: true", 3, 5, "containers[0].dedupe", "did you mean 'dedup'?")]
    public void BadContainerKeys_AreClearErrors(string keys, int line, int column, string path, string reason)
    {
        Yaml.FailsAt(Config(keys), line, column, path, reason);
    }

    [Test]
    public void BadVDiskDedup_IsAClearError()
    {
        // disk0's keys start at line 7.
        Yaml.FailsAt(Config("", "dedup: sometimes"), 7, 12, "vdisks[0].dedup", "'sometimes' is not a boolean");
    }

    [Test]
    public void TheDefaultConfigFile_StillLoads_WithTheKeysDocumentedInIt()
    {
        string text = ConfigLoader.EmbeddedDefaultText;
        Assert.That(text, Does.Contain("Data reduction, in the primary path: on here"));
        Assert.That(text, Does.Contain("\n    dedup: true "), "the default container deduplicates");
        Assert.That(text, Does.Contain("\n    compression: lz4 "), "and compresses with lz4");
        foreach (string key in new[] { "dedup_chunk:", "compression_level:", "data_contraction:", "post_process_delay:" })
            Assert.That(text, Does.Contain("# " + key), key);
        var defaults = Yaml.Load(text);
        Assert.That((defaults.Containers[0].Dedup, defaults.Containers[0].Compression), Is.EqualTo((true, ContainerCompression.Lz4)));

        // The documented lines, uncommented, are a valid container.
        string uncommented = text
            .Replace("    # dedup_chunk:", "    dedup_chunk:")
            .Replace("    # data_contraction: inline", "    data_contraction: inline")
            .Replace("    # post_process_delay: 60s", "    post_process_delay: 60s");
        ContainerConfig k = Yaml.Load(uncommented).Containers[0];
        Assert.That((k.Dedup, k.Compression, k.DataContraction), Is.EqualTo((true, ContainerCompression.Lz4, DataContraction.Inline)));
    }
}
