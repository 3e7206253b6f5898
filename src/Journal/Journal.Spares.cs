using System.Buffers.Binary;

namespace StorageAppliance.Journal;

// Spare segment files. An fdatasync after writes that extend a file, or that fill blocks never written,
// also commits the file system's metadata (the size, the block allocation) and costs about twice an
// fdatasync of overwritten blocks (measured here: 2.7k against 5.5k fdatasync'd 4 KiB writes per second on
// ext4). So drained segments are kept as spares and written again, and when the journal is busy (it has
// rolled over and has no spare) one spare is zero-filled ahead of time. A recycled file still holds old
// records after its new header: they are bound to the old segment's nonce, so replay stops at the first of
// them. Spares are "*.spare" files, which replay never reads.
public sealed partial class Journal
{
    /// <summary>Spare segment files kept at most (each about a segment in size).</summary>
    private const int MaxSpares = 2;

    private readonly List<string> _spares = new();
    private Task _preparing = Task.CompletedTask;
    private volatile bool _disposing;

    /// <summary>Spare segment files ready to be written again.</summary>
    public int SpareCount
    {
        get
        {
            lock (_spares)
                return _spares.Count;
        }
    }

    /// <summary>Picks up the spares a previous run left.</summary>
    private void OpenSpares()
    {
        foreach (var name in _fs.List(_options.Directory, "*.spare"))
        {
            string path = Path.Combine(_options.Directory, name);
            lock (_spares)
            {
                if (_spares.Count < MaxSpares)
                {
                    _spares.Add(path);
                    continue;
                }
            }
            DeleteQuietly(path);
        }
    }

    /// <summary>A drained segment becomes a spare when there is room for one and it is nearly full size; else it is deleted.</summary>
    private void Retire(Segment segment)
    {
        long length = segment.File.Length;
        segment.File.Dispose();
        bool keep;
        lock (_spares)
            keep = _spares.Count < MaxSpares && length >= _options.SegmentSize * 3 / 4;
        if (keep)
        {
            string spare = Path.Combine(_options.Directory, $"spare-{Guid.NewGuid():N}.spare");
            try
            {
                _fs.Rename(segment.Path, spare);
                lock (_spares)
                    _spares.Add(spare);
                return;
            }
            catch (IOException e)
            {
                JournalLog.TrimFailed(_log, segment.Path, e.Message);
            }
        }
        DeleteQuietly(segment.Path);
    }

    /// <summary>
    /// Opens a spare as the segment at <paramref name="path"/>: the new header (new nonce) is made durable
    /// while the file still has its spare name, then the file is renamed, so a crash leaves either a spare
    /// or a segment whose old records replay can never take for new ones. Null when there is no spare.
    /// </summary>
    private Common.Devices.IStorageFile? TakeSpare(string path, ReadOnlySpan<byte> header)
    {
        string? spare;
        lock (_spares)
        {
            spare = _spares.Count > 0 ? _spares[^1] : null;
            if (spare is not null)
                _spares.RemoveAt(_spares.Count - 1);
        }
        if (spare is null)
            return null;
        Common.Devices.IStorageFile? file = null;
        try
        {
            file = _fs.Open(spare, create: false);
            file.Write(header, 0);
            file.Flush();
            file.Dispose();
            file = null;
            _fs.Rename(spare, path);
            return _fs.Open(path, create: false);
        }
        catch (IOException e)
        {
            file?.Dispose();
            JournalLog.TrimFailed(_log, spare, e.Message);
            DeleteQuietly(spare);
            return null;
        }
    }

    /// <summary>After a rollover with no spare left: zero-fills one in the background for the next rollover.</summary>
    private void PrepareSpareIfBusy()
    {
        lock (_spares)
        {
            if (_spares.Count > 0 || !_preparing.IsCompleted || _disposing)
                return;
            _preparing = Task.Factory.StartNew(PrepareSpare, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private void PrepareSpare()
    {
        string path = Path.Combine(_options.Directory, $"spare-{Guid.NewGuid():N}.spare");
        var zeros = new byte[1 << 20];
        try
        {
            using (var file = _fs.Open(path, create: true))
            {
                for (long done = 0; done < _options.SegmentSize && !_disposing; done += zeros.Length)
                    file.Write(zeros.AsSpan(0, (int)Math.Min(zeros.Length, _options.SegmentSize - done)), done);
                if (_disposing)
                {
                    file.Dispose();
                    DeleteQuietly(path);
                    return;
                }
                file.Flush();
            }
            _fs.SyncDirectory(_options.Directory);
            lock (_spares)
            {
                if (_spares.Count < MaxSpares)
                {
                    _spares.Add(path);
                    return;
                }
            }
            // Drained segments became spares meanwhile: this one is not needed.
            DeleteQuietly(path);
        }
        catch (IOException e)
        {
            JournalLog.TrimFailed(_log, path, e.Message);
            DeleteQuietly(path);
        }
    }

    private void DeleteQuietly(string path)
    {
        try
        {
            _fs.Delete(path);
        }
        catch (IOException e)
        {
            JournalLog.TrimFailed(_log, path, e.Message);
        }
    }

    private void StopPreparing()
    {
        _disposing = true;
        try
        {
            _preparing.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }
    }
}
