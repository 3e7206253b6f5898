using StorageAppliance.Management.Config;

namespace StorageAppliance.Management.Tests.Config;

internal static class Yaml
{
    public const string Source = "test.yaml";

    /// <summary>
    /// A small valid config, 11 lines. Tests append sections after it (starting at line 12) or
    /// write their own text; line and column numbers in the tests count from these.
    /// </summary>
    public const string Valid = """
        containers:
          - name: default
        vdisks:
          - name: disk0
            container: default
            size: 8GiB
        targets:
          - name: iqn.2026-11.io.storageappliance:default
            luns:
              - lun: 0
                vdisk: disk0
        """;

    public static string With(string extra) => Valid + "\n" + extra;

    public static ApplianceConfig Load(string yaml) => ConfigLoader.LoadText(yaml, Source, "/srv/appliance");

    public static ConfigException Fails(string yaml) => Assert.Throws<ConfigException>(() => Load(yaml))!;

    /// <summary>Asserts the text fails with exactly one error, at the given place, whose reason contains <paramref name="reason"/>.</summary>
    public static ConfigError FailsAt(string yaml, int line, int column, string path, string reason)
    {
        ConfigException ex = Fails(yaml);
        Assert.That(ex.Errors, Has.Count.EqualTo(1), ex.Message);
        ConfigError e = ex.Errors[0];
        Assert.Multiple(() =>
        {
            Assert.That((e.Line, e.Column), Is.EqualTo((line, column)), ex.Message);
            Assert.That(e.Path, Is.EqualTo(path), ex.Message);
            Assert.That(e.Reason, Does.Contain(reason), ex.Message);
            Assert.That(ex.Message, Does.StartWith(path.Length > 0 ? $"{Source}:{line}:{column}: {path}: " : $"{Source}:{line}:{column}: "));
        });
        return e;
    }
}
