using System.Numerics;
using StorageAppliance.Common;
using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// A container's data reduction keys (issue 7; the seed's "Max de-duplication extent size" and "Data contraction
// policy"). Parsed and validated only: they apply once the extent store integrates data reduction.
//
//     dedup: false                  content-defined (Rabin) chunks, stored once per container by SHA-1
//     dedup_chunk: {min: 16KiB, average: 64KiB, max: 256KiB}
//                                   powers of two, min < average < max, 1KiB <= min, max <= vdisk_block_size;
//                                   unset, with a vdisk_block_size under 256KiB: block/16, block/4, block
//     compression: none             none, lz4 or zstd
//     compression_level: 3          zstd only, 1..19
//     data_contraction: inline      inline, or post_process (after post_process_delay)
//     post_process_delay: 60s
internal sealed partial class ConfigBinder
{
    private const int MinDedupChunk = 1 << 10;
    private const int MinZstdLevel = 1;
    private const int MaxZstdLevel = 19;

    private void BindDataReduction(MappingReader m, ContainerConfig container, bool blockSizeOk)
    {
        container.Dedup = m.Bool("dedup", container.Dedup);
        if (m.Mapping("dedup_chunk") is { } chunk)
        {
            BindDedupChunk(chunk, container, blockSizeOk);
            chunk.Finish();
        }
        else if (container.DedupChunk.Max > container.VDiskBlockSize)
        {
            // The defaults against a vdisk_block_size under 256KiB: scale them down to fit one block.
            int block = container.VDiskBlockSize;
            container.DedupChunk = new DedupChunkSizes(block / 16, block / 4, block);
        }

        if (m.String("compression") is { } compression)
        {
            switch (compression)
            {
                case "none":
                    container.Compression = ContainerCompression.None;
                    break;
                case "lz4":
                    container.Compression = ContainerCompression.Lz4;
                    break;
                case "zstd":
                    container.Compression = ContainerCompression.Zstd;
                    break;
                default:
                    ctx.Error(m.PositionOf("compression"), m.PathOf("compression"), $"'{compression}' is not a compression (use none, lz4 or zstd)");
                    break;
            }
        }

        if (m.Value("compression_level") is { } levelNode
            && ctx.ReadInteger(levelNode, m.PathOf("compression_level"), MinZstdLevel, MaxZstdLevel) is { } level)
        {
            if (container.Compression != ContainerCompression.Zstd && m.Value("compression") is not null)
                ctx.Error(levelNode, m.PathOf("compression_level"), $"compression_level applies to zstd only (compression is {m.String("compression")})");
            else if (container.Compression != ContainerCompression.Zstd)
                ctx.Error(levelNode, m.PathOf("compression_level"), "compression_level applies to zstd only: add compression: zstd");
            else
                container.CompressionLevel = (int)level;
        }

        if (m.String("data_contraction") is { } contraction)
        {
            if (contraction == "inline")
                container.DataContraction = DataContraction.Inline;
            else if (contraction == "post_process")
                container.DataContraction = DataContraction.PostProcess;
            else
                ctx.Error(m.PositionOf("data_contraction"), m.PathOf("data_contraction"), $"'{contraction}' is not a data contraction policy (use inline or post_process)");
        }
        container.PostProcessDelay = m.Duration("post_process_delay", container.PostProcessDelay);
    }

    private void BindDedupChunk(MappingReader m, ContainerConfig container, bool blockSizeOk)
    {
        bool ok = true;
        int Read(string key, int current)
        {
            if (m.Value(key) is not { } node)
                return current;
            if (ctx.ReadSize(node, m.PathOf(key)) is not { } bytes)
            {
                ok = false;
                return current;
            }
            string text = ((YamlScalarNode)node).Value!;
            if (bytes < MinDedupChunk || bytes > MaxVDiskBlockSize)
                ctx.Error(node, m.PathOf(key), $"'{text}' is out of range (1KiB..16MiB)");
            else if (!BitOperations.IsPow2(bytes))
                ctx.Error(node, m.PathOf(key), $"'{text}' ({bytes} bytes) is not a power of two");
            else
                return (int)bytes;
            ok = false;
            return current;
        }

        DedupChunkSizes d = container.DedupChunk;
        int min = Read("min", d.Min), average = Read("average", d.Average), max = Read("max", d.Max);
        if (!ok)
            return;
        if (!(min < average && average < max))
        {
            ctx.Error(m.Node, m.Path,
                $"needs min < average < max (here {ByteSize.Format(min)} / {ByteSize.Format(average)} / {ByteSize.Format(max)}, unset ones defaulting to 16 KiB / 64 KiB / 256 KiB)");
            return;
        }
        if (blockSizeOk && max > container.VDiskBlockSize)
        {
            ctx.Error(m.PositionOf("max"), m.PathOf("max"),
                $"max {ByteSize.Format(max)} is larger than vdisk_block_size {ByteSize.Format(container.VDiskBlockSize)}: a chunk never spans vDisk blocks");
            return;
        }
        container.DedupChunk = new DedupChunkSizes(min, average, max);
    }
}
