using Microsoft.Extensions.Logging;
using StorageAppliance.Common.Devices;

namespace StorageAppliance.VDisk;

/// <summary>
/// Capacity as the file systems see it. The journal, the extent groups and the metadata share one file system by
/// default, and the pool's capacity ("auto" = what was free at start) knows nothing of the other two: without this
/// the journal met ENOSPC before the pool counted itself full. A data write is admitted only while the real free
/// space (statvfs, through <see cref="IStorageFileSystem.FreeSpace"/>), less what undrained journal data will still
/// take in extent groups, less the write itself twice (its journal record now, its extent later), stays above a
/// reserve. The reserve is the room the drainer, the metadata commits and WAL checkpoints, and unmaps (which free
/// space) still need when the pool counts itself full. Refused writes answer as out of space
/// (DATA PROTECT 27h/07h, NFS3ERR_NOSPC); once room returns (space freed by someone else, or by unmaps that drained),
/// writes are admitted again, with no restart.
/// </summary>
internal sealed class SpaceGuard
{
    /// <summary>How long a sample of the free space is used before statvfs is asked again.</summary>
    private const long SampleMilliseconds = 100;

    private readonly IStorageFileSystem _fs;
    private readonly string[] _paths;
    private readonly long _reserve;
    private readonly Func<long> _undrainedBytes;
    private readonly ILogger _log;
    private readonly object _sampleLock = new();
    private long _free = long.MaxValue;
    private string _tightest = "";
    private long _sampledAt = long.MinValue / 2; // "long ago", with room to subtract from
    private long _admittedSinceSample;
    private int _full;

    public SpaceGuard(IStorageFileSystem fs, IEnumerable<string> paths, long reserve, Func<long> undrainedBytes, ILogger log)
    {
        _fs = fs;
        _paths = paths.Distinct(StringComparer.Ordinal).ToArray();
        _reserve = reserve;
        _undrainedBytes = undrainedBytes;
        _log = log;
    }

    public long ReserveBytes => _reserve;

    /// <summary>True while writes are refused for want of room (the appliance is read-only until space returns).</summary>
    public bool IsFull
    {
        get
        {
            Refresh(SampleMilliseconds);
            return Volatile.Read(ref _full) != 0;
        }
    }

    /// <summary>Free bytes at the last sample on the fullest of the engine's file systems.</summary>
    public long FreeBytes
    {
        get
        {
            Refresh(SampleMilliseconds);
            return Interlocked.Read(ref _free);
        }
    }

    /// <summary>Whether a data write of <paramref name="bytes"/> fits; counts it against the current sample if so.</summary>
    public bool TryAdmit(long bytes)
    {
        Refresh(SampleMilliseconds);
        long free = Interlocked.Read(ref _free);
        if (free == long.MaxValue)
            return true; // no path could be sampled (a file system without statvfs): nothing to go by
        long room = free - Interlocked.Read(ref _admittedSinceSample) - _undrainedBytes() - 2 * bytes;
        if (room < _reserve)
        {
            // A sample taken before the last frees may be stale: look again before refusing.
            if (Refresh(10))
                return TryAdmit(bytes);
            SetFull(true, free);
            return false;
        }
        Interlocked.Add(ref _admittedSinceSample, bytes);
        return true;
    }

    /// <summary>Samples the free space now (at start, and when a test wants the state at once).</summary>
    public void Sample()
    {
        Refresh(0);
        long free = Interlocked.Read(ref _free);
        if (free != long.MaxValue)
            SetFull(free - _undrainedBytes() < _reserve, free);
    }

    /// <summary>Takes a new sample unless the last is younger than <paramref name="maxAgeMilliseconds"/>; true if it did.</summary>
    private bool Refresh(long maxAgeMilliseconds)
    {
        long now = Environment.TickCount64;
        if (maxAgeMilliseconds > 0 && now - Volatile.Read(ref _sampledAt) < maxAgeMilliseconds)
            return false;
        lock (_sampleLock)
        {
            if (maxAgeMilliseconds > 0 && now - _sampledAt < maxAgeMilliseconds)
                return false;
            long min = long.MaxValue;
            string tightest = "";
            foreach (var p in _paths)
            {
                try
                {
                    long f = _fs.FreeSpace(p);
                    if (f < min)
                    {
                        min = f;
                        tightest = p;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    // A path that cannot be asked does not decide; the others still do.
                }
            }
            Interlocked.Exchange(ref _free, min);
            Interlocked.Exchange(ref _admittedSinceSample, 0);
            _tightest = tightest;
            Volatile.Write(ref _sampledAt, now);
        }
        // Leaving the full state needs room for more than one write; the next refused write sets it again.
        if (Volatile.Read(ref _full) != 0 && Interlocked.Read(ref _free) != long.MaxValue
            && Interlocked.Read(ref _free) - _undrainedBytes() >= _reserve + (1L << 20))
            SetFull(false, Interlocked.Read(ref _free));
        return true;
    }

    private void SetFull(bool full, long free)
    {
        if (Interlocked.Exchange(ref _full, full ? 1 : 0) == (full ? 1 : 0))
            return;
        if (full)
            EngineLog.SpaceFull(_log, _tightest, free, _reserve);
        else
            EngineLog.SpaceReturned(_log, _tightest, free);
    }
}
