namespace StorageAppliance.Common.Devices;

/// <summary>Which operation a fault applies to.</summary>
[Flags]
public enum FaultOperation
{
    Read = 1,
    Write = 2,
    Flush = 4,
    All = Read | Write | Flush,
}

/// <summary>
/// Wraps a file system and fails chosen operations with EIO (FASTER-style fault-injecting device): on
/// files whose path contains a marker, permanently or for a number of calls, or at a random rate.
/// Used to show that a failing disk fails only the requests that touch it. With ENOSPC as the error and
/// <see cref="FreeSpaceOverride"/> it plays a full file system that gets room back on <see cref="Heal"/>.
/// </summary>
public sealed class FaultInjectingFileSystem(IStorageFileSystem inner) : IStorageFileSystem
{
    private readonly object _lock = new();
    private readonly List<Fault> _faults = new();
    private readonly Random _random = new(7);

    private sealed class Fault
    {
        public required string PathContains;
        public required FaultOperation Operations;
        public int RemainingCalls = int.MaxValue;
        public double Rate = 1.0;
        public int Errno = NativeFile.EIO;
    }

    /// <summary>
    /// Fails <paramref name="operations"/> on matching files: for <paramref name="calls"/> calls (default: for ever), at
    /// <paramref name="rate"/>, with <paramref name="errno"/> (EIO, or ENOSPC for a full file system).
    /// </summary>
    public void Fail(string pathContains, FaultOperation operations, int calls = int.MaxValue, double rate = 1.0, int errno = NativeFile.EIO)
    {
        lock (_lock)
            _faults.Add(new Fault { PathContains = pathContains, Operations = operations, RemainingCalls = calls, Rate = rate, Errno = errno });
    }

    /// <summary>What <see cref="FreeSpace"/> reports instead of the real figure; null: the real one.</summary>
    public long? FreeSpaceOverride { get; set; }

    /// <summary>Clears every fault and the free space override.</summary>
    public void Heal()
    {
        lock (_lock)
            _faults.Clear();
        FreeSpaceOverride = null;
    }

    public long InjectedFailures { get; private set; }

    /// <param name="needsSpace">False for a call that takes no room (a truncation): ENOSPC faults leave it alone.</param>
    private void Check(string path, FaultOperation op, bool needsSpace = true)
    {
        lock (_lock)
        {
            foreach (var f in _faults)
            {
                if ((f.Operations & op) == 0 || f.RemainingCalls <= 0 || !path.Contains(f.PathContains, StringComparison.Ordinal))
                    continue;
                if (!needsSpace && f.Errno == NativeFile.ENOSPC)
                    continue;
                if (f.Rate < 1.0 && _random.NextDouble() >= f.Rate)
                    continue;
                f.RemainingCalls--;
                InjectedFailures++;
                throw new IOException(f.Errno == NativeFile.ENOSPC ? $"injected: no space left on device ({op}) on {path}" : $"injected I/O error ({op}) on {path}", f.Errno);
            }
        }
    }

    public IStorageFile Open(string path, bool create)
    {
        // Creating a file on a full file system fails like a write would.
        if (create && !inner.Exists(path))
            Check(path, FaultOperation.Write);
        return new FaultyFile(this, inner.Open(path, create));
    }

    public bool Exists(string path) => inner.Exists(path);

    public void Delete(string path) => inner.Delete(path);

    public void Rename(string from, string to)
    {
        Check(from, FaultOperation.Write);
        inner.Rename(from, to);
    }

    public IReadOnlyList<string> List(string directory, string pattern) => inner.List(directory, pattern);

    public void CreateDirectory(string path) => inner.CreateDirectory(path);

    public void SyncDirectory(string path) => inner.SyncDirectory(path);

    public long FreeSpace(string path) => FreeSpaceOverride ?? inner.FreeSpace(path);

    private sealed class FaultyFile(FaultInjectingFileSystem fs, IStorageFile inner) : IStorageFile
    {
        public string Path => inner.Path;

        public long Length => inner.Length;

        public int Read(Span<byte> buffer, long offset)
        {
            fs.Check(Path, FaultOperation.Read);
            return inner.Read(buffer, offset);
        }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            fs.Check(Path, FaultOperation.Write);
            inner.Write(data, offset);
        }

        public void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset)
        {
            fs.Check(Path, FaultOperation.Write);
            inner.Write(buffers, offset);
        }

        public void Flush()
        {
            fs.Check(Path, FaultOperation.Flush);
            inner.Flush();
        }

        public void SetLength(long length)
        {
            fs.Check(Path, FaultOperation.Write, needsSpace: length > inner.Length);
            inner.SetLength(length);
        }

        public void PunchHole(long offset, long length)
        {
            fs.Check(Path, FaultOperation.Write);
            inner.PunchHole(offset, length);
        }

        public void Dispose() => inner.Dispose();
    }
}
