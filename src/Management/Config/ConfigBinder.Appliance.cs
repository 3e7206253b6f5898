using System.Text.RegularExpressions;

namespace StorageAppliance.Management.Config;

// appliance:
//   name: storage-appliance     [a-z0-9-], 1..63
//   data_dir: ./data            relative to the config file's folder
internal sealed partial class ConfigBinder
{
    [GeneratedRegex("^[a-z0-9-]{1,63}$")]
    private static partial Regex ApplianceName();

    private void BindAppliance(MappingReader root, ApplianceSettings settings)
    {
        MappingReader? m = root.Mapping("appliance");
        if (m is not null)
        {
            if (m.String("name") is { } name)
            {
                if (ApplianceName().IsMatch(name))
                    settings.Name = name;
                else
                    ctx.Error(m.PositionOf("name"), m.PathOf("name"), $"'{name}' is not a valid appliance name: use 1 to 63 lower-case letters, digits or '-'");
            }
            if (m.String("data_dir") is { } dataDir)
            {
                if (dataDir.Trim().Length == 0)
                    ctx.Error(m.PositionOf("data_dir"), m.PathOf("data_dir"), "an empty path is not a data directory");
                else
                    settings.DataDir = dataDir;
            }
            m.Finish();
        }
        settings.DataDir = Path.GetFullPath(settings.DataDir, baseDirectory);
    }
}
