using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace StorageAppliance.Metadata.Tests;

/// <summary>What only the SQLite store has: its file format, schema versions, locks and connections.</summary>
public sealed class SqliteMetadataStoreTests
{
    private TempDirectory _dir = null!;

    [SetUp]
    public void CreateDirectory() => _dir = new TempDirectory();

    [TearDown]
    public void RemoveDirectory() => _dir.Dispose();

    [Test]
    public void NewFile_IsInWalModeWithSynchronousFull_AndTheCurrentSchema()
    {
        string path = _dir.File("meta.db");
        using (SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance))
        {
            Assert.That(store.Path, Is.EqualTo(path));
            Assert.That(store.WriterPragma("journal_mode"), Is.EqualTo("wal"));
            Assert.That(store.WriterPragma("synchronous"), Is.EqualTo("2"), "2 is FULL");
        }

        using SqliteConnection c = External(path);
        Assert.Multiple(() =>
        {
            Assert.That(Scalar(c, "PRAGMA journal_mode"), Is.EqualTo("wal"), "WAL mode is kept in the file");
            Assert.That(Scalar(c, "PRAGMA user_version"), Is.EqualTo(SqliteSchema.CurrentVersion));
            Assert.That(Scalar(c, "PRAGMA application_id"), Is.EqualTo(SqliteSchema.ApplicationId));
            Assert.That(Tables(c), Is.EquivalentTo(new[] { "meta", "pools", "disks", "containers", "vdisks", "egroups", "extents", "blocks", "extent_ids", "dedup_extents", "kv" }));
        });
    }

    [Test]
    public void ReopenAfterManyCommits_PreservesEverything()
    {
        string path = _dir.File("meta.db");
        string before;
        long applianceId;
        using (SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance))
        {
            applianceId = store.ApplianceId;
            for (int g = 1; g <= 50; g++)
            {
                var batch = new MetadataBatch();
                batch.Add(new MetadataOp.PutEgroup(Rec.Egroup(g)));
                for (int b = 0; b < 200; b++)
                    batch.Add(new MetadataOp.PutBlock(Rec.Block(g % 5, g * 1000 + b, g, b)));
                batch.Add(new MetadataOp.PutExtent(Rec.Extent(g, 0, g)));
                batch.Add(new MetadataOp.PutValue($"value/{g % 7}", BitConverter.GetBytes(g)));
                batch.Add(new MetadataOp.SetDrainedSequence(g));
                store.Commit(batch);
            }
            before = Snapshot.Of(store, 0, 1, 2, 3, 4);
        }

        using SqliteMetadataStore reopened = SqliteMetadataStore.Open(path, NullLogger.Instance);
        Assert.That(Snapshot.Of(reopened, 0, 1, 2, 3, 4), Is.EqualTo(before));
        Assert.That(reopened.ApplianceId, Is.EqualTo(applianceId));
        Assert.That(reopened.GetValue("value/1"), Is.EqualTo(BitConverter.GetBytes(50)));
    }

    [Test]
    public void CommittedBatch_IsInTheFile_ForAnotherConnection()
    {
        string path = _dir.File("meta.db");
        using SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance);
        store.Commit(Rec.Batch(new MetadataOp.PutBlock(Rec.Block(3, 4, 5, 6)), new MetadataOp.SetDrainedSequence(17)));

        using SqliteConnection c = External(path);
        Assert.That(Scalar(c, "SELECT egroup_id FROM blocks WHERE vdisk_id = 3 AND block = 4"), Is.EqualTo(5));
        Assert.That(Scalar(c, "SELECT value FROM meta WHERE key = 'drained_sequence'"), Is.EqualTo(17));
    }

    [Test]
    public void SchemaVersion1_IsMigratedForward_KeepingItsData()
    {
        string path = _dir.File("v1.db");
        using (SqliteConnection c = External(path, SqliteOpenMode.ReadWriteCreate))
        {
            SqliteSchema.Create(c, applianceId: 1234, version: 1);
            Exec(c, "INSERT INTO blocks (vdisk_id, block, egroup_id, slot) VALUES (2, 3, 4, 5)");
            Exec(c, "UPDATE meta SET value = 88 WHERE key = 'drained_sequence'");
            Assert.That(Tables(c), Does.Not.Contain("extent_ids"));
        }

        using (SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance))
        {
            Assert.That(store.ApplianceId, Is.EqualTo(1234));
            Assert.That(store.DrainedSequence, Is.EqualTo(88));
            Assert.That(store.Blocks(2), Is.EqualTo(new[] { new BlockRecord(2, 3, 4, 5) }));
            store.Commit(Rec.Batch(new MetadataOp.PutExtentId(Rec.Sha1Like(1), 4)));
            Assert.That(store.TryGetExtentId(Rec.Sha1Like(1), out long egroup) && egroup == 4, Is.True);
        }

        using SqliteConnection after = External(path);
        Assert.That(Scalar(after, "PRAGMA user_version"), Is.EqualTo(SqliteSchema.CurrentVersion));
    }

    [Test]
    public void NewerSchemaVersion_StopsWithAClearMessage()
    {
        string path = _dir.File("meta.db");
        SqliteMetadataStore.Open(path, NullLogger.Instance).Dispose();
        using (SqliteConnection c = External(path))
            Exec(c, "PRAGMA user_version = 99");

        var e = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(path, NullLogger.Instance));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("schema version 99").And.Contain("newer"));
    }

    [Test]
    public void SqliteDatabaseOfAnotherProgram_IsRefused()
    {
        string path = _dir.File("other.db");
        using (SqliteConnection c = External(path, SqliteOpenMode.ReadWriteCreate))
            Exec(c, "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");

        var e = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(path, NullLogger.Instance));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("not a StorageAppliance metadata store"));
    }

    [Test]
    public void SecondOpenOfTheSameFile_IsRefusedAsLocked()
    {
        string path = _dir.File("meta.db");
        using (SqliteMetadataStore first = SqliteMetadataStore.Open(path, NullLogger.Instance))
        {
            var e = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(path, NullLogger.Instance));
            Assert.That(e!.Message, Does.Contain(path).And.Contain("locked"));
            first.Commit(Rec.Batch(new MetadataOp.SetDrainedSequence(5))); // the first one is unharmed
        }
        using SqliteMetadataStore again = SqliteMetadataStore.Open(path, NullLogger.Instance);
        Assert.That(again.DrainedSequence, Is.EqualTo(5));
    }

    [Test]
    public void CommitWhileAnotherProcessHoldsTheWriteLock_FailsAsLocked_AndAppliesNothing()
    {
        string path = _dir.File("meta.db");
        using SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance);
        store.SetBusyTimeout(TimeSpan.FromMilliseconds(200));

        using (SqliteConnection other = External(path))
        {
            Exec(other, "BEGIN IMMEDIATE");
            var e = Assert.Throws<MetadataException>(() =>
                store.Commit(Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1)), new MetadataOp.SetDrainedSequence(9))));
            Assert.That(e!.Message, Does.Contain(path).And.Contain("locked"));
            Exec(other, "ROLLBACK");
        }

        Assert.That(store.Blocks(1), Is.Empty);
        Assert.That(store.DrainedSequence, Is.Zero);
        store.Commit(Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1)), new MetadataOp.SetDrainedSequence(9)));
        Assert.That(store.DrainedSequence, Is.EqualTo(9));
    }

    [Test]
    public void Reads_DoNotWaitForARunningCommit_AndSeeThePreviousState()
    {
        string path = _dir.File("meta.db");
        using SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance);
        store.Commit(Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 0, egroupId: 1)), new MetadataOp.PutValue("v", [1])));

        (long Egroup, int Count, byte Value)? during = null;
        store.BeforeTransactionCommit = () =>
        {
            // The writer holds its lock and an open write transaction here; a read that waited for it would time out.
            Task<(long, int, byte)> read = Task.Run(() =>
                (store.TryGetBlock(1, 0, out BlockRecord? b) ? b.EgroupId : -1, store.Blocks(1).Count, store.GetValue("v")![0]));
            Assert.That(read.Wait(TimeSpan.FromSeconds(10)), Is.True, "a read waited for the running commit");
            during = read.Result;
        };
        store.Commit(Rec.Batch(
            new MetadataOp.PutBlock(Rec.Block(1, 0, egroupId: 2)), new MetadataOp.PutBlock(Rec.Block(1, 1, egroupId: 2)),
            new MetadataOp.PutValue("v", [2])));
        store.BeforeTransactionCommit = null;

        Assert.That(during, Is.EqualTo(((long)1, 1, (byte)1)), "the read during the commit saw part of it");
        Assert.That(store.TryGetBlock(1, 0, out BlockRecord? after) ? after.EgroupId : -1, Is.EqualTo(2));
        Assert.That(store.Blocks(1), Has.Count.EqualTo(2));
    }

    [Test]
    public void ReadsBetweenCommits_DoNotKeepTheWalGrowing()
    {
        // Readers keep their snapshot between reads; the commit that follows must make them let go, or the WAL
        // can never restart from its beginning and grows with every commit.
        string path = _dir.File("meta.db");
        using SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance);
        for (int g = 1; g <= 500; g++)
        {
            var batch = new MetadataBatch();
            for (int b = 0; b < 1000; b++)
                batch.Add(new MetadataOp.PutBlock(Rec.Block(g % 3, b, g, b % 64)));
            store.Commit(batch);
            Assert.That(store.TryGetBlock(g % 3, 999, out BlockRecord? read) ? read.EgroupId : -1, Is.EqualTo(g), "a read after Commit returned missed it");
            store.Blocks((g + 1) % 3);
        }
        long wal = new FileInfo(path + "-wal").Length;
        // About 1,000 pages (the autocheckpoint threshold, 4 MiB) plus one commit; ~12 MiB if readers held it back.
        Assert.That(wal, Is.LessThan(6L << 20), $"the WAL grew to {wal >> 20} MiB");
    }

    [Test]
    public void Open_RefusesAMissingDirectory_AndADirectory()
    {
        string missing = Path.Combine(_dir.Path, "no-such-dir", "meta.db");
        var e = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(missing, NullLogger.Instance));
        Assert.That(e!.Message, Does.Contain(missing).And.Contain("does not exist"));

        e = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(_dir.Path, NullLogger.Instance));
        Assert.That(e!.Message, Does.Contain("is a directory"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SqliteMetadataStore.Open(_dir.File("x.db"), NullLogger.Instance, applianceIdIfNew: 0));
    }

    internal static SqliteConnection External(string path, SqliteOpenMode mode = SqliteOpenMode.ReadWrite)
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        c.Open();
        return c;
    }

    internal static object? Scalar(SqliteConnection c, string sql)
    {
        using SqliteCommand command = c.CreateCommand();
        command.CommandText = sql;
        object? value = command.ExecuteScalar();
        return value is long l && l is >= int.MinValue and <= int.MaxValue ? (int)l : value;
    }

    internal static void Exec(SqliteConnection c, string sql)
    {
        using SqliteCommand command = c.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<string> Tables(SqliteConnection c)
    {
        using SqliteCommand command = c.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_schema WHERE type = 'table'";
        using SqliteDataReader reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
            names.Add(reader.GetString(0));
        return names;
    }
}
