using System.Numerics;
using StorageAppliance.Common;
using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// A container's placement and layout policy (the keys after name; see ConfigBinder.Storage.cs).
// The checks that need the pools (default pool, tiers present, reservations) run in CheckPlacement,
// after every section is read.
internal sealed partial class ConfigBinder
{
    private const int MinVDiskBlockSize = 64 << 10;
    private const int MaxVDiskBlockSize = 16 << 20;
    private const long MinExtentGroupSize = 16L << 20;
    private const long MaxExtentGroupSize = 1L << 30;

    private readonly List<(ContainerConfig Container, MappingReader Reader)> _placements = [];
    private readonly List<(string Name, YamlNode Node, string Path)> _poolRefs = [];

    private void BindContainerPolicy(MappingReader m, ContainerConfig container)
    {
        if (m.String("pool") is { } pool)
        {
            container.Pool = pool;
            _poolRefs.Add((pool, m.PositionOf("pool"), m.PathOf("pool")));
        }

        if (m.Value("replication_factor") is { } rfNode
            && ctx.ReadInteger(rfNode, m.PathOf("replication_factor"), int.MinValue, int.MaxValue) is { } rf)
        {
            if (rf == 1)
                container.ReplicationFactor = 1;
            else
                ctx.Error(rfNode, m.PathOf("replication_factor"), $"replication factor {rf} is not supported: this version keeps one copy of the data (replication_factor: 1)");
        }

        container.MaxCapacityBytes = m.Size("max_capacity") ?? container.MaxCapacityBytes;
        if (m.Size("reserved_capacity") is { } reserved)
        {
            if (container.MaxCapacityBytes != 0 && reserved > container.MaxCapacityBytes)
            {
                ctx.Error(m.PositionOf("reserved_capacity"), m.PathOf("reserved_capacity"),
                    $"reserves {ByteSize.Format(reserved)}, more than max_capacity {ByteSize.Format(container.MaxCapacityBytes)}");
            }
            else
            {
                container.ReservedCapacityBytes = reserved;
            }
        }

        bool blockSizeOk = true;
        if (m.Value("vdisk_block_size") is { } blockNode)
        {
            blockSizeOk = false;
            if (ctx.ReadSize(blockNode, m.PathOf("vdisk_block_size")) is { } block)
            {
                string text = ((YamlScalarNode)blockNode).Value!;
                if (block is < MinVDiskBlockSize or > MaxVDiskBlockSize)
                    ctx.Error(blockNode, m.PathOf("vdisk_block_size"), $"'{text}' is out of range (64KiB..16MiB)");
                else if (!BitOperations.IsPow2(block))
                    ctx.Error(blockNode, m.PathOf("vdisk_block_size"), $"'{text}' ({block} bytes) is not a power of two (64KiB, 128KiB, ... 16MiB)");
                else
                    (container.VDiskBlockSize, blockSizeOk) = ((int)block, true);
            }
        }

        if (m.Value("extent_group_size") is { } egroupNode && ctx.ReadSize(egroupNode, m.PathOf("extent_group_size")) is { } egroup)
        {
            string text = ((YamlScalarNode)egroupNode).Value!;
            if (egroup is < MinExtentGroupSize or > MaxExtentGroupSize)
                ctx.Error(egroupNode, m.PathOf("extent_group_size"), $"'{text}' is out of range (16MiB..1GiB)");
            else if (blockSizeOk && egroup % container.VDiskBlockSize != 0)
                ctx.Error(egroupNode, m.PathOf("extent_group_size"), $"'{text}' ({egroup} bytes) is not a multiple of vdisk_block_size {ByteSize.Format(container.VDiskBlockSize)}");
            else
                container.ExtentGroupSize = egroup;
        }

        if (BindTierPreference(m) is { } tiers)
            container.TierPreference = tiers;

        BindDataReduction(m, container, blockSizeOk);

        _placements.Add((container, m));
    }

    private List<StorageTier>? BindTierPreference(MappingReader m)
    {
        var items = m.List("tier_preference", singleAllowed: true);
        if (items is null)
            return null;
        if (items.Count == 0)
        {
            ctx.Error(m.PositionOf("tier_preference"), m.PathOf("tier_preference"), "expected at least one of ssd, hdd");
            return null;
        }
        var tiers = new List<StorageTier>(items.Count);
        foreach (var (node, path) in items)
        {
            if (ctx.ReadString(node, path) is not { } text)
                continue;
            if (ParseTier(text) is not { } tier)
                ctx.Error(node, path, $"'{text}' is not a tier (use ssd or hdd)");
            else if (tiers.Contains(tier))
                ctx.Error(node, path, $"'{text}' is listed twice");
            else
                tiers.Add(tier);
        }
        return tiers.Count == items.Count ? tiers : null;
    }

    // Runs once every section is read: the pools may come after the containers in the file.
    private void CheckPlacement(ApplianceConfig config)
    {
        var reservedByPool = new Dictionary<string, long>(StringComparer.Ordinal);
        var overbooked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (container, m) in _placements)
        {
            if (container.Pool.Length == 0)
            {
                if (config.Pools.Count == 1 && !_poolNames.Incomplete)
                {
                    container.Pool = config.Pools[0].Name;
                }
                else if (config.Pools.Count > 1)
                {
                    ctx.Error(m.Node, m.PathOf("pool"),
                        $"pool is required when there are several pools (defined: {string.Join(", ", _poolNames.Names.Keys)})");
                }
                continue;
            }

            if (config.FindPool(container.Pool) is not { Disks.Count: > 0 } pool)
                continue;

            if (!container.TierPreference.Exists(pool.HasTier))
            {
                string key = m.Has("tier_preference") ? "tier_preference" : "pool";
                ctx.Error(m.PositionOf(key), m.PathOf(key),
                    $"pool '{pool.Name}' has no disk in any tier of tier_preference ({string.Join(", ", container.TierPreference).ToLowerInvariant()})");
            }

            // A pool with an auto-sized disk has no fixed capacity until start: skip the check.
            if (container.ReservedCapacityBytes == 0 || pool.FixedCapacityBytes is not { } capacity || overbooked.Contains(pool.Name))
                continue;
            reservedByPool.TryGetValue(pool.Name, out long sum);
            sum = container.ReservedCapacityBytes > long.MaxValue - sum ? long.MaxValue : sum + container.ReservedCapacityBytes;
            reservedByPool[pool.Name] = sum;
            if (sum > capacity)
            {
                overbooked.Add(pool.Name);
                ctx.Error(m.PositionOf("reserved_capacity"), m.PathOf("reserved_capacity"),
                    $"the containers of pool '{pool.Name}' reserve {ByteSize.Format(sum)} in total, more than its disks hold ({ByteSize.Format(capacity)})");
            }
        }
    }
}
