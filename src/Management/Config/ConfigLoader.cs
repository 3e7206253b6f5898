using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

/// <summary>
/// Loads and validates the appliance config. Every problem in the file is collected and thrown
/// together as one <see cref="ConfigException"/>, each as <c>file:line:column: key.path: reason</c>.
/// </summary>
public static class ConfigLoader
{
    /// <summary>The source name the embedded default reports in messages.</summary>
    public const string EmbeddedDefaultName = "embedded:config/appliance.yaml";

    private const string EmbeddedResourceName = "StorageAppliance.Management.Config.appliance.yaml";

    private static readonly Lazy<string> s_embeddedDefault = new(ReadEmbeddedDefault);

    /// <summary>The text of config/appliance.yaml as built into this assembly.</summary>
    public static string EmbeddedDefaultText => s_embeddedDefault.Value;

    /// <summary>Loads a config file; relative paths in it resolve against the file's folder.</summary>
    /// <exception cref="ConfigException">The file cannot be read or is invalid.</exception>
    public static ApplianceConfig LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ConfigException([new ConfigError(path, 0, 0, "", $"cannot read the config file: {e.Message}")]);
        }
        return LoadText(text, path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>
    /// Loads config text. <paramref name="sourceName"/> names it in messages; relative paths resolve
    /// against <paramref name="baseDirectory"/>, or the current directory when that is null.
    /// </summary>
    /// <exception cref="ConfigException">The text is not valid YAML or not a valid config.</exception>
    public static ApplianceConfig LoadText(string yaml, string sourceName, string? baseDirectory = null)
    {
        var ctx = new ConfigContext(sourceName);
        ApplianceConfig? config = null;
        if (Parse(yaml, ctx) is { } root)
            config = new ConfigBinder(ctx, baseDirectory ?? Directory.GetCurrentDirectory()).Bind(root);
        if (ctx.Errors.Count > 0 || config is null)
            throw new ConfigException([.. ctx.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column)]);
        return config;
    }

    /// <summary>Loads the built-in default (see <see cref="EmbeddedDefaultText"/>); data_dir resolves against the current directory.</summary>
    public static ApplianceConfig LoadEmbeddedDefault() => LoadText(EmbeddedDefaultText, EmbeddedDefaultName);

    private static string ReadEmbeddedDefault()
    {
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(EmbeddedResourceName)
            ?? throw new InvalidOperationException($"resource {EmbeddedResourceName} is missing from {Assembly.GetExecutingAssembly().GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static YamlNode? Parse(string yaml, ConfigContext ctx)
    {
        var scanner = new Scanner(new StringReader(yaml), skipComments: true);
        var parser = new AliasTrackingParser(new Parser(scanner));
        var stream = new YamlStream();
        try
        {
            stream.Load(parser);
        }
        catch (AnchorNotFoundException)
        {
            // YamlDotNet reports no position for this; the parser saw the alias go by.
            var (name, at) = parser.FirstUndefinedAlias();
            string reason = name.StartsWith(':')
                ? $"'*{name}' is read as a YAML alias because it starts with '*'; quote it: \"*{name}\""
                : $"alias '*{name}' refers to no anchor '&{name}' defined before it";
            ctx.Error(at, "", reason);
            return null;
        }
        catch (YamlException e)
        {
            string reason = e.Message.StartsWith("Duplicate key ", StringComparison.Ordinal)
                ? $"the key '{e.Message["Duplicate key ".Length..]}' appears twice in this mapping"
                : $"invalid YAML: {e.Message}";
            if (e.Message.Contains("tab", StringComparison.OrdinalIgnoreCase))
                reason += " (indent with spaces, not tabs)";
            // Some scanner errors carry no position (the start of the stream); the scanner knows where it stopped.
            ctx.Error(e.Start.Index == 0 && e.End.Index == 0 ? scanner.CurrentPosition : e.Start, "", reason);
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this on some malformed input, e.g. an unclosed flow sequence.
            ctx.Error(scanner.CurrentPosition, "", "invalid YAML: the text cannot be parsed here (an unclosed '[' or '{' before it?)");
            return null;
        }

        if (stream.Documents.Count == 0 || ConfigContext.IsNull(stream.Documents[0].RootNode))
        {
            ctx.Error(new Mark(0, 1, 1), "", "the config is empty: it needs at least a containers section");
            return null;
        }
        if (stream.Documents.Count > 1)
        {
            ctx.Error(stream.Documents[1].RootNode, "", "a config file holds one YAML document; remove the second one (after '---')");
            return null;
        }
        return stream.Documents[0].RootNode;
    }

    /// <summary>Passes events through, remembering where each anchor and alias was seen.</summary>
    private sealed class AliasTrackingParser(IParser inner) : IParser
    {
        private readonly HashSet<string> _anchors = new(StringComparer.Ordinal);
        private (string Name, Mark At)? _firstUndefined;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            bool more = inner.MoveNext();
            switch (inner.Current)
            {
                case AnchorAlias alias when _firstUndefined is null && !_anchors.Contains(alias.Value.Value):
                    _firstUndefined = (alias.Value.Value, alias.Start);
                    break;
                case NodeEvent { Anchor.IsEmpty: false } node:
                    _anchors.Add(node.Anchor.Value);
                    break;
            }
            return more;
        }

        public (string Name, Mark At) FirstUndefinedAlias() => _firstUndefined ?? ("", new Mark(0, 1, 1));
    }
}
