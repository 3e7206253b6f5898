using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// Binds a parsed YAML document to ApplianceConfig by hand, so that every unknown key,
// wrong type, bad value, duplicate and dangling reference is reported at its own line and column.
// One partial file per section; cross-references are checked once every section is read.
internal sealed partial class ConfigBinder(ConfigContext ctx, string baseDirectory)
{
    // Names that become file and directory names under data_dir.
    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ObjectName();

    public ApplianceConfig Bind(YamlNode root)
    {
        var config = new ApplianceConfig { Source = ctx.Source };
        MappingReader? m = ctx.AsMapping(root, "");
        if (m is null)
            return config;

        BindAppliance(m, config.Appliance);
        BindIscsi(m, config.Iscsi);
        BindNfs(m, config.Nfs, config.Iscsi);
        if (m.Mapping("director") is { } director)
            BindDirector(director, config.Director);
        BindPools(m, config);
        BindContainers(m, config.Containers);
        BindVDisks(m, config.VDisks);
        BindTargets(m, config.Targets);
        BindExports(m, config.Exports);
        m.Finish();

        CheckReferences();
        CheckPlacement(config);
        return config;
    }

    private bool CheckObjectName(YamlNode node, string path, string name)
    {
        if (!ObjectName().IsMatch(name))
        {
            ctx.Error(node, path, $"'{name}' is not a valid name: use 1 to 64 letters, digits, '.', '_' or '-'");
            return false;
        }
        if (name is "." or "..")
        {
            ctx.Error(node, path, $"'{name}' cannot be a name (names become directory and file names under data_dir)");
            return false;
        }
        return true;
    }

    // Reads a required name and records it, reporting a repeat at the second occurrence. An invalid
    // name is still recorded, so references to it do not add a second, misleading error.
    private string? RequiredUniqueName(MappingReader m, NameTable table, Func<YamlNode, string, string, bool> check)
    {
        string? name = m.RequiredString("name", $"every {table.What} needs a name");
        if (name is null)
        {
            table.Incomplete = true;
            return null;
        }
        YamlNode node = m.PositionOf("name");
        string path = m.PathOf("name");
        if (table.Names.TryGetValue(name, out YamlNode? first))
        {
            ctx.Error(node, path, $"duplicate {table.What} name '{name}' (first defined at line {first.Start.Line})");
            return null;
        }
        table.Names.Add(name, node);
        return check(node, path, name) ? name : null;
    }

    // The names defined in one list (pools, containers, vDisks, targets).
    private sealed class NameTable(string what)
    {
        public string What { get; } = what;

        public Dictionary<string, YamlNode> Names { get; } = new(StringComparer.Ordinal);

        // Some entry could not be read, so a reference to an unknown name may mean that one: don't report it.
        public bool Incomplete { get; set; }

        public bool Resolves(string name) => Incomplete || Names.ContainsKey(name);
    }
}
