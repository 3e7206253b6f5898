using SQLitePCL;

namespace StorageAppliance.Metadata;

/// <summary>
/// One statement compiled once and kept for the life of its connection (SQLITE_PREPARE_PERSISTENT), bound and
/// stepped through SQLitePCL's raw API: no SQL parsing, data reader or boxed parameter per call, which is what
/// SqliteCommand would cost on the hot paths. Used by one thread at a time, like its connection.
/// </summary>
internal sealed class SqliteStatement : IDisposable
{
    private const uint PreparePersistent = 0x01;

    private readonly sqlite3 _db;
    private readonly string _path;
    private readonly string _action;
    private readonly sqlite3_stmt _stmt;

    /// <param name="action">What the statement does, for error messages ("write a vDisk map row").</param>
    public SqliteStatement(sqlite3 db, string path, string sql, string action)
    {
        _db = db;
        _path = path;
        _action = action;
        int rc = raw.sqlite3_prepare_v3(db, sql, PreparePersistent, out _stmt);
        if (rc != raw.SQLITE_OK)
            throw SqliteErrors.From(path, "prepare to " + action, db, rc);
    }

    public void Bind(int index, long value) => CheckBind(raw.sqlite3_bind_int64(_stmt, index, value));

    public void Bind(int index, ReadOnlySpan<char> text) => CheckBind(raw.sqlite3_bind_text16(_stmt, index, text));

    public void BindBlob(int index, ReadOnlySpan<byte> blob) =>
        // An empty span would bind SQL NULL; an empty value is a zero-length blob.
        CheckBind(blob.IsEmpty ? raw.sqlite3_bind_zeroblob(_stmt, index, 0) : raw.sqlite3_bind_blob(_stmt, index, blob));

    public void BindNull(int index) => CheckBind(raw.sqlite3_bind_null(_stmt, index));

    public bool IsNull(int column) => raw.sqlite3_column_type(_stmt, column) == raw.SQLITE_NULL;

    /// <summary>Steps once: true with a row to read, false when done. The caller resets.</summary>
    public bool Step()
    {
        int rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_ROW)
            return true;
        if (rc == raw.SQLITE_DONE)
            return false;
        throw SqliteErrors.From(_path, _action, _db, rc);
    }

    /// <summary>Runs a statement that returns no rows, and resets it.</summary>
    public void Run()
    {
        try
        {
            Step();
        }
        finally
        {
            Reset();
        }
    }

    /// <summary>Readies the statement for the next use and ends its implicit read transaction.</summary>
    public void Reset() => raw.sqlite3_reset(_stmt); // its code repeats the failed step's, already reported

    public long Int64(int column) => raw.sqlite3_column_int64(_stmt, column);

    public int Int32(int column) => raw.sqlite3_column_int(_stmt, column);

    public string Text(int column) => raw.sqlite3_column_text(_stmt, column).utf8_to_string() ?? "";

    public byte[] Blob(int column) => raw.sqlite3_column_blob(_stmt, column).ToArray();

    public void Dispose() => _stmt.Dispose();

    private void CheckBind(int rc)
    {
        if (rc != raw.SQLITE_OK)
            throw SqliteErrors.From(_path, "bind a parameter to " + _action, _db, rc);
    }
}
