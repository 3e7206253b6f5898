namespace StorageAppliance.Management.Config;

/// <summary>One problem in a config file, at the position of the offending key or value.</summary>
/// <param name="Source">The file as given (or the embedded default's name).</param>
/// <param name="Line">1-based; 0 when the problem has no position (e.g. the file cannot be read).</param>
/// <param name="Column">1-based.</param>
/// <param name="Path">The key path, e.g. <c>vdisks[0].size</c>; empty for the document itself.</param>
/// <param name="Reason">What is wrong and, where it helps, how to write it.</param>
public sealed record ConfigError(string Source, int Line, int Column, string Path, string Reason)
{
    /// <summary><c>config/appliance.yaml:14:7: vdisks[0].size: '8XB' has an unknown unit 'XB' (use ...)</c></summary>
    public override string ToString()
    {
        string where = Line > 0 ? $"{Source}:{Line}:{Column}" : Source;
        return Path.Length > 0 ? $"{where}: {Path}: {Reason}" : $"{where}: {Reason}";
    }
}

/// <summary>The config is invalid; <see cref="Errors"/> holds every problem found, in file order.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(string.Join('\n', errors))
    {
        Errors = errors;
    }

    public IReadOnlyList<ConfigError> Errors { get; }
}
