using StorageAppliance.Protocols.Nfs.Namespace;

namespace StorageAppliance.Protocols.Nfs.Tests.Namespace;

/// <summary>
/// nfs-namespace.db holds every export's names and attributes: it and its -wal and -shm files are 0600 whatever the
/// process's umask (issue 13: they were 0644, readable by any local user).
/// </summary>
[TestFixture]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FileModeTests
{
    [Test]
    public void The_namespace_database_and_its_wal_and_shm_files_are_0600()
    {
        string dir = Directory.CreateTempSubdirectory("ns-mode-").FullName;
        try
        {
            using (var store = new SqliteNamespaceStore(Path.Combine(dir, "nfs-namespace.db")))
            {
                var batch = new NamespaceBatch();
                batch.AddedEntries.Add((1, "x", 5));
                store.Commit(batch);
                var files = Directory.GetFiles(dir);
                Assert.That(files.Select(Path.GetFileName), Is.SupersetOf(new[] { "nfs-namespace.db", "nfs-namespace.db-wal", "nfs-namespace.db-shm" }));
                foreach (var f in files)
                    Assert.That(File.GetUnixFileMode(f), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), f);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
