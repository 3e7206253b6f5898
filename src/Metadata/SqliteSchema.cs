using Microsoft.Data.Sqlite;

namespace StorageAppliance.Metadata;

/// <summary>
/// The tables of <see cref="SqliteMetadataStore"/> and their forward migrations. The schema version is the file's
/// <c>PRAGMA user_version</c>; <c>PRAGMA application_id</c> marks the file as ours. Each migration runs in its own
/// transaction together with the version bump, so a crash leaves the file at the old or the new version.
/// </summary>
/// <remarks>
/// <code>
/// meta       (key TEXT)                  → value INTEGER          appliance_id, drained_sequence, next_id
/// pools      (id)                        → name
/// disks      (id)                        → pool_id, path, tier, capacity_bytes
/// containers (id)                        → name, pool_id, replication_factor, max/reserved capacity, block and egroup size
/// vdisks     (id)                        → name, container_id, capacity_bytes, logical_block_size, thin, state, created
/// egroups    (id)                        → container_id, disk_id, owner_vdisk_id, slot_size, slot_count, disk_offset, created
/// extents    (egroup_id, slot)           → owner_vdisk_id, block, ref_count           extent group map detail (806)
/// blocks     (vdisk_id, block)           → egroup_id, slot                            vDisk map (802)
/// extent_ids (extent_id BLOB)            → egroup_id                                  extent id map (804), version 2
/// dedup_extents (container_id, extent_id) → egroup_id, slot, offset, stored_length,  extent id map and extent group
///                                          encoding, codec, ref_count                 detail of deduplicated extents, v3
/// blocks.extents BLOB                    → a deduplicated block's extent ids (24 bytes each), version 3
/// kv         (key TEXT)                  → value BLOB
/// </code>
/// </remarks>
internal static class SqliteSchema
{
    /// <summary>"SAMD": StorageAppliance MetaData.</summary>
    public const int ApplicationId = 0x53414D44;

    public const int CurrentVersion = 3;

    public const string ApplianceIdKey = "appliance_id";
    public const string DrainedSequenceKey = "drained_sequence";
    public const string NextIdKey = "next_id";

    // Migrations[v] takes a file from version v to v + 1. Never edit a shipped step: add one.
    private static readonly string[] Migrations =
    [
        // 0 → 1: catalog, vDisk map, extent group map, named values.
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE pools (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE disks (id INTEGER PRIMARY KEY, pool_id INTEGER NOT NULL, path TEXT NOT NULL,
            tier INTEGER NOT NULL, capacity_bytes INTEGER NOT NULL);
        CREATE TABLE containers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, pool_id INTEGER NOT NULL,
            replication_factor INTEGER NOT NULL, max_capacity_bytes INTEGER NOT NULL, reserved_capacity_bytes INTEGER NOT NULL,
            vdisk_block_size INTEGER NOT NULL, extent_group_size INTEGER NOT NULL);
        CREATE TABLE vdisks (id INTEGER PRIMARY KEY, name TEXT NOT NULL, container_id INTEGER NOT NULL,
            capacity_bytes INTEGER NOT NULL, logical_block_size INTEGER NOT NULL, thin INTEGER NOT NULL,
            state INTEGER NOT NULL, created_unix_ms INTEGER NOT NULL);
        CREATE TABLE egroups (id INTEGER PRIMARY KEY, container_id INTEGER NOT NULL, disk_id INTEGER NOT NULL,
            owner_vdisk_id INTEGER NOT NULL, slot_size INTEGER NOT NULL, slot_count INTEGER NOT NULL,
            disk_offset INTEGER NOT NULL, created_unix_ms INTEGER NOT NULL);
        CREATE TABLE extents (egroup_id INTEGER NOT NULL, slot INTEGER NOT NULL, owner_vdisk_id INTEGER NOT NULL,
            block INTEGER NOT NULL, ref_count INTEGER NOT NULL, PRIMARY KEY (egroup_id, slot)) WITHOUT ROWID;
        CREATE TABLE blocks (vdisk_id INTEGER NOT NULL, block INTEGER NOT NULL, egroup_id INTEGER NOT NULL,
            slot INTEGER NOT NULL, PRIMARY KEY (vdisk_id, block)) WITHOUT ROWID;
        CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        INSERT INTO meta (key, value) VALUES ('drained_sequence', 0), ('next_id', 1);
        """,

        // 1 → 2: extent id map, for deduplicated extents.
        """
        CREATE TABLE extent_ids (extent_id BLOB PRIMARY KEY, egroup_id INTEGER NOT NULL) WITHOUT ROWID;
        """,

        // 2 → 3: deduplicated extents (location, encoding, reference count) and deduplicated blocks.
        """
        CREATE TABLE dedup_extents (container_id INTEGER NOT NULL, extent_id BLOB NOT NULL, egroup_id INTEGER NOT NULL,
            slot INTEGER NOT NULL, offset INTEGER NOT NULL, stored_length INTEGER NOT NULL, encoding INTEGER NOT NULL,
            codec INTEGER NOT NULL, ref_count INTEGER NOT NULL, PRIMARY KEY (container_id, extent_id)) WITHOUT ROWID;
        ALTER TABLE blocks ADD COLUMN extents BLOB;
        """,
    ];

    /// <summary>What an existing or empty file holds, read from its header.</summary>
    public readonly record struct FileState(long ApplicationId, long Version, long Objects)
    {
        public bool IsEmpty => ApplicationId == 0 && Version == 0 && Objects == 0;
    }

    public static FileState Inspect(SqliteConnection connection) => new(
        Scalar(connection, null, "PRAGMA application_id"),
        Scalar(connection, null, "PRAGMA user_version"),
        Scalar(connection, null, "SELECT count(*) FROM sqlite_schema"));

    /// <summary>Makes an empty file a store at <paramref name="version"/> (the current one, or an older one in tests).</summary>
    public static void Create(SqliteConnection connection, long applianceId, int version = CurrentVersion)
    {
        using SqliteTransaction tx = connection.BeginTransaction();
        Execute(connection, tx, $"PRAGMA application_id = {ApplicationId}");
        for (int v = 0; v < version; v++)
            Execute(connection, tx, Migrations[v]);
        Execute(connection, tx, $"INSERT INTO meta (key, value) VALUES ('{ApplianceIdKey}', {applianceId})");
        Execute(connection, tx, $"PRAGMA user_version = {version}");
        tx.Commit();
    }

    /// <summary>Applies the migrations from <paramref name="from"/> to the current version, one transaction each.</summary>
    public static void Migrate(SqliteConnection connection, int from, Action<int, int> migrated)
    {
        for (int v = from; v < CurrentVersion; v++)
        {
            using SqliteTransaction tx = connection.BeginTransaction();
            Execute(connection, tx, Migrations[v]);
            Execute(connection, tx, $"PRAGMA user_version = {v + 1}");
            tx.Commit();
            migrated(v, v + 1);
        }
    }

    public static long? ReadMeta(SqliteConnection connection, string key)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = $key";
        command.Parameters.AddWithValue("$key", key);
        return command.ExecuteScalar() is long value ? value : null;
    }

    public static long Scalar(SqliteConnection connection, SqliteTransaction? tx, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static string? Text(SqliteConnection connection, string sql) => Value(connection, sql) as string;

    public static object? Value(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    public static void Execute(SqliteConnection connection, SqliteTransaction? tx, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
