namespace StorageAppliance.Director;

/// <summary>
/// The narrow interface every layer under the front ends speaks (STYLE.md 8): read, write, unmap and
/// flush of a byte range of one vDisk, each with the request's context. Data services stack as
/// implementations of this interface over one another without knowing each other.
/// </summary>
/// <remarks>
/// Offsets and lengths are in bytes; front ends check them against <see cref="CapacityBytes"/> and
/// their own block size before calling. Buffers belong to the caller and stay valid until the returned
/// task completes. Most calls complete synchronously, hence <see cref="ValueTask{TResult}"/>.
/// </remarks>
public interface IVDisk
{
    /// <summary>Unique, never-changing 64-bit id.</summary>
    long Id { get; }

    string Name { get; }

    /// <summary>Current size; it changes only through a resize.</summary>
    long CapacityBytes { get; }

    /// <summary>True when unmapped ranges are released and read back as zeros.</summary>
    bool SupportsUnmap { get; }

    /// <summary>Raised after the capacity changed (front ends report it, e.g. as a SCSI unit attention).</summary>
    event Action<IVDisk>? CapacityChanged;

    ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context);

    ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context);

    /// <summary>Releases a range; it reads back as zeros afterwards.</summary>
    ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context);

    /// <summary>Makes every write completed before this call durable.</summary>
    ValueTask<IoStatus> FlushAsync(IoContext context);

    /// <summary>
    /// Whether the bytes from <paramref name="offset"/> are allocated (hold data, possibly zeros) or deallocated
    /// (never written or unmapped: they read as zeros): the state at <paramref name="offset"/> and how far it
    /// goes, at most <paramref name="maxLength"/> and the capacity. The length may stop short of the real end
    /// of the run (an implementation bounds the work of one call); a caller asks again from there.
    /// </summary>
    /// <remarks>OutOfRange when <paramref name="offset"/> is not inside the vDisk or <paramref name="maxLength"/> is not positive.</remarks>
    ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context);

    /// <summary>
    /// Data reduction's fast path for EXTENDED COPY: makes whole blocks from <paramref name="offset"/> refer to the
    /// extents <paramref name="source"/> already stores for the range at <paramref name="sourceOffset"/>, instead of
    /// moving the data. Returns how many bytes from the start were done this way, durably (0: none; the caller
    /// copies the rest as data). The default does nothing.
    /// </summary>
    ValueTask<long> CopyByReferenceAsync(IVDisk source, long sourceOffset, long offset, long length, IoContext context) => new(0L);

    /// <summary>
    /// Data reduction's fast path for WRITE SAME: stores one block of <paramref name="pattern"/> repeated once and
    /// makes whole blocks from <paramref name="offset"/> refer to it. Returns the bytes done from the start, durably
    /// (0: none; the caller writes the rest). The default does nothing.
    /// </summary>
    ValueTask<long> WriteSameByReferenceAsync(long offset, long length, ReadOnlyMemory<byte> pattern, IoContext context) => new(0L);
}

/// <summary>
/// A run of bytes with one allocation state, from <see cref="IVDisk.GetAllocationAsync"/>: <see cref="Length"/>
/// bytes (positive when <see cref="Status"/> is Ok) that are all <see cref="Mapped"/> or all deallocated.
/// </summary>
public readonly record struct AllocationRun(IoStatus Status, long Length, bool Mapped)
{
    public static AllocationRun Failed(IoStatus status) => new(status, 0, false);
}
