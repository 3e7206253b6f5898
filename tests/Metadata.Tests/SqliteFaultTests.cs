using Microsoft.Extensions.Logging.Abstractions;

namespace StorageAppliance.Metadata.Tests;

/// <summary>Damaged files, read-only and full disks: each is a <see cref="MetadataException"/> naming the file and the reason.</summary>
public sealed class SqliteFaultTests
{
    private TempDirectory _dir = null!;

    [SetUp]
    public void CreateDirectory() => _dir = new TempDirectory();

    [TearDown]
    public void RemoveDirectory() => _dir.Dispose();

    [Test]
    public void FileThatIsNotASqliteDatabase_StopsWithAClearMessage()
    {
        string path = _dir.File("appliance.yaml");
        File.WriteAllText(path, string.Concat(Enumerable.Repeat("pools:\n  - name: fast\n    disks: [/dev/sdb]\n", 40)));

        var e = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(path, NullLogger.Instance));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("not a SQLite database"));
    }

    [Test]
    public void OverwrittenHeader_GivesMetadataExceptionNamingTheFile()
    {
        string path = CreateStoreWithData(blocks: 100);
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Write))
            f.Write(new byte[100].Select((_, i) => (byte)(0xA5 ^ i)).ToArray());

        var e = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(path, NullLogger.Instance));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("header is damaged"));
    }

    [Test]
    public void CorruptedPages_GiveMetadataExceptionNamingTheFile()
    {
        string path = CreateStoreWithData(blocks: 20_000);
        long length = new FileInfo(path).Length;
        Assert.That(length, Is.GreaterThan(16 * 4096), "the test needs a file of many pages");
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            // Keep the header and the first pages (schema, meta) and scribble over the rest: the map pages.
            f.Position = 3 * 4096;
            byte[] junk = new byte[length - f.Position];
            new Random(3).NextBytes(junk);
            f.Write(junk);
        }

        var e = Assert.Throws<MetadataException>(() =>
        {
            using SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance);
            for (long v = 0; v < 4; v++)
                store.Blocks(v);
            store.Extents();
            store.Egroups();
        });
        Assert.That(e!.Message, Does.Contain(path).And.Match("corrupt|not a SQLite database"));
    }

    [Test]
    public void ReadOnlyFileSystem_IsReportedClearly()
    {
        if (!OperatingSystem.IsWindows() && Environment.UserName != "root")
        {
            string path = CreateStoreWithData(blocks: 10);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var denied = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(path, NullLogger.Instance));
            Assert.That(denied!.Message, Does.Contain(path).And.Contain("read-only"));
            return;
        }

        // root ignores file modes: use a file system that is really read-only.
        using TmpfsMount mount = TmpfsMount.CreateOrIgnore(_dir.Path, "8m");
        string file = Path.Combine(mount.Path, "meta.db");
        using (SqliteMetadataStore store = SqliteMetadataStore.Open(file, NullLogger.Instance))
            store.Commit(Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1))));
        mount.Remount("ro");

        var e = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(file, NullLogger.Instance));
        Assert.That(e!.Message, Does.Contain(file).And.Contain("read-only"));
        var created = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(Path.Combine(mount.Path, "new.db"), NullLogger.Instance));
        Assert.That(created!.Message, Does.Contain("new.db").And.Contain("read-only"));
    }

    [Test]
    public void FullDisk_FailsTheBatchWholeAndClearly_AndCommitsResumeWhenThereIsSpace()
    {
        using TmpfsMount mount = TmpfsMount.CreateOrIgnore(_dir.Path, "1m");
        string path = Path.Combine(mount.Path, "meta.db");
        var random = new Random(5);
        MetadataBatch BatchOf(long g)
        {
            var batch = new MetadataBatch();
            for (int b = 0; b < 300; b++)
                batch.Add(new MetadataOp.PutBlock(Rec.Block(g, b, g, b)));
            byte[] value = new byte[8192];
            random.NextBytes(value);
            batch.Add(new MetadataOp.PutValue($"v/{g}", value));
            batch.Add(new MetadataOp.SetDrainedSequence(g));
            return batch;
        }

        using (SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance))
        {
            MetadataException? full = null;
            long g = 0;
            while (full is null && g < 10_000)
            {
                g++;
                try
                {
                    store.Commit(BatchOf(g));
                }
                catch (MetadataException e)
                {
                    full = e;
                }
            }
            Assert.That(full, Is.Not.Null, "1 MiB never filled up");
            Assert.That(full!.Message, Does.Contain(path).And.Contain("disk is full"));
            Assert.That(g, Is.GreaterThan(2), "the disk was full before the first batches");

            Assert.That(store.DrainedSequence, Is.EqualTo(g - 1));
            Assert.That(store.Blocks(g), Is.Empty, "part of the failed batch is visible");
            Assert.That(store.GetValue($"v/{g}"), Is.Null);
            Assert.That(store.Blocks(g - 1), Has.Count.EqualTo(300));

            mount.Remount("size=64m");
            store.Commit(BatchOf(g));
            Assert.That(store.DrainedSequence, Is.EqualTo(g));
        }

        using SqliteMetadataStore reopened = SqliteMetadataStore.Open(path, NullLogger.Instance);
        long last = reopened.DrainedSequence;
        Assert.That(last, Is.GreaterThan(2));
        for (long v = 1; v <= last; v++)
            Assert.That(reopened.Blocks(v), Has.Count.EqualTo(300), $"batch {v}");
    }

    private string CreateStoreWithData(int blocks)
    {
        string path = _dir.File("meta.db");
        using SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance);
        var batch = new MetadataBatch();
        for (int b = 0; b < blocks; b++)
            batch.Add(new MetadataOp.PutBlock(Rec.Block(b % 4, b, b, b % 8)));
        for (int e = 0; e < blocks / 10; e++)
        {
            batch.Add(new MetadataOp.PutEgroup(Rec.Egroup(e)));
            batch.Add(new MetadataOp.PutExtent(Rec.Extent(e, 0)));
        }
        store.Commit(batch);
        return path; // closing the last connection checkpoints the WAL into the file
    }
}
