using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// targets:
//   - name: iqn.2026-11.io.storageappliance:default     alias: default
//     luns: [{lun: 0, vdisk: disk0}]                    at least one; numbers and vDisks unique per target
//     allowed_initiators: []                            empty means any
//     auth: {chap: ..., mutual_chap: ...}               absent means AuthMethod=None
internal sealed partial class ConfigBinder
{
    // SAM-5 flat space addressing: LUNs 0 to 16383.
    private const int MaxLun = 16383;

    // RFC 7143 13.6: TargetAlias is a UTF-8 text value; keep it within one 255-byte key value.
    private const int MaxAliasBytes = 255;

    private readonly NameTable _targetNames = new("target");

    private void BindTargets(MappingReader root, List<TargetConfig> targets)
    {
        var items = root.List("targets");
        if (items is null)
            return;
        foreach (var (node, path) in items)
        {
            MappingReader? m = ctx.AsMapping(node, path);
            if (m is null)
                continue;
            var target = new TargetConfig();
            target.Name = RequiredUniqueName(m, _targetNames, CheckIscsiName) ?? "";

            if (m.String("alias") is { } alias)
            {
                if (System.Text.Encoding.UTF8.GetByteCount(alias) > MaxAliasBytes)
                    ctx.Error(m.PositionOf("alias"), m.PathOf("alias"), $"an alias is at most {MaxAliasBytes} bytes");
                else
                    target.Alias = alias;
            }

            BindLuns(m, target);
            BindAllowedInitiators(m, target);
            target.Auth = BindAuth(m, "auth");
            m.Finish();
            targets.Add(target);
        }
    }

    private bool CheckIscsiName(YamlNode node, string path, string name)
    {
        if (IscsiName.IsValid(name, out string? error))
            return true;
        ctx.Error(node, path, error!);
        return false;
    }

    private void BindLuns(MappingReader target, TargetConfig config)
    {
        var items = target.List("luns");
        if (items is null || items.Count == 0)
        {
            if (items is not null || target.Value("luns") is null)
                target.Missing("luns", "a target exports at least one LUN, e.g. luns: [{lun: 0, vdisk: disk0}]");
            return;
        }
        var numbers = new Dictionary<int, YamlNode>();
        var vdisks = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (node, path) in items)
        {
            MappingReader? m = ctx.AsMapping(node, path);
            if (m is null)
                continue;
            var lun = new LunConfig();
            if (m.Value("lun") is not { } lunNode)
            {
                m.Missing("lun", "every LUN needs its number, e.g. lun: 0");
            }
            else if (ctx.ReadInteger(lunNode, m.PathOf("lun"), 0, MaxLun) is { } number)
            {
                lun.Lun = (int)number;
                if (numbers.TryGetValue(lun.Lun, out YamlNode? first))
                    ctx.Error(lunNode, m.PathOf("lun"), $"LUN {lun.Lun} is already used in this target (line {first.Start.Line})");
                else
                    numbers.Add(lun.Lun, lunNode);
            }

            if (m.RequiredString("vdisk", "every LUN names the vDisk it exports") is { } vdisk)
            {
                lun.VDisk = vdisk;
                YamlNode vdiskNode = m.PositionOf("vdisk");
                _vdiskRefs.Add((vdisk, vdiskNode, m.PathOf("vdisk")));
                // Several targets may export one vDisk (multipath), but two LUNs of one target may not.
                if (vdisks.TryGetValue(vdisk, out YamlNode? first))
                    ctx.Error(vdiskNode, m.PathOf("vdisk"), $"vDisk '{vdisk}' is already exported by this target (line {first.Start.Line})");
                else
                    vdisks.Add(vdisk, vdiskNode);
            }
            m.Finish();
            config.Luns.Add(lun);
        }
    }

    private void BindAllowedInitiators(MappingReader target, TargetConfig config)
    {
        var items = target.List("allowed_initiators", singleAllowed: true);
        if (items is null)
            return;
        var seen = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (node, path) in items)
        {
            string? name = ctx.ReadString(node, path);
            if (name is null || !CheckIscsiName(node, path, name))
                continue;
            if (seen.TryGetValue(name, out YamlNode? first))
            {
                ctx.Error(node, path, $"'{name}' is listed twice (line {first.Start.Line})");
                continue;
            }
            seen.Add(name, node);
            config.AllowedInitiators.Add(name);
        }
    }
}
