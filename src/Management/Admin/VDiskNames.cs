using System.Text.RegularExpressions;

namespace StorageAppliance.Management.Admin;

/// <summary>
/// The rule a vDisk created at run time must follow: the config's rule for object names (they become file
/// and directory names under data_dir), and not the <c>nfs-</c> prefix, which the NFS server gives the
/// vDisk that holds each file's data. The CLI checks it to answer before it connects; the admin API and
/// the appliance check it again because they are what a script or another client reaches.
/// </summary>
public static partial class VDiskNames
{
    /// <summary>The prefix of the vDisks that hold NFS files' data (<c>nfs-&lt;file id in hex&gt;</c>).</summary>
    public const string NfsPrefix = "nfs-";

    /// <summary>The rule in words, as the CLI's help and every refusal state it.</summary>
    public const string Rule = "1 to 64 letters, digits, '.', '_' or '-', not '.' or '..', not starting with 'nfs-'";

    // Same pattern as ConfigBinder.ObjectName: a name the config accepts for a vDisk is accepted here too.
    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ObjectName();

    /// <summary>Null when <paramref name="name"/> may name a new vDisk, else why not (one sentence, naming it).</summary>
    public static string? Check(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return $"a vDisk needs a name: {Rule}";
        if (!ObjectName().IsMatch(name) || name is "." or "..")
            return $"'{name}' is not a valid vDisk name: use {Rule}";
        // Ordinal and case-insensitive: "NFS-1" would read as the same reserved name to a person.
        if (name.StartsWith(NfsPrefix, StringComparison.OrdinalIgnoreCase))
            return $"'{name}' is not a valid vDisk name: names starting with '{NfsPrefix}' are reserved for the vDisks of NFS files";
        return null;
    }
}
