using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// containers:                     required, at least one
//   - name: default
//     pool: default                 default: the only pool, when there is one
//     replication_factor: 1         only 1 for now
//     max_capacity: 0               0 = unlimited
//     reserved_capacity: 0          summed per pool, within the pool's fixed capacity
//     vdisk_block_size: 1MiB        power of two, 64KiB..16MiB
//     extent_group_size: 64MiB      multiple of vdisk_block_size, 16MiB..1GiB
//     tier_preference: [ssd, hdd]
//     dedup, dedup_chunk, compression, compression_level, data_contraction, post_process_delay:
//                                   see ConfigBinder.DataReduction.cs
//     qos: {iops: 0, bandwidth: 0}   optional limits shared by all its vDisks (and iops_burst, bandwidth_burst)
// vdisks:
//   - name: disk0        container: default     size: 8GiB     block_size: 512
//     thin: true         write_cache: true      read_only: false
//     backing: engine      engine (journal, extents) or none (no storage: reads zeros, writes discarded;
//                          for measuring the protocol cost alone)
//     physical_block_size: 4096   optional: a power-of-two multiple of block_size, at most 64KiB (READ CAPACITY 16)
//     dedup: true|false    optional: default the container's dedup
//     qos:                 optional service level (seed 003: "a priority and a fair share"); see ConfigBinder.Qos.cs
//       class: high        high | low
//       weight: 1          fair share within the class, 1..10000
//       iops: 0            limit, requests/s (0 = none)       iops_burst: 0        requests at once (0 = limit/10)
//       bandwidth: 0       limit, bytes/s, e.g. 100MiB        bandwidth_burst: 0   bytes at once (0 = limit/10)
//       max_outstanding: 0 requests in service at once (0 = the Director's total bound only)
internal sealed partial class ConfigBinder
{
    private readonly NameTable _containerNames = new("container");
    private readonly NameTable _vdiskNames = new("vDisk");

    // References are checked after every section is read, so their order in the file does not matter.
    private readonly List<(string Name, YamlNode Node, string Path)> _containerRefs = [];
    private readonly List<(string Name, YamlNode Node, string Path)> _vdiskRefs = [];

    private void BindContainers(MappingReader root, List<ContainerConfig> containers)
    {
        var items = root.List("containers");
        if (items is null)
        {
            if (root.Value("containers") is null)
                root.Missing("containers", "at least one container is required, e.g. containers: [{name: default}]");
            else
                _containerNames.Incomplete = true;
            return;
        }
        if (items.Count == 0)
            root.Missing("containers", "at least one container is required, e.g. containers: [{name: default}]");

        foreach (var (node, path) in items)
        {
            MappingReader? m = ctx.AsMapping(node, path);
            if (m is null)
            {
                _containerNames.Incomplete = true;
                continue;
            }
            var container = new ContainerConfig();
            container.Name = RequiredUniqueName(m, _containerNames, CheckObjectName) ?? "";
            BindContainerPolicy(m, container);
            if (m.Mapping("qos") is { } qos)
                BindContainerQos(qos, container.Qos);
            m.Finish();
            containers.Add(container);
        }
    }

    private void BindVDisks(MappingReader root, List<VDiskConfig> vdisks)
    {
        var items = root.List("vdisks");
        if (items is null)
        {
            _vdiskNames.Incomplete = root.Value("vdisks") is not null;
            return;
        }
        foreach (var (node, path) in items)
        {
            MappingReader? m = ctx.AsMapping(node, path);
            if (m is null)
            {
                _vdiskNames.Incomplete = true;
                continue;
            }
            var vdisk = new VDiskConfig();
            vdisk.Name = RequiredUniqueName(m, _vdiskNames, CheckVDiskName) ?? "";

            if (m.RequiredString("container", "every vDisk names its container") is { } container)
            {
                vdisk.Container = container;
                _containerRefs.Add((container, m.PositionOf("container"), m.PathOf("container")));
            }

            bool blockSizeOk = true;
            if (m.Size("block_size") is { } blockSize)
            {
                if (blockSize is 512 or 4096)
                {
                    vdisk.BlockSize = (int)blockSize;
                }
                else
                {
                    ctx.Error(m.PositionOf("block_size"), m.PathOf("block_size"), $"block size {blockSize} is not supported (use 512 or 4096)");
                    blockSizeOk = false;
                }
            }
            else if (m.Value("block_size") is not null)
            {
                blockSizeOk = false;
            }

            if (m.Size("physical_block_size") is { } physical)
            {
                // READ CAPACITY (16) reports it as 2^exponent logical blocks per physical block (SBC-4, READ CAPACITY (16) parameter data).
                if (physical > 64 << 10)
                    ctx.Error(m.PositionOf("physical_block_size"), m.PathOf("physical_block_size"), $"physical block size {physical} is larger than 64KiB");
                else if (blockSizeOk && (physical < vdisk.BlockSize || physical % vdisk.BlockSize != 0 || !long.IsPow2(physical / vdisk.BlockSize)))
                    ctx.Error(m.PositionOf("physical_block_size"), m.PathOf("physical_block_size"),
                        $"physical block size {physical} is not a power-of-two multiple of the block size {vdisk.BlockSize}");
                else
                    vdisk.PhysicalBlockSize = (int)physical;
            }

            if (m.Value("size") is null)
            {
                m.Missing("size", "every vDisk needs a size, e.g. size: 8GiB");
            }
            else if (m.Size("size") is { } size)
            {
                string text = ((YamlScalarNode)m.PositionOf("size")).Value!;
                if (size <= 0)
                    ctx.Error(m.PositionOf("size"), m.PathOf("size"), $"'{text}' is not a usable size: it must be greater than 0");
                else if (blockSizeOk && size % vdisk.BlockSize != 0)
                    ctx.Error(m.PositionOf("size"), m.PathOf("size"), $"'{text}' ({size} bytes) is not a multiple of the block size {vdisk.BlockSize}");
                else
                    vdisk.SizeBytes = size;
            }

            vdisk.Thin = m.Bool("thin", vdisk.Thin);
            vdisk.WriteCache = m.Bool("write_cache", vdisk.WriteCache);
            vdisk.ReadOnly = m.Bool("read_only", vdisk.ReadOnly);
            if (m.Value("dedup") is { } dedupNode)
                vdisk.Dedup = ctx.ReadBool(dedupNode, m.PathOf("dedup"));
            if (m.String("backing") is { } backing)
            {
                if (backing == "engine")
                    vdisk.Backing = VDiskBacking.Engine;
                else if (backing == "none")
                    vdisk.Backing = VDiskBacking.Null;
                else
                    ctx.Error(m.PositionOf("backing"), m.PathOf("backing"), $"'{backing}' is not a backing (use engine, or none for a vDisk without storage)");
            }
            if (m.Mapping("qos") is { } qos)
                BindQos(qos, vdisk.Qos);
            m.Finish();
            vdisks.Add(vdisk);
        }
    }

    private void CheckReferences()
    {
        foreach (var (name, node, path) in _poolRefs)
        {
            if (!_poolNames.Resolves(name))
                ctx.Error(node, path, $"no pool is named '{name}'{Known(name, _poolNames)}");
        }
        foreach (var (name, node, path) in _containerRefs)
        {
            if (!_containerNames.Resolves(name))
                ctx.Error(node, path, $"no container is named '{name}'{Known(name, _containerNames)}");
        }
        foreach (var (name, node, path) in _vdiskRefs)
        {
            if (!_vdiskNames.Resolves(name))
                ctx.Error(node, path, $"no vDisk is named '{name}'{Known(name, _vdiskNames)}");
        }
    }

    private static string Known(string name, NameTable table)
    {
        Dictionary<string, YamlNode>.KeyCollection names = table.Names.Keys;
        if (names.Count == 0)
            return " (none is defined)";
        if (KeyHints.Suggest(name, names) is { } hint)
            return $"; did you mean '{hint}'?";
        return names.Count <= 8 ? $" (defined: {string.Join(", ", names)})" : "";
    }

    // A vDisk of the config follows the object-name rule and, like one created at run time
    // (Admin.VDiskNames), may not take the prefix the NFS server gives the vDisks of files.
    private bool CheckVDiskName(YamlNode node, string path, string name)
    {
        if (!CheckObjectName(node, path, name))
            return false;
        if (name.StartsWith(Admin.VDiskNames.NfsPrefix, StringComparison.OrdinalIgnoreCase))
        {
            ctx.Error(node, path, $"'{name}' cannot be a vDisk name: names starting with {Admin.VDiskNames.NfsPrefix} are reserved for the vDisks of NFS files");
            return false;
        }
        return true;
    }
}
