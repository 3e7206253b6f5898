using StorageAppliance.Management.Config;

namespace StorageAppliance.Host;

/// <summary>
/// What a start is about to create on disk, so that a start that fails before serving can take it away
/// again: an operator who mistyped a port should not find a data folder with a metadata.db (and an
/// appliance id) that no appliance ever served from. Only folders this start made are removed, or the
/// contents of folders that were empty before it; a folder that held anything is left exactly as it is,
/// since what is in it may be another run's data.
/// </summary>
internal sealed class StartupCleanup
{
    // Each: a folder to remove whole (it did not exist), or one whose contents to remove (it was empty).
    private readonly List<(string Path, bool KeepFolder)> _roots;

    private StartupCleanup(List<(string, bool)> roots) => _roots = roots;

    /// <summary>Looks at the data folder and every pool disk folder before anything is created.</summary>
    public static StartupCleanup Before(ApplianceConfig config)
    {
        var candidates = new List<string> { config.Appliance.DataDir };
        foreach (var pool in config.Pools)
            foreach (var disk in pool.Disks)
                candidates.Add(disk.Path);
        var roots = new List<(string, bool)>();
        foreach (string path in candidates)
        {
            if (string.IsNullOrEmpty(path))
                continue;
            string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
            (string Path, bool KeepFolder)? root = null;
            if (Directory.Exists(full))
            {
                if (!Directory.EnumerateFileSystemEntries(full).Any())
                    root = (full, true);
            }
            else if (!File.Exists(full))
            {
                // Directory.CreateDirectory makes every missing parent too: they are ours as well.
                string top = full;
                while (Path.GetDirectoryName(top) is { } parent && !Directory.Exists(parent) && !File.Exists(parent))
                    top = parent;
                root = (top, false);
            }
            if (root is { } r && !roots.Exists(o => o.Item1 == r.Path || IsInside(r.Path, o.Item1)))
            {
                roots.RemoveAll(o => IsInside(o.Item1, r.Path));
                roots.Add(r);
            }
        }
        return new StartupCleanup(roots);
    }

    /// <summary>
    /// Removes what the failed start created. Call after the host is disposed (files closed). Returns the
    /// folders it could not clean, for the message; an empty list when all went.
    /// </summary>
    public List<string> Undo(string dataDir)
    {
        var left = new List<string>();
        if (_roots.Count == 0)
            return left;
        // Two appliances started at once on one fresh folder: the one that lost the metadata lock must not
        // delete the winner's data. Holding the lock while deleting keeps the winner out for that moment.
        string db = Path.Combine(Path.GetFullPath(dataDir), "metadata.db");
        FileStream? guard = null;
        if (File.Exists(db))
        {
            try
            {
                guard = new FileStream(db, FileMode.Open, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                left.AddRange(_roots.Select(r => r.Path));
                return left;
            }
        }
        using (guard)
        {
            foreach (var (path, keepFolder) in _roots)
            {
                try
                {
                    if (!keepFolder)
                    {
                        if (Directory.Exists(path))
                            Directory.Delete(path, recursive: true);
                        continue;
                    }
                    foreach (string entry in Directory.EnumerateFileSystemEntries(path))
                    {
                        if (Directory.Exists(entry) && !File.GetAttributes(entry).HasFlag(FileAttributes.ReparsePoint))
                            Directory.Delete(entry, recursive: true);
                        else
                            File.Delete(entry);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    left.Add(path);
                }
            }
        }
        return left;
    }

    private static bool IsInside(string path, string folder) =>
        path.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
