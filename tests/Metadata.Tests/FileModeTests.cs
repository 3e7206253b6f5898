using Microsoft.Extensions.Logging.Abstractions;

namespace StorageAppliance.Metadata.Tests;

/// <summary>
/// The metadata database holds every vDisk's map: it and its -wal and -shm files are 0600 whatever the process's
/// umask (issue 13: they were 0644, readable by any local user).
/// </summary>
[TestFixture]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FileModeTests
{
    [Test]
    public void The_database_and_its_wal_and_shm_files_are_0600()
    {
        string dir = Directory.CreateTempSubdirectory("meta-mode-").FullName;
        try
        {
            string path = Path.Combine(dir, "metadata.db");
            using (var store = SqliteMetadataStore.Open(path, NullLogger.Instance))
            {
                store.Commit(new MetadataBatch().Add(new MetadataOp.PutValue("k", [1, 2, 3])));
                var files = Directory.GetFiles(dir);
                Assert.That(files.Select(Path.GetFileName), Is.SupersetOf(new[] { "metadata.db", "metadata.db-wal", "metadata.db-shm" }));
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
