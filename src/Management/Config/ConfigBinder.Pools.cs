using StorageAppliance.Common;
using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// pools:                                  absent: one pool "default" with one ssd disk at <data_dir>/disks/ssd0
//   - name: default                       required, unique
//     disks:                              required, at least one
//       - path: ./data/disks/ssd0         required; relative to the config file's folder; unique, not nested
//         tier: ssd                       ssd | hdd
//         capacity: auto                  a size (at least one extent group), or auto
internal sealed partial class ConfigBinder
{
    // A disk holds at least one extent group of the smallest size a container may choose.
    private const long MinDiskCapacity = MinExtentGroupSize;

    private readonly NameTable _poolNames = new("pool");

    // Every disk read, with where it was written, for the duplicate, nesting and data_dir checks.
    private readonly List<(string FullPath, string Pool, YamlNode Node, string Path)> _disks = [];

    private void BindPools(MappingReader root, ApplianceConfig config)
    {
        if (!root.Has("pools"))
        {
            var disk = new DiskConfig { Path = Path.Combine(config.Appliance.DataDir, "disks", "ssd0") };
            disk.FollowDataDir(config.Appliance);
            config.Pools.Add(new PoolConfig { Name = "default", Implicit = true, Disks = [disk] });
            _poolNames.Names.Add("default", root.Node);
            return;
        }

        const string AtLeastOne = "at least one pool is required (or leave pools out for one pool 'default' with one ssd disk at <data_dir>/disks/ssd0)";
        var items = root.Value("pools") is null ? [] : root.List("pools");
        if (items is null)
        {
            _poolNames.Incomplete = true;
            return;
        }
        if (items.Count == 0)
            root.Missing("pools", AtLeastOne);

        foreach (var (node, path) in items)
        {
            MappingReader? m = ctx.AsMapping(node, path);
            if (m is null)
            {
                _poolNames.Incomplete = true;
                continue;
            }
            var pool = new PoolConfig();
            pool.Name = RequiredUniqueName(m, _poolNames, CheckObjectName) ?? "";
            BindDisks(m, pool, config.Appliance);
            m.Finish();
            config.Pools.Add(pool);
        }
        CheckDiskPaths(config.Appliance.DataDir);
    }

    private void BindDisks(MappingReader poolReader, PoolConfig pool, ApplianceSettings settings)
    {
        var items = poolReader.List("disks");
        if (items is null || items.Count == 0)
        {
            if (items is not null || poolReader.Value("disks") is null)
                poolReader.Missing("disks", "a pool needs at least one disk, e.g. disks: [{path: ./data/disks/ssd0}]");
            return;
        }
        foreach (var (node, path) in items)
        {
            MappingReader? m = ctx.AsMapping(node, path);
            if (m is null)
                continue;
            var disk = new DiskConfig();

            if (m.RequiredString("path", "every disk needs a path: a directory, or an existing file or block device") is { } written)
            {
                if (ResolveDiskPath(m, written) is { } full)
                {
                    disk.Path = full;
                    disk.FollowDataDir(settings);
                    _disks.Add((full, pool.Name, m.PositionOf("path"), m.PathOf("path")));
                }
            }

            if (m.String("tier") is { } tierText)
            {
                if (ParseTier(tierText) is { } tier)
                    disk.Tier = tier;
                else
                    ctx.Error(m.PositionOf("tier"), m.PathOf("tier"), $"'{tierText}' is not a tier (use ssd or hdd)");
            }

            if (m.Value("capacity") is { } capacityNode && ctx.ReadString(capacityNode, m.PathOf("capacity")) is { } capacityText)
            {
                if (!capacityText.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)
                    && ctx.ReadSize(capacityNode, m.PathOf("capacity")) is { } capacity)
                {
                    if (capacity < MinDiskCapacity)
                    {
                        ctx.Error(capacityNode, m.PathOf("capacity"),
                            $"'{capacityText}' is too small: a disk holds at least one extent group ({ByteSize.Format(MinDiskCapacity)}); write a size or auto");
                    }
                    else
                    {
                        disk.CapacityBytes = capacity;
                    }
                }
            }
            m.Finish();
            pool.Disks.Add(disk);
        }
    }

    private string? ResolveDiskPath(MappingReader m, string written)
    {
        if (written.Trim().Length == 0)
        {
            ctx.Error(m.PositionOf("path"), m.PathOf("path"), "an empty path is not a disk");
            return null;
        }
        try
        {
            string full = Path.GetFullPath(written, baseDirectory);
            return full.Length > 1 ? Path.TrimEndingDirectorySeparator(full) : full;
        }
        catch (ArgumentException e)
        {
            ctx.Error(m.PositionOf("path"), m.PathOf("path"), $"'{written}' is not a usable path: {e.Message}");
            return null;
        }
    }

    // No disk is used twice or lies inside another (each would see the other's extent groups), and
    // none is data_dir or holds it (the metadata store lives there).
    private void CheckDiskPaths(string dataDir)
    {
        for (int i = 0; i < _disks.Count; i++)
        {
            var (full, _, node, path) = _disks[i];
            if (full == dataDir)
            {
                ctx.Error(node, path, $"'{full}' is data_dir itself, where the metadata lives; use a folder inside it, e.g. {Path.Combine(dataDir, "disks", "ssd0")}");
                continue;
            }
            if (IsInside(dataDir, full))
            {
                ctx.Error(node, path, $"data_dir '{dataDir}' lies inside this disk '{full}'; give the disk its own folder");
                continue;
            }
            for (int j = 0; j < i; j++)
            {
                var (otherFull, otherPool, otherNode, _) = _disks[j];
                if (full == otherFull)
                {
                    ctx.Error(node, path, $"disk '{full}' is already used by pool '{otherPool}' (line {otherNode.Start.Line}); every disk path is used once");
                    break;
                }
                if (IsInside(full, otherFull) || IsInside(otherFull, full))
                {
                    ctx.Error(node, path, $"disk '{full}' and disk '{otherFull}' of pool '{otherPool}' (line {otherNode.Start.Line}) lie one inside the other; give each disk its own folder");
                    break;
                }
            }
        }
    }

    // True when inner is a strict descendant of outer (both absolute and normalized).
    private static bool IsInside(string inner, string outer)
    {
        string prefix = outer.EndsWith('/') ? outer : outer + "/";
        return inner.Length > prefix.Length && inner.StartsWith(prefix, StringComparison.Ordinal);
    }

    private static StorageTier? ParseTier(string text) => text.Trim().ToLowerInvariant() switch
    {
        "ssd" => StorageTier.Ssd,
        "hdd" => StorageTier.Hdd,
        _ => null,
    };
}
