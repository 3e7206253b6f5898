using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using StorageAppliance.Common.Devices;

namespace StorageAppliance.Journal;

/// <summary>
/// The write journal (DESIGN.md "the journal is one mechanism with three uses"): every write is appended
/// here, sequence-numbered and time-stamped, before it is acknowledged. Appends are serialised under one
/// lock so records sit in sequence order with no holes; durability is a group commit (one fdatasync covers
/// every record appended before it started). Segments are files of about <see cref="JournalOptions.SegmentSize"/>
/// bytes; a segment is deleted once every record in it has been drained into the extent store.
/// </summary>
public sealed partial class Journal : IDisposable
{
    private const uint SegmentMagic = 0x4745534A; // "JSEG"
    private const int SegmentHeaderSize = 64;

    private readonly IStorageFileSystem _fs;
    private readonly JournalOptions _options;
    private readonly ILogger _log;
    private readonly object _appendLock = new();
    private readonly List<Segment> _segments = new();
    private readonly Stack<JournalEntry> _entryPool = new();
    private Segment? _current;
    private long _lastSequence;
    private long _durableSequence;
    private long _pendingBytes;
    private string? _failure;
    private Timer? _flushTimer;

    private sealed class Segment(long firstSequence, string path, IStorageFile file, uint nonce)
    {
        public long FirstSequence { get; } = firstSequence;
        public uint Nonce { get; } = nonce;
        public long LastSequence { get; set; } = firstSequence - 1;
        public string Path { get; } = path;
        public IStorageFile File { get; } = file;
        public long Tail { get; set; } = SegmentHeaderSize;
    }

    public Journal(IStorageFileSystem fs, JournalOptions options, ILogger log)
    {
        _fs = fs;
        _options = options;
        _log = log;
    }

    /// <summary>Sequence number of the last appended record.</summary>
    public long LastSequence => Volatile.Read(ref _lastSequence);

    /// <summary>Every record up to this sequence number is durable.</summary>
    public long DurableSequence => Volatile.Read(ref _durableSequence);

    /// <summary>Bytes of journal data held in memory, not yet drained.</summary>
    public long PendingBytes => Volatile.Read(ref _pendingBytes);

    public bool OverMemoryLimit => PendingBytes > _options.MemoryLimitBytes;

    public int SegmentCount
    {
        get
        {
            lock (_appendLock)
                return _segments.Count;
        }
    }

    /// <summary>Null while healthy; the reason once the journal stopped taking writes.</summary>
    public string? Failure => Volatile.Read(ref _failure);

    /// <summary>
    /// Replays the journal: returns, in sequence order, every intact record newer than
    /// <paramref name="drainedSequence"/>. A segment's replay stops at its first torn or damaged record
    /// (what was not fully written before a crash was never acknowledged as durable).
    /// </summary>
    public IReadOnlyList<JournalEntry> Open(long drainedSequence)
    {
        _fs.CreateDirectory(_options.Directory);
        var names = _fs.List(_options.Directory, "*.jnl");
        var recovered = new List<JournalEntry>();
        long last = drainedSequence;
        Span<byte> header = stackalloc byte[JournalRecord.HeaderSize];
        foreach (var name in names)
        {
            string path = Path.Combine(_options.Directory, name);
            var file = _fs.Open(path, create: false);
            long first = ReadSegmentHeader(file, out uint nonce);
            if (first < 0)
            {
                JournalLog.SegmentHeaderDamaged(_log, path);
                file.Dispose();
                continue;
            }
            var segment = new Segment(first, path, file, nonce);
            long pos = SegmentHeaderSize;
            long length = file.Length;
            while (pos + JournalRecord.HeaderSize <= length)
            {
                if (file.Read(header, pos) < JournalRecord.HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(header) != JournalRecord.Magic)
                    break;
                long payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(header[52..]);
                long size = JournalRecord.Size((int)Math.Min(payloadLength, int.MaxValue - 64));
                if (pos + size > length)
                    break;
                var entry = RentEntry();
                var record = entry.RentData((int)size);
                file.Read(record, pos);
                if (!JournalRecord.TryRead(record, nonce, out var h, out _) || (last > 0 && h.Sequence != last + 1 && h.Sequence > drainedSequence))
                {
                    ReturnEntry(entry);
                    break;
                }
                pos += size;
                segment.LastSequence = h.Sequence;
                last = Math.Max(last, h.Sequence);
                if (h.Sequence <= drainedSequence)
                {
                    ReturnEntry(entry);
                    continue;
                }
                Fill(entry, h);
                entry.Recovered = true;
                Interlocked.Add(ref _pendingBytes, size);
                recovered.Add(entry);
            }
            segment.Tail = pos;
            _segments.Add(segment);
        }
        _lastSequence = last;
        _durableSequence = last;

        // New records go to a new segment: the tail of the last one may be torn. On a full file system the
        // journal still opens (reads, and the drain of what it holds, need no new segment); the first append
        // that finds room starts it.
        try
        {
            StartSegment(last + 1);
        }
        catch (IOException e) when (NativeFile.IsNoSpace(e))
        {
            JournalLog.NoRoom(_log, _options.Directory, e.Message);
        }
        Trim(drainedSequence);
        if (_options.BackgroundFlushInterval > TimeSpan.Zero)
            _flushTimer = new Timer(_ => BackgroundFlush(), null, _options.BackgroundFlushInterval, _options.BackgroundFlushInterval);
        JournalLog.Opened(_log, _options.Directory, _segments.Count, recovered.Count, drainedSequence, last);
        return recovered;
    }

    /// <summary>
    /// Reads back, in order, the intact records with sequence numbers in (<paramref name="after"/>,
    /// <paramref name="upTo"/>] from the segments on disk (to apply them again after a failed checkpoint).
    /// </summary>
    public IReadOnlyList<JournalEntry> ReadBack(long after, long upTo)
    {
        List<Segment> segments;
        lock (_appendLock)
            segments = _segments.Where(s => s.LastSequence > after && s.FirstSequence <= upTo).ToList();
        var result = new List<JournalEntry>();
        Span<byte> header = stackalloc byte[JournalRecord.HeaderSize];
        foreach (var segment in segments)
        {
            long pos = SegmentHeaderSize;
            long length = segment.Tail;
            while (pos + JournalRecord.HeaderSize <= length)
            {
                if (segment.File.Read(header, pos) < JournalRecord.HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(header) != JournalRecord.Magic)
                    break;
                int size = JournalRecord.Size((int)BinaryPrimitives.ReadUInt32LittleEndian(header[52..]));
                long seq = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
                if (seq <= after || seq > upTo)
                {
                    pos += size;
                    continue;
                }
                var entry = RentEntry();
                var record = entry.RentData(size);
                segment.File.Read(record, pos);
                if (!JournalRecord.TryRead(record, segment.Nonce, out var h, out _))
                {
                    ReturnEntry(entry);
                    break;
                }
                Fill(entry, h);
                entry.Recovered = true;
                Interlocked.Add(ref _pendingBytes, size);
                result.Add(entry);
                pos += size;
            }
        }
        return result;
    }

    /// <summary>Bytes of journal segments on disk (records not yet checkpointed, and the current segment).</summary>
    public long DiskBytes
    {
        get
        {
            lock (_appendLock)
                return _segments.Sum(s => s.Tail);
        }
    }

    /// <summary>
    /// Appends a write; the entry holds a copy of the data for reads until it is drained. <paramref name="index"/>
    /// receives the entry before the append is complete (see <see cref="IJournalIndex"/>).
    /// </summary>
    public JournalEntry AppendWrite(long vdiskId, long offset, ReadOnlySpan<byte> data, IJournalIndex? index = null) =>
        Append(vdiskId, offset, data.Length, JournalRecordType.Write, data, index);

    /// <summary>Appends an unmap of [offset, offset + length).</summary>
    public JournalEntry AppendUnmap(long vdiskId, long offset, long length, IJournalIndex? index = null) =>
        Append(vdiskId, offset, length, JournalRecordType.Unmap, default, index);

    private JournalEntry Append(long vdiskId, long offset, long length, JournalRecordType type, ReadOnlySpan<byte> data, IJournalIndex? index)
    {
        int size = JournalRecord.Size(data.Length);
        var entry = RentEntry();
        var record = entry.RentData(size);
        data.CopyTo(record[JournalRecord.HeaderSize..]);
        record[(JournalRecord.HeaderSize + data.Length)..].Clear();
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        lock (_appendLock)
        {
            if (_failure is not null)
            {
                ReturnEntry(entry);
                throw new JournalFailedException("the journal is not taking writes: " + _failure);
            }
            long seq = _lastSequence + 1;
            Segment segment;
            try
            {
                // No current segment: the file system was full when the journal opened (or at the last rollover).
                if (_current is null)
                    segment = StartSegment(seq);
                else if (_current.Tail + size > _options.SegmentSize && _current.Tail > SegmentHeaderSize)
                    segment = Rollover(seq);
                else
                    segment = _current;
            }
            catch (IOException e) when (NativeFile.IsNoSpace(e))
            {
                ReturnEntry(entry);
                throw NoRoom(e);
            }
            var h = new JournalRecord.Header(seq, now, vdiskId, offset, length, type, 0, data.Length);
            JournalRecord.WriteHeader(record, h, record.Slice(JournalRecord.HeaderSize, data.Length), segment.Nonce);
            try
            {
                segment.File.Write(record, segment.Tail);
            }
            catch (IOException e) when (NativeFile.IsNoSpace(e) && CutBackTo(segment))
            {
                // A full file system is not a failing disk: the segment again ends at its last whole record, so the
                // journal takes the next write as soon as there is room, with no restart.
                ReturnEntry(entry);
                throw NoRoom(e);
            }
            catch (IOException e)
            {
                // The tail may now hold part of this record: nothing more may be appended after it in
                // this segment, or replay would stop there and lose what follows.
                ReturnEntry(entry);
                JournalLog.AppendFailed(_log, segment.Path, e.Message);
                TryStartFreshSegment(seq, e);
                throw new JournalFailedException($"journal write to {segment.Path} failed: {e.Message}", e);
            }
            segment.Tail += size;
            segment.LastSequence = seq;
            Fill(entry, h);
            // Indexed before the sequence number is published: whoever sees LastSequence >= seq (the
            // drainer choosing how far a round goes) also finds the entry where it looks for it.
            index?.Add(entry);
            Volatile.Write(ref _lastSequence, seq);
        }
        Interlocked.Add(ref _pendingBytes, size);
        return entry;
    }

    private JournalFullException NoRoom(IOException e)
    {
        long now = Environment.TickCount64;
        if (now - Volatile.Read(ref _lastNoRoomLog) > 10_000)
        {
            Volatile.Write(ref _lastNoRoomLog, now);
            JournalLog.NoRoom(_log, _options.Directory, e.Message);
        }
        return new JournalFullException($"the journal's file system is full ({_options.Directory}): {e.Message}", e);
    }

    private long _lastNoRoomLog = -20_000;

    /// <summary>
    /// After ENOSPC part of a record may lie past the segment's tail: truncating the file back to the tail removes it
    /// (truncation needs no room). False when even that fails; the caller then treats it as a failed disk.
    /// </summary>
    private static bool CutBackTo(Segment segment)
    {
        try
        {
            segment.File.SetLength(segment.Tail);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void Fill(JournalEntry entry, in JournalRecord.Header h)
    {
        entry.Sequence = h.Sequence;
        entry.TimestampMs = h.TimestampMs;
        entry.VDiskId = h.VDiskId;
        entry.Offset = h.Offset;
        entry.Length = h.Length;
        entry.Type = h.Type;
    }

    /// <summary>Completes with true once every record up to <paramref name="sequence"/> is durable; false if the journal disk failed.</summary>
    public ValueTask<bool> WaitDurableAsync(long sequence)
    {
        if (Volatile.Read(ref _durableSequence) >= sequence)
            return new ValueTask<bool>(true);
        if (_failure is not null)
            return new ValueTask<bool>(false);
        return new ValueTask<bool>(RequestSync());
    }

    /// <summary>The drained data of an entry is in the extent store: its memory goes back to the pool.</summary>
    public void Release(JournalEntry entry)
    {
        Interlocked.Add(ref _pendingBytes, -JournalRecord.Size(entry.Type == JournalRecordType.Write ? (int)entry.Length : 0));
        ReturnEntry(entry);
        if (!OverMemoryLimit)
            SignalMemory();
    }

    /// <summary>Deletes the segments whose every record is drained (never the one being written).</summary>
    public void Trim(long drainedSequence)
    {
        List<Segment> gone = new();
        lock (_appendLock)
        {
            for (int i = 0; i < _segments.Count; i++)
            {
                var s = _segments[i];
                if (ReferenceEquals(s, _current) || s.LastSequence > drainedSequence)
                    continue;
                gone.Add(s);
            }
            foreach (var s in gone)
                _segments.Remove(s);
        }
        if (gone.Count == 0)
            return;
        foreach (var s in gone)
        {
            s.File.Dispose();
            try
            {
                _fs.Delete(s.Path);
            }
            catch (IOException e)
            {
                JournalLog.TrimFailed(_log, s.Path, e.Message);
            }
        }
        try
        {
            _fs.SyncDirectory(_options.Directory);
        }
        catch (IOException)
        {
            // A deleted segment that reappears after a crash holds only drained records: replay skips them.
        }
    }

    private Segment Rollover(long nextSequence)
    {
        // Called under _appendLock. The old segment is made durable before the new one takes records,
        // so a flush of the current segment always covers every earlier record.
        var old = _current!;
        old.File.Flush();
        Volatile.Write(ref _durableSequence, Math.Max(_durableSequence, old.LastSequence));
        return StartSegment(nextSequence);
    }

    private Segment StartSegment(long firstSequence)
    {
        string path = Path.Combine(_options.Directory, $"seg-{firstSequence:D20}.jnl");
        // After a torn tail, or a clean stop that appended nothing since its start, the next sequence
        // number names a segment that already exists. That one is forgotten here and the file started
        // afresh: kept in the list, it would look fully drained, and Trim would delete the file the new
        // current segment writes to (its records then gone at the next crash).
        lock (_appendLock)
        {
            for (int i = _segments.Count - 1; i >= 0; i--)
            {
                if (_segments[i].Path == path)
                {
                    _segments[i].File.Dispose();
                    _segments.RemoveAt(i);
                }
            }
        }
        // After a torn tail the next sequence number can name a file that already exists: start it empty.
        var file = _fs.Open(path, create: true);
        uint nonce = 0;
        try
        {
            if (file.Length > 0)
                file.SetLength(0);
            nonce = WriteSegmentHeader(file, firstSequence);
            _fs.SyncDirectory(_options.Directory);
        }
        catch (IOException)
        {
            // No segment without a whole header (a full file system, most often): the file goes, and the
            // current segment, if any, stays current.
            file.Dispose();
            try
            {
                _fs.Delete(path);
            }
            catch (IOException)
            {
            }
            throw;
        }
        var segment = new Segment(firstSequence, path, file, nonce);
        lock (_appendLock)
        {
            _segments.Add(segment);
            _current = segment;
        }
        return segment;
    }

    private static uint WriteSegmentHeader(IStorageFile file, long firstSequence)
    {
        uint nonce = (uint)Random.Shared.Next() ^ (uint)Environment.TickCount;
        Span<byte> header = stackalloc byte[SegmentHeaderSize];
        header.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(header, SegmentMagic);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], firstSequence);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], nonce);
        BinaryPrimitives.WriteUInt32LittleEndian(header[60..], Common.Crc32C.Compute(header[..60]));
        file.Write(header, 0);
        file.Flush();
        return nonce;
    }

    private void TryStartFreshSegment(long nextSequence, IOException cause)
    {
        try
        {
            StartSegment(nextSequence);
        }
        catch (IOException e)
        {
            Fail($"cannot start a new segment after a write error ({cause.Message}): {e.Message}");
        }
    }

    private static long ReadSegmentHeader(IStorageFile file, out uint nonce)
    {
        nonce = 0;
        Span<byte> header = stackalloc byte[SegmentHeaderSize];
        if (file.Read(header, 0) < SegmentHeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(header) != SegmentMagic)
            return -1;
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[60..]) != Common.Crc32C.Compute(header[..60]))
            return -1;
        nonce = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
        return BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
    }

    private void Fail(string reason)
    {
        if (Interlocked.CompareExchange(ref _failure, reason, null) is null)
            JournalLog.Failed(_log, _options.Directory, reason);
        FailWaiters();
    }

    private JournalEntry RentEntry()
    {
        lock (_entryPool)
            if (_entryPool.TryPop(out var e))
                return e;
        return new JournalEntry();
    }

    private void ReturnEntry(JournalEntry e)
    {
        e.Reset();
        lock (_entryPool)
            if (_entryPool.Count < 4096)
                _entryPool.Push(e);
    }

    public void Dispose()
    {
        _flushTimer?.Dispose();
        lock (_appendLock)
        {
            try
            {
                if (_failure is null)
                    _current?.File.Flush();
            }
            catch (IOException)
            {
            }
            foreach (var s in _segments)
                s.File.Dispose();
            _segments.Clear();
        }
    }
}
