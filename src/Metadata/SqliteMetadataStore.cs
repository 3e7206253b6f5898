using System.Buffers.Binary;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;
using StorageAppliance.Common.Devices;

namespace StorageAppliance.Metadata;

/// <summary>
/// The embedded metadata store: one SQLite file in WAL mode with synchronous=FULL, so a batch is on disk when
/// <see cref="Commit"/> returns (the engine trims its journal right after). One writer connection serialises
/// commits; reads run on their own pooled connections and never wait for a running commit, each read seeing one
/// committed snapshot (all or none of any batch). A reader keeps its snapshot from one read to the next until a
/// commit starts, which saves starting a WAL read transaction (two fcntl locks, ~5 µs) per lookup. The file is
/// locked (flock) for the life of the store, so a second appliance cannot open it.
/// </summary>
public sealed partial class SqliteMetadataStore : IMetadataStore
{
    // Ids are reserved on disk this many at a time: AllocateIds costs one small commit per range.
    private const int IdRange = 1024;
    private const int DefaultBusyTimeoutMs = 5000;
    // .NET reports these Linux errors from opening the file as an IOException whose HResult is the errno.
    private const int EWouldBlock = 11;
    private const int ENoSpace = 28;
    private const int EReadOnlyFileSystem = 30;
    private const uint SharingViolation = 0x80070020;

    private readonly string _path;
    private readonly ILogger _log;
    private readonly FileStream _lockFile;
    private readonly SqliteConnection _writer;
    private readonly WriteStatements _w;
    private readonly object _writeLock = new();
    private readonly object _idLock = new();
    private readonly ReadConnection?[] _idleReaders = new ReadConnection?[Math.Max(4, Environment.ProcessorCount * 2)];
    // Commit generation: even when no commit is running, odd while one is; see RentReader.
    private long _generation;
    private long _drained;
    private long _nextId;
    private long _reservedEnd;
    private MetadataException? _writesStopped;
    private volatile bool _disposed;

    private SqliteMetadataStore(string path, ILogger log, FileStream lockFile, SqliteConnection writer, long applianceId, long drained, long nextId)
    {
        _path = path;
        _log = log;
        _lockFile = lockFile;
        _writer = writer;
        ApplianceId = applianceId;
        _drained = drained;
        _nextId = nextId;
        _reservedEnd = nextId;
        _w = new WriteStatements(writer.Handle!, path);
    }

    /// <summary>The full path of the database file.</summary>
    public string Path => _path;

    public long ApplianceId { get; }

    public long DrainedSequence => Volatile.Read(ref _drained);

    /// <summary>
    /// Opens the store at <paramref name="path"/>, creating the file and its schema if it does not exist (or is empty),
    /// and migrating an older schema forward. The directory must exist.
    /// </summary>
    /// <param name="applianceIdIfNew">The appliance id of a new store; a random non-zero id if null. Ignored for an existing store.</param>
    /// <exception cref="MetadataException">The file cannot be opened, is not a metadata store, is newer than this build, or is in use.</exception>
    public static SqliteMetadataStore Open(string path, ILogger log, long? applianceIdIfNew = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(log);
        if (applianceIdIfNew == 0)
            throw new ArgumentOutOfRangeException(nameof(applianceIdIfNew), "an appliance id is never 0");

        string full = System.IO.Path.GetFullPath(path);
        string directory = System.IO.Path.GetDirectoryName(full) ?? "/";
        if (Directory.Exists(full))
            throw new MetadataException($"metadata store {full}: cannot open it: it is a directory");
        if (!Directory.Exists(directory))
            throw new MetadataException($"metadata store {full}: cannot open it: the directory {directory} does not exist");

        FileStream lockFile = LockFile(full);
        SqliteConnection? writer = null;
        try
        {
            bool isNew = lockFile.Length == 0;
            writer = OpenConnection(full, SqliteOpenMode.ReadWriteCreate);

            SqliteSchema.FileState state = SqliteSchema.Inspect(writer);
            if (!state.IsEmpty && state.ApplicationId != SqliteSchema.ApplicationId)
                throw new MetadataException($"metadata store {full}: the file is a SQLite database but not a StorageAppliance metadata store " +
                    $"(application_id 0x{state.ApplicationId:X8}, expected 0x{SqliteSchema.ApplicationId:X8})");
            if (state.Version > SqliteSchema.CurrentVersion)
                throw new MetadataException($"metadata store {full}: schema version {state.Version} was written by a newer appliance; " +
                    $"this build reads versions up to {SqliteSchema.CurrentVersion}. Run the newer version, or restore a backup.");
            if (!state.IsEmpty && state.Version == 0)
                throw new MetadataException($"metadata store {full}: the file is marked as a metadata store but has no schema version (damaged)");

            string? mode = SqliteSchema.Text(writer, "PRAGMA journal_mode = WAL");
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                throw new MetadataException($"metadata store {full}: cannot switch it to WAL journal mode (it stays in '{mode}' mode)");
            // FULL: the WAL is fsynced at every commit, so a committed batch survives a power cut.
            SqliteSchema.Execute(writer, null, "PRAGMA synchronous = FULL");
            SqliteSchema.Execute(writer, null, "PRAGMA cache_size = -16384");
            SqliteSchema.Execute(writer, null, "PRAGMA journal_size_limit = 67108864");
            SetBusyTimeout(writer, DefaultBusyTimeoutMs);

            if (raw.sqlite3_db_readonly(writer.Handle!, "main") == 1)
                throw new MetadataException($"metadata store {full}: {SqliteErrors.Reason(SqliteErrors.ReadOnly)}; it was opened read-only");

            if (state.IsEmpty)
            {
                long id = applianceIdIfNew ?? NewApplianceId();
                SqliteSchema.Create(writer, id);
                // The file and its -wal were just created: make their directory entries durable too.
                int errno = NativeFile.SyncDirectory(directory);
                if (errno != 0)
                    throw new MetadataException($"metadata store {full}: cannot sync its directory {directory} (errno {errno})");
                MetadataLog.Created(log, full, SqliteSchema.CurrentVersion, id);
            }
            else if (state.Version < SqliteSchema.CurrentVersion)
            {
                SqliteSchema.Migrate(writer, (int)state.Version, (from, to) => MetadataLog.Migrated(log, full, from, to));
            }

            long applianceId = SqliteSchema.ReadMeta(writer, SqliteSchema.ApplianceIdKey) ?? throw MissingMeta(full, SqliteSchema.ApplianceIdKey);
            long drained = SqliteSchema.ReadMeta(writer, SqliteSchema.DrainedSequenceKey) ?? throw MissingMeta(full, SqliteSchema.DrainedSequenceKey);
            long nextId = SqliteSchema.ReadMeta(writer, SqliteSchema.NextIdKey) ?? throw MissingMeta(full, SqliteSchema.NextIdKey);
            if (applianceId == 0 || nextId <= 0)
                throw new MetadataException($"metadata store {full}: the file is damaged (appliance id {applianceId}, next id {nextId})");

            var store = new SqliteMetadataStore(full, log, lockFile, writer, applianceId, drained, nextId);
            if (!isNew)
                MetadataLog.Opened(log, full, SqliteSchema.CurrentVersion, applianceId, drained);
            return store;
        }
        catch (Exception e)
        {
            writer?.Dispose();
            lockFile.Dispose();
            if (e is SqliteException s)
                throw SqliteErrors.From(full, "open", s);
            throw;
        }
    }

    /// <summary>Test hook: the next Commit throws after applying this many ops inside its transaction (-1: off).</summary>
    internal int FailNextCommitAfterOps { get; set; } = -1;

    /// <summary>Test hook: runs inside Commit after the ops are applied and before the transaction commits.</summary>
    internal Action? BeforeTransactionCommit { get; set; }

    /// <summary>A pragma's value on the writer connection (tests check journal_mode and synchronous).</summary>
    internal string? WriterPragma(string name)
    {
        lock (_writeLock)
        {
            ThrowIfDisposed();
            return Convert.ToString(SqliteSchema.Value(_writer, "PRAGMA " + name), System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>How long a commit waits for a lock held by another connection or process before failing.</summary>
    internal void SetBusyTimeout(TimeSpan timeout)
    {
        lock (_writeLock)
            SetBusyTimeout(_writer, (int)timeout.TotalMilliseconds);
    }

    /// <summary>
    /// Closes the store. Reads still running on other threads finish on their connections, which close when
    /// they come back; the last connection to close checkpoints the WAL into the database file.
    /// </summary>
    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
                return;
            _disposed = true;
        }

        for (int i = 0; i < _idleReaders.Length; i++)
            Interlocked.Exchange(ref _idleReaders[i], null)?.Dispose();
        lock (_writeLock)
        {
            _w.Dispose();
            _writer.Dispose();
        }
        // Last: closing this descriptor would drop SQLite's POSIX locks on the file if a connection were still open.
        _lockFile.Dispose();
        MetadataLog.Closed(_log, _path);
    }

    private static FileStream LockFile(string path)
    {
        try
        {
            // FileShare.None takes flock(LOCK_EX | LOCK_NB) on Linux: independent of SQLite's own fcntl locks,
            // it keeps a second appliance (or a second store in this process) off the file.
            // A new file is 0600: it holds every vDisk's map, and SQLite gives its -wal and -shm files the mode of the database.
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 1 };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            return new FileStream(path, options);
        }
        catch (IOException e) when (e.HResult is EWouldBlock or unchecked((int)SharingViolation))
        {
            throw new MetadataException($"metadata store {path}: the file is locked: another process (or another store in this one) has it open", e);
        }
        catch (IOException e) when (e.HResult == EReadOnlyFileSystem)
        {
            throw new MetadataException($"metadata store {path}: cannot open it for writing: its file system is read-only ({e.Message})", e);
        }
        catch (IOException e) when (e.HResult == ENoSpace)
        {
            throw new MetadataException($"metadata store {path}: cannot create it: the disk is full ({e.Message})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MetadataException($"metadata store {path}: cannot open it for writing: permission denied, or the file, its directory or its file system is read-only ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw new MetadataException($"metadata store {path}: cannot open it for writing: {e.Message}", e);
        }
    }

    private static SqliteConnection OpenConnection(string path, SqliteOpenMode mode)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = mode,
            // Dispose must really close, so the last close checkpoints and the flock outlives every SQLite lock.
            Pooling = false,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void SetBusyTimeout(SqliteConnection connection, int milliseconds)
    {
        int rc = raw.sqlite3_busy_timeout(connection.Handle!, milliseconds);
        if (rc != raw.SQLITE_OK)
            throw new MetadataException($"metadata store {connection.DataSource}: cannot set the busy timeout (SQLite code {rc})");
    }

    private static long NewApplianceId()
    {
        Span<byte> bytes = stackalloc byte[8];
        long id;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            id = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        }
        while (id == 0);
        return id;
    }

    private static MetadataException MissingMeta(string path, string key) =>
        new($"metadata store {path}: the file is damaged: its meta table has no '{key}' row");

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
