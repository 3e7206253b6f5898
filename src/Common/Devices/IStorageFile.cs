namespace StorageAppliance.Common.Devices;

/// <summary>
/// A file on one of the pool's disks as the storage engine sees it (FASTER-style narrow device interface).
/// Every persistent write of the journal and the extent store goes through it, so tests can swap in a
/// device that loses unsynced writes on a simulated power cut or fails with EIO on command.
/// </summary>
/// <remarks>Calls are synchronous (page-cache I/O) and thread-safe for distinct ranges. Failures throw IOException.</remarks>
public interface IStorageFile : IDisposable
{
    string Path { get; }

    long Length { get; }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes; fewer only at the end of the file.</summary>
    int Read(Span<byte> buffer, long offset);

    void Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>Writes the buffers back to back starting at <paramref name="offset"/> (one gathered write).</summary>
    void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset);

    /// <summary>Makes every completed write durable (fdatasync).</summary>
    void Flush();

    void SetLength(long length);

    /// <summary>Releases a range; it reads back as zeros.</summary>
    void PunchHole(long offset, long length);
}

/// <summary>Opens and manages <see cref="IStorageFile"/>s on a disk.</summary>
public interface IStorageFileSystem
{
    IStorageFile Open(string path, bool create);

    bool Exists(string path);

    void Delete(string path);

    /// <summary>Renames a file, replacing any file of the new name (rename(2)); durable after <see cref="SyncDirectory"/>.</summary>
    void Rename(string from, string to);

    /// <summary>File names (not paths) in a directory matching a pattern such as "*.log", sorted ordinally.</summary>
    IReadOnlyList<string> List(string directory, string pattern);

    void CreateDirectory(string path);

    /// <summary>Makes creations, renames and deletions in a directory durable (fsync of the directory).</summary>
    void SyncDirectory(string path);

    /// <summary>Bytes free on the file system holding <paramref name="path"/>.</summary>
    long FreeSpace(string path);
}
