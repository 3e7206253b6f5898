namespace StorageAppliance.Common.Devices;

/// <summary>Thrown by <see cref="PowerCutFileSystem"/> once its simulated power is off.</summary>
public sealed class SimulatedPowerCutException() : IOException("simulated power cut", NativeFile.EIO);

/// <summary>
/// An in-memory file system that loses what a real disk loses in a power cut: every write, size change
/// or hole not yet made durable by <see cref="IStorageFile.Flush"/>, and every file creation or deletion
/// not yet made durable by <see cref="SyncDirectory"/>. <see cref="CrashAfter"/> arms a cut after a number
/// of device operations; <see cref="PowerCycle"/> applies the loss and turns the power back on. With
/// <see cref="TornWrites"/>, each unsynced write instead survives whole, in part (by 512-byte sectors) or
/// not at all, as on disks with volatile write caches.
/// </summary>
/// <remarks>A test device written here: no obtainable library simulates power loss at this level.</remarks>
public sealed class PowerCutFileSystem : IStorageFileSystem
{
    private const int PageSize = 4096;
    private const int SectorSize = 512;

    private readonly object _lock = new();
    private Dictionary<string, MemFile> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MemFile> _durableNames = new(StringComparer.Ordinal);
    private long _operationsUntilCut = -1;
    private bool _powerOff;
    private Random _random = new(1);

    /// <summary>Unsynced writes survive at random (whole, per sector, or not) instead of all being dropped.</summary>
    public bool TornWrites { get; set; }

    public bool PowerIsOff
    {
        get
        {
            lock (_lock)
                return _powerOff;
        }
    }

    /// <summary>Device operations so far (reads excluded), to choose crash points.</summary>
    public long Operations
    {
        get
        {
            lock (_lock)
                return _operations;
        }
    }

    private long _operations;

    /// <summary>Cuts the power at the <paramref name="operations"/>-th next write, flush, create, delete or sync (which fails).</summary>
    public void CrashAfter(long operations, int seed = 1)
    {
        lock (_lock)
        {
            _operationsUntilCut = operations;
            _random = new Random(seed);
        }
    }

    public void CutPower()
    {
        lock (_lock)
            _powerOff = true;
    }

    /// <summary>Applies the loss of everything not durable (or a torn part of it) and turns the power on.</summary>
    public void PowerCycle()
    {
        lock (_lock)
        {
            _names = new Dictionary<string, MemFile>(_durableNames, StringComparer.Ordinal);
            foreach (var f in _names.Values.Distinct())
                f.LoseVolatile(TornWrites ? _random : null);
            _powerOff = false;
            _operationsUntilCut = -1;
        }
    }

    private void Tick()
    {
        if (_powerOff)
            throw new SimulatedPowerCutException();
        _operations++;
        if (_operationsUntilCut > 0 && --_operationsUntilCut == 0)
        {
            _powerOff = true;
            throw new SimulatedPowerCutException();
        }
    }

    public IStorageFile Open(string path, bool create)
    {
        lock (_lock)
        {
            if (_powerOff)
                throw new SimulatedPowerCutException();
            if (!_names.TryGetValue(path, out var f))
            {
                if (!create)
                    throw new FileNotFoundException("no such file", path);
                Tick();
                f = new MemFile();
                _names[path] = f;
            }
            return new Handle(this, path, f);
        }
    }

    public bool Exists(string path)
    {
        lock (_lock)
            return _names.ContainsKey(path);
    }

    public void Delete(string path)
    {
        lock (_lock)
        {
            Tick();
            _names.Remove(path);
        }
    }

    public void Rename(string from, string to)
    {
        lock (_lock)
        {
            Tick();
            if (!_names.Remove(from, out var f))
                throw new FileNotFoundException("no such file", from);
            _names[to] = f;
        }
    }

    public IReadOnlyList<string> List(string directory, string pattern)
    {
        lock (_lock)
        {
            string prefix = directory.TrimEnd('/') + "/";
            string suffix = pattern.StartsWith('*') ? pattern[1..] : pattern;
            var names = _names.Keys.Where(p => InDirectory(p, prefix) && p.EndsWith(suffix, StringComparison.Ordinal)).Select(p => p[prefix.Length..]).ToList();
            names.Sort(StringComparer.Ordinal);
            return names;
        }
    }

    public void CreateDirectory(string path)
    {
    }

    /// <summary>Makes the directory's entries durable: files created in it exist after a cut, deleted ones stay gone.</summary>
    public void SyncDirectory(string path)
    {
        lock (_lock)
        {
            Tick();
            string prefix = path.TrimEnd('/') + "/";
            foreach (var key in _durableNames.Keys.Where(k => InDirectory(k, prefix)).ToList())
                _durableNames.Remove(key);
            foreach (var (key, f) in _names)
                if (InDirectory(key, prefix))
                    _durableNames[key] = f;
        }
    }

    public long FreeSpace(string path) => long.MaxValue / 4;

    private static bool InDirectory(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.Ordinal) && path.IndexOf('/', prefix.Length) < 0;

    /// <summary>Flips the bits of one byte, durably (bit rot), for checksum tests.</summary>
    public void Corrupt(string path, long offset)
    {
        lock (_lock)
            _names[path].CorruptDurably(offset);
    }

    private sealed class Handle(PowerCutFileSystem fs, string path, MemFile file) : IStorageFile
    {
        public string Path => path;

        public long Length
        {
            get
            {
                lock (fs._lock)
                    return file.Length;
            }
        }

        public int Read(Span<byte> buffer, long offset)
        {
            lock (fs._lock)
            {
                if (fs._powerOff)
                    throw new SimulatedPowerCutException();
                return file.Read(buffer, offset);
            }
        }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            lock (fs._lock)
            {
                fs.Tick();
                file.Write(data, offset, record: true);
            }
        }

        public void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset)
        {
            lock (fs._lock)
            {
                fs.Tick();
                foreach (var b in buffers)
                {
                    file.Write(b.Span, offset, record: true);
                    offset += b.Length;
                }
            }
        }

        public void Flush()
        {
            lock (fs._lock)
            {
                fs.Tick();
                file.Flush();
            }
        }

        public void SetLength(long length)
        {
            lock (fs._lock)
            {
                fs.Tick();
                file.SetLength(length);
            }
        }

        public void PunchHole(long offset, long length)
        {
            lock (fs._lock)
            {
                fs.Tick();
                file.Zero(offset, length);
            }
        }

        public void Dispose()
        {
        }
    }

    /// <summary>A sparse file: durable pages, the pages changed since the last flush, and the unsynced writes in order.</summary>
    private sealed class MemFile
    {
        private readonly Dictionary<long, byte[]> _durable = new();
        private readonly Dictionary<long, byte[]> _dirty = new();
        private readonly List<(long Offset, byte[] Data)> _unsynced = new();
        private long _durableLength;

        public long Length { get; private set; }

        public int Read(Span<byte> buffer, long offset)
        {
            if (offset >= Length)
                return 0;
            int n = (int)Math.Min(buffer.Length, Length - offset);
            for (int done = 0; done < n;)
            {
                long pos = offset + done;
                long page = pos / PageSize;
                int inPage = (int)(pos % PageSize);
                int chunk = Math.Min(PageSize - inPage, n - done);
                if (_dirty.TryGetValue(page, out var p) || _durable.TryGetValue(page, out p))
                    p.AsSpan(inPage, chunk).CopyTo(buffer.Slice(done, chunk));
                else
                    buffer.Slice(done, chunk).Clear();
                done += chunk;
            }
            return n;
        }

        public void Write(ReadOnlySpan<byte> data, long offset, bool record)
        {
            Put(_dirty, data, offset, fromDurable: true);
            if (record)
                _unsynced.Add((offset, data.ToArray()));
            Length = Math.Max(Length, offset + data.Length);
        }

        public void Zero(long offset, long length)
        {
            long keep = Length;
            var zeros = new byte[Math.Min(length, 1 << 16)];
            for (long pos = offset; pos < offset + length; pos += zeros.Length)
                Write(zeros.AsSpan(0, (int)Math.Min(zeros.Length, offset + length - pos)), pos, record: true);
            Length = keep; // FALLOC_FL_KEEP_SIZE
        }

        public void SetLength(long length)
        {
            if (length < Length)
            {
                long keep = Length;
                Zero(length, keep - length);
            }
            Length = length;
        }

        public void Flush()
        {
            foreach (var (page, data) in _dirty)
                _durable[page] = data;
            _dirty.Clear();
            _unsynced.Clear();
            _durableLength = Length;
        }

        /// <summary>Power cut: unsynced changes vanish, or with <paramref name="torn"/> each survives whole, in part or not.</summary>
        public void LoseVolatile(Random? torn)
        {
            if (torn is not null)
            {
                foreach (var (offset, data) in _unsynced)
                {
                    int choice = torn.Next(3);
                    if (choice == 0)
                        continue;
                    int keep = choice == 1 ? data.Length : Math.Min(data.Length, torn.Next(0, data.Length / SectorSize + 1) * SectorSize);
                    if (keep > 0)
                    {
                        Put(_durable, data.AsSpan(0, keep), offset, fromDurable: false);
                        _durableLength = Math.Max(_durableLength, offset + keep);
                    }
                }
            }
            _dirty.Clear();
            _unsynced.Clear();
            Length = _durableLength;
        }

        public void CorruptDurably(long offset)
        {
            var b = new byte[1];
            Read(b, offset);
            b[0] ^= 0xFF;
            Put(_durable, b, offset, fromDurable: false);
            Put(_dirty, b, offset, fromDurable: false, onlyExisting: true);
        }

        private void Put(Dictionary<long, byte[]> pages, ReadOnlySpan<byte> data, long offset, bool fromDurable, bool onlyExisting = false)
        {
            for (int done = 0; done < data.Length;)
            {
                long pos = offset + done;
                long page = pos / PageSize;
                int inPage = (int)(pos % PageSize);
                int chunk = Math.Min(PageSize - inPage, data.Length - done);
                if (!pages.TryGetValue(page, out var p))
                {
                    if (onlyExisting)
                    {
                        done += chunk;
                        continue;
                    }
                    p = fromDurable && _durable.TryGetValue(page, out var d) ? (byte[])d.Clone() : new byte[PageSize];
                    pages[page] = p;
                }
                data.Slice(done, chunk).CopyTo(p.AsSpan(inPage));
                done += chunk;
            }
        }
    }
}
