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
}
