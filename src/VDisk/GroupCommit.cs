using StorageAppliance.Common.Devices;

namespace StorageAppliance.VDisk;

/// <summary>
/// Group commit: many callers that each need "everything I wrote so far is durable" share one sync.
/// A caller that arrives while a sync runs waits for the next one, which starts as soon as the
/// running one ends and covers every caller that arrived meanwhile.
/// </summary>
public sealed class GroupCommit
{
    private readonly Func<int> _sync;
    private readonly object _lock = new();
    private TaskCompletionSource<int> _next = NewSource();
    private int _waitingForNext;
    private bool _running;

    /// <param name="sync">Makes all completed writes durable; returns 0 or an errno.</param>
    public GroupCommit(Func<int> sync) => _sync = sync;

    /// <summary>Number of syncs run so far (for tests and statistics).</summary>
    public long SyncCount => Interlocked.Read(ref _syncCount);

    private long _syncCount;

    /// <summary>Completes with 0 once a sync that started after this call has finished, or with its errno.</summary>
    public Task<int> SyncAsync()
    {
        lock (_lock)
        {
            _waitingForNext++;
            var waiter = _next.Task;
            if (!_running)
            {
                _running = true;
                ThreadPool.UnsafeQueueUserWorkItem(static s => ((GroupCommit)s!).Run(), this);
            }
            return waiter;
        }
    }

    private void Run()
    {
        while (true)
        {
            TaskCompletionSource<int> batch;
            lock (_lock)
            {
                if (_waitingForNext == 0)
                {
                    _running = false;
                    return;
                }
                batch = _next;
                _next = NewSource();
                _waitingForNext = 0;
            }
            int result;
            try
            {
                result = _sync();
            }
            catch (IOException)
            {
                result = NativeFile.EIO;
            }
            Interlocked.Increment(ref _syncCount);
            batch.SetResult(result);
        }
    }

    private static TaskCompletionSource<int> NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
