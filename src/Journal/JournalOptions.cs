namespace StorageAppliance.Journal;

/// <summary>Settings of the write journal.</summary>
public sealed class JournalOptions
{
    /// <summary>Folder of the journal's segment files, on an ssd-tier disk of the pool.</summary>
    public required string Directory { get; init; }

    /// <summary>A segment file is closed (made durable) and a new one started past this size.</summary>
    public long SegmentSize { get; init; } = 64L << 20;

    /// <summary>Undrained journal data held in memory; writes wait for the drainer above it.</summary>
    public long MemoryLimitBytes { get; init; } = 512L << 20;

    /// <summary>Records acknowledged without FUA (write cache on) become durable within this time anyway.</summary>
    public TimeSpan BackgroundFlushInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>The journal cannot take writes (its disk failed); the message says why.</summary>
public sealed class JournalFailedException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// The journal's file system is full (ENOSPC): this write was not appended, and the journal takes writes again
/// once there is room. Not a failed disk.
/// </summary>
public sealed class JournalFullException(string message, Exception? inner = null) : IOException(message, inner);
