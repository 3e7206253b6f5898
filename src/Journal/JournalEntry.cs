using System.Buffers;

namespace StorageAppliance.Journal;

/// <summary>
/// One journaled change, kept in memory until the drainer has applied it to the extent store: it is
/// the write buffer reads overlay (newest data first) and the unit of the future CDP history and
/// replication stream. Pooled; the data lives in a pooled buffer.
/// </summary>
public sealed class JournalEntry
{
    private byte[]? _buffer;

    public long Sequence { get; internal set; }

    public long TimestampMs { get; internal set; }

    public long VDiskId { get; internal set; }

    public long Offset { get; internal set; }

    public long Length { get; internal set; }

    public JournalRecordType Type { get; internal set; }

    /// <summary>The written bytes (empty for Unmap). The buffer holds the whole on-disk record; the data follows its header.</summary>
    public ReadOnlySpan<byte> Data => _buffer is null || Type != JournalRecordType.Write ? default : _buffer.AsSpan(JournalRecord.HeaderSize, (int)Length);

    public ReadOnlyMemory<byte> DataMemory => _buffer is null || Type != JournalRecordType.Write ? default : _buffer.AsMemory(JournalRecord.HeaderSize, (int)Length);

    public long End => Offset + Length;

    /// <summary>Came from the journal on disk at start-up (its drain may have been interrupted by a crash).</summary>
    public bool Recovered { get; internal set; }

    private int _references;

    /// <summary>One more index (a vDisk block) holds this entry.</summary>
    public void AddReference() => Interlocked.Increment(ref _references);

    /// <summary>An index let go of it; true when nothing holds it any more (it can be released).</summary>
    public bool RemoveReference() => Interlocked.Decrement(ref _references) == 0;

    /// <summary>
    /// Journal buffers have their own pool: thousands can be outstanding between a write and its drain,
    /// far more than the shared pool keeps, and every miss there would be a fresh allocation for the GC.
    /// </summary>
    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(64 << 20, 8192);

    internal Span<byte> RentData(int length)
    {
        _buffer = Pool.Rent(Math.Max(length, 1));
        return _buffer.AsSpan(0, length);
    }

    internal void Reset()
    {
        if (_buffer is not null)
        {
            Pool.Return(_buffer);
            _buffer = null;
        }
        Sequence = 0;
        VDiskId = 0;
        Offset = 0;
        Length = 0;
        Recovered = false;
        _references = 0;
    }

    public override string ToString() => $"#{Sequence} {Type} vdisk {VDiskId:x} [{Offset}, {End})";
}
