using StorageAppliance.Common.Devices;

namespace StorageAppliance.Journal;

// Group commit and memory back-pressure.
public sealed partial class Journal
{
    private readonly object _syncLock = new();
    private TaskCompletionSource<bool> _nextSync = NewSource();
    private int _syncWaiters;
    private bool _syncRunning;
    private TaskCompletionSource? _memoryWaiter;
    private long _syncCount;

    /// <summary>fdatasync calls made for durability requests (group commit shares one among many writes).</summary>
    public long SyncCount => Interlocked.Read(ref _syncCount);

    private static TaskCompletionSource<bool> NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Task<bool> RequestSync()
    {
        lock (_syncLock)
        {
            _syncWaiters++;
            var task = _nextSync.Task;
            if (!_syncRunning)
            {
                _syncRunning = true;
                ThreadPool.UnsafeQueueUserWorkItem(static j => ((Journal)j!).SyncLoop(), this);
            }
            return task;
        }
    }

    /// <summary>
    /// One fdatasync per round covers every record appended before it started; callers that arrive
    /// during a round share the next one.
    /// </summary>
    private void SyncLoop()
    {
        while (true)
        {
            TaskCompletionSource<bool> batch;
            lock (_syncLock)
            {
                if (_syncWaiters == 0)
                {
                    _syncRunning = false;
                    return;
                }
                batch = _nextSync;
                _nextSync = NewSource();
                _syncWaiters = 0;
            }
            batch.SetResult(SyncNow());
        }
    }

    /// <summary>Flushes the current segment; true when everything appended before the call is durable.</summary>
    private bool SyncNow()
    {
        if (_failure is not null)
            return false;
        IStorageFile file;
        long upTo;
        lock (_appendLock)
        {
            // No current segment (the file system was full at open): nothing was appended since, all is durable.
            if (_current is null)
                return true;
            file = _current.File;
            upTo = _lastSequence;
        }
        try
        {
            file.Flush();
            Interlocked.Increment(ref _syncCount);
        }
        catch (IOException e)
        {
            // After a failed fdatasync the kernel may have dropped the dirty pages: nothing since the
            // last good flush can be trusted, and no later flush could prove otherwise.
            Fail($"fdatasync of the journal failed: {e.Message}");
            return false;
        }
        long durable;
        do
        {
            durable = Volatile.Read(ref _durableSequence);
            if (upTo <= durable)
                break;
        }
        while (Interlocked.CompareExchange(ref _durableSequence, upTo, durable) != durable);
        return true;
    }

    private void BackgroundFlush()
    {
        if (_failure is null && Volatile.Read(ref _durableSequence) < Volatile.Read(ref _lastSequence))
            _ = RequestSync();
    }

    private void FailWaiters()
    {
        lock (_syncLock)
        {
            _nextSync.TrySetResult(false);
            _nextSync = NewSource();
            _syncWaiters = 0;
        }
        SignalMemory();
    }

    /// <summary>Completes when undrained data is back under the memory limit (the drainer made room).</summary>
    public Task WaitForMemoryAsync()
    {
        lock (_syncLock)
        {
            if (!OverMemoryLimit || _failure is not null)
                return Task.CompletedTask;
            _memoryWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _memoryWaiter.Task;
        }
    }

    private void SignalMemory()
    {
        TaskCompletionSource? w;
        lock (_syncLock)
        {
            w = _memoryWaiter;
            _memoryWaiter = null;
        }
        w?.TrySetResult();
    }
}
