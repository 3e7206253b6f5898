using System.Globalization;
using StorageAppliance.Common;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// Collects errors while binding and reads typed values from YAML nodes. Every reader returns null
// (after recording an error at the node's position) instead of throwing, so one pass finds every
// problem in the file.
internal sealed class ConfigContext(string source)
{
    public string Source { get; } = source;

    public List<ConfigError> Errors { get; } = [];

    public void Error(YamlNode node, string path, string reason) => Error(node.Start, path, reason);

    public void Error(Mark at, string path, string reason) =>
        Errors.Add(new ConfigError(Source, (int)at.Line, (int)at.Column, path, reason));

    // A plain empty value, ~ or null: the key is there but says nothing.
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    public MappingReader? AsMapping(YamlNode node, string path)
    {
        if (node is YamlMappingNode map)
            return new MappingReader(this, map, path);
        Error(node, path, $"expected a mapping (key: value lines), found {Describe(node)}");
        return null;
    }

    // The items of a list, with their paths. A single value becomes a one-item list when singleAllowed.
    public List<(YamlNode Node, string Path)>? AsList(YamlNode node, string path, bool singleAllowed = false)
    {
        if (node is YamlSequenceNode seq)
        {
            var items = new List<(YamlNode, string)>(seq.Children.Count);
            for (int i = 0; i < seq.Children.Count; i++)
                items.Add((seq.Children[i], $"{path}[{i}]"));
            return items;
        }
        if (singleAllowed && node is YamlScalarNode)
            return [(node, $"{path}[0]")];
        Error(node, path, $"expected a list ('- item' lines or [a, b]), found {Describe(node)}");
        return null;
    }

    public string? ReadString(YamlNode node, string path)
    {
        if (node is YamlScalarNode scalar)
            return scalar.Value ?? "";
        Error(node, path, $"expected a single value, found {Describe(node)}");
        return null;
    }

    public long? ReadInteger(YamlNode node, string path, long min, long max)
    {
        if (!TryPlainScalar(node, path, "a whole number", out string text))
            return null;
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            Error(node, path, $"'{text}' is not a whole number");
            return null;
        }
        if (value < min || value > max)
        {
            Error(node, path, $"{text} is out of range ({min}..{max})");
            return null;
        }
        return value;
    }

    public bool? ReadBool(YamlNode node, string path)
    {
        if (!TryPlainScalar(node, path, "true or false", out string text))
            return null;
        switch (text.ToLowerInvariant())
        {
            case "true": case "yes": return true;
            case "false": case "no": return false;
            default:
                Error(node, path, $"'{text}' is not a boolean (write true or false; yes and no also work)");
                return null;
        }
    }

    // A byte count: a bare number, or with a unit as ByteSize.TryParse reads it.
    public long? ReadSize(YamlNode node, string path)
    {
        string? text = ReadString(node, path);
        if (text is null)
            return null;
        if (!ByteSize.TryParse(text, out long bytes, out string? error))
        {
            Error(node, path, error!);
            return null;
        }
        return bytes;
    }

    // A byte count within a range, e.g. an iSCSI length key; 262144 and 256KiB both work.
    public int? ReadSize(YamlNode node, string path, int min, int max)
    {
        long? bytes = ReadSize(node, path);
        if (bytes is null)
            return null;
        if (bytes < min || bytes > max)
        {
            Error(node, path, $"{((YamlScalarNode)node).Value} is out of range ({min}..{max} bytes)");
            return null;
        }
        return (int)bytes.Value;
    }

    public TimeSpan? ReadDuration(YamlNode node, string path)
    {
        string? text = ReadString(node, path);
        if (text is null)
            return null;
        if (!Duration.TryParse(text, out TimeSpan value, out string? error))
        {
            Error(node, path, error!);
            return null;
        }
        return value;
    }

    // YAML reads a quoted "128" as a string, not a number; say so rather than guess.
    private bool TryPlainScalar(YamlNode node, string path, string expected, out string text)
    {
        text = "";
        if (node is not YamlScalarNode scalar)
        {
            Error(node, path, $"expected {expected}, found {Describe(node)}");
            return false;
        }
        text = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted)
        {
            Error(node, path, $"expected {expected}, found the quoted string '{text}' (remove the quotes)");
            return false;
        }
        return true;
    }

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s when IsNull(s) => "nothing",
        YamlScalarNode s => $"the value '{s.Value}'",
        _ => "an unexpected node",
    };
}

// Reads the keys of one YAML mapping. Asking for a key marks it as known; Finish
// then reports every key in the file that nobody asked for, with a hint when one is close.
internal sealed class MappingReader
{
    private readonly ConfigContext _ctx;
    private readonly Dictionary<string, (YamlScalarNode Key, YamlNode Value)> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _known = [];

    public MappingReader(ConfigContext ctx, YamlMappingNode node, string path)
    {
        _ctx = ctx;
        Node = node;
        Path = path;
        foreach (var (key, value) in node.Children)
        {
            if (key is YamlScalarNode { Value: not null } scalar)
                _entries[scalar.Value] = (scalar, value);
            else
                ctx.Error(key, path, $"a key must be a plain name, found {ConfigContext.Describe(key)}");
        }
    }

    public YamlMappingNode Node { get; }

    public string Path { get; }

    public ConfigContext Context => _ctx;

    public string PathOf(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    // True when the key is written, even with no value.
    public bool Has(string key)
    {
        Know(key);
        return _entries.ContainsKey(key);
    }

    // The key's node (for positions), or null when absent.
    public YamlNode? KeyNode(string key)
    {
        Know(key);
        return _entries.TryGetValue(key, out var e) ? e.Key : null;
    }

    // The value, or null when the key is absent or has a null value.
    public YamlNode? Value(string key)
    {
        Know(key);
        return _entries.TryGetValue(key, out var e) && !ConfigContext.IsNull(e.Value) ? e.Value : null;
    }

    // Where to report a problem with this key: its value, else its key, else the mapping.
    public YamlNode PositionOf(string key) =>
        _entries.TryGetValue(key, out var e) ? (ConfigContext.IsNull(e.Value) ? e.Key : e.Value) : Node;

    public void Missing(string key, string reason = "a value is required") => _ctx.Error(PositionOf(key), PathOf(key), reason);

    public string? String(string key) => Value(key) is { } v ? _ctx.ReadString(v, PathOf(key)) : null;

    // Like String, and reports the key as missing when it is absent or empty.
    public string? RequiredString(string key, string reason = "a value is required")
    {
        if (Value(key) is { } v)
            return _ctx.ReadString(v, PathOf(key));
        Missing(key, reason);
        return null;
    }

    public int Int(string key, int current, int min, int max) =>
        Value(key) is { } v ? (int)(_ctx.ReadInteger(v, PathOf(key), min, max) ?? current) : current;

    public bool Bool(string key, bool current) => Value(key) is { } v ? _ctx.ReadBool(v, PathOf(key)) ?? current : current;

    public long? Size(string key) => Value(key) is { } v ? _ctx.ReadSize(v, PathOf(key)) : null;

    public int Bytes(string key, int current, int min, int max) =>
        Value(key) is { } v ? _ctx.ReadSize(v, PathOf(key), min, max) ?? current : current;

    public TimeSpan Duration(string key, TimeSpan current) => Value(key) is { } v ? _ctx.ReadDuration(v, PathOf(key)) ?? current : current;

    public MappingReader? Mapping(string key) => Value(key) is { } v ? _ctx.AsMapping(v, PathOf(key)) : null;

    public List<(YamlNode Node, string Path)>? List(string key, bool singleAllowed = false) =>
        Value(key) is { } v ? _ctx.AsList(v, PathOf(key), singleAllowed) : null;

    // Reports every key present that no reader asked for.
    public void Finish()
    {
        foreach (var (name, entry) in _entries)
        {
            if (_known.Contains(name))
                continue;
            string? hint = KeyHints.Suggest(name, _known);
            string reason = hint is null
                ? $"unknown key '{name}' (known here: {string.Join(", ", _known)})"
                : $"unknown key '{name}'; did you mean '{hint}'?";
            _ctx.Error(entry.Key, PathOf(name), reason);
        }
    }

    private void Know(string key)
    {
        if (!_known.Contains(key))
            _known.Add(key);
    }
}

internal static class KeyHints
{
    // The known key closest to unknown: the same but for case and '_'/'-', or within edit distance 2.
    public static string? Suggest(string unknown, IEnumerable<string> known)
    {
        string folded = Fold(unknown);
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string k in known)
        {
            if (Fold(k) == folded)
                return k;
            int d = EditDistance(unknown, k);
            if (d < bestDistance)
            {
                best = k;
                bestDistance = d;
            }
        }
        // A 2-letter key is within distance 2 of any other 2-letter key; only hint when some of it is kept.
        return bestDistance <= 2 && bestDistance < unknown.Length ? best : null;
    }

    private static string Fold(string s) => s.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();

    // Levenshtein distance.
    public static int EditDistance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
            prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
