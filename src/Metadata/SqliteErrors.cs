using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace StorageAppliance.Metadata;

/// <summary>Turns SQLite result codes into <see cref="MetadataException"/>s that name the file and say why in words.</summary>
internal static class SqliteErrors
{
    // Primary result codes (https://sqlite.org/rescode.html); extended codes carry them in the low byte.
    public const int Perm = 3;
    public const int Busy = 5;
    public const int Locked = 6;
    public const int NoMem = 7;
    public const int ReadOnly = 8;
    public const int IoErr = 10;
    public const int Corrupt = 11;
    public const int Full = 13;
    public const int CantOpen = 14;
    public const int Constraint = 19;
    public const int NotADb = 26;

    public static string Reason(int code) => (code & 0xFF) switch
    {
        Perm => "permission denied",
        Busy or Locked => "the database is locked by another process or connection",
        NoMem => "out of memory",
        ReadOnly => "the file, its directory or its file system is read-only",
        IoErr => "an I/O error on the disk",
        Corrupt => "the file is corrupt",
        Full => "the disk is full",
        CantOpen => "the file cannot be opened (missing directory, no permission, or the -wal/-shm files cannot be created)",
        Constraint => "a constraint of the schema failed",
        NotADb => "the file is not a SQLite database, or its header is damaged",
        _ => "SQLite reported an error",
    };

    public static MetadataException Failure(string path, string action, int code, int extendedCode, string sqliteMessage) =>
        new($"metadata store {path}: {action} failed: {Reason(code)} (SQLite: {sqliteMessage}; code {extendedCode})",
            new SqliteException(sqliteMessage, code & 0xFF, extendedCode));

    public static MetadataException From(string path, string action, sqlite3 db, int rc) =>
        Failure(path, action, rc, raw.sqlite3_extended_errcode(db), raw.sqlite3_errmsg(db).utf8_to_string() ?? "no message");

    public static MetadataException From(string path, string action, SqliteException e) =>
        new($"metadata store {path}: {action} failed: {Reason(e.SqliteErrorCode)} (SQLite: {e.Message})", e);

    /// <summary>
    /// After an I/O error (a failed fsync above all) or corruption, what the disk holds is unknown: the page cache
    /// may say a write succeeded that never reaches the platter. Commits stop until the store is reopened.
    /// </summary>
    public static bool StopsWrites(MetadataException e) =>
        e.InnerException is SqliteException s && (s.SqliteErrorCode & 0xFF) is IoErr or Corrupt or NotADb;
}
