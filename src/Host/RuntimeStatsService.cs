using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Host;

/// <summary>
/// Logs the runtime's health at Debug level every 10 s: allocation rate, collections per generation,
/// pause time and thread-pool backlog. The data path is meant to allocate nothing per request; this is
/// where an operator (or a benchmark) sees whether it holds.
/// </summary>
public sealed class RuntimeStatsService : BackgroundService
{
    private readonly ILogger _log;

    public RuntimeStatsService(ILoggerFactory loggerFactory) => _log = loggerFactory.CreateLogger("StorageAppliance.Runtime");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_log.IsEnabled(LogLevel.Debug))
            return;
        long lastAlloc = GC.GetTotalAllocatedBytes();
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        var lastPause = GC.GetTotalPauseDuration();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                long alloc = GC.GetTotalAllocatedBytes();
                var pause = GC.GetTotalPauseDuration();
                RuntimeLog.Stats(_log, (alloc - lastAlloc) / 10 / 1024, GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1,
                    GC.CollectionCount(2) - g2, (pause - lastPause).TotalMilliseconds, ThreadPool.ThreadCount, ThreadPool.PendingWorkItemCount,
                    GC.GetTotalMemory(false) >> 20);
                lastAlloc = alloc;
                lastPause = pause;
                g0 = GC.CollectionCount(0);
                g1 = GC.CollectionCount(1);
                g2 = GC.CollectionCount(2);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "runtime: {KiBPerSecond} KiB/s allocated, GCs gen0 {Gen0} gen1 {Gen1} gen2 {Gen2}, pauses {PauseMs:F1} ms in 10 s, {Threads} pool threads, {Pending} queued work items, heap {HeapMiB} MiB")]
    public static partial void Stats(ILogger logger, long kiBPerSecond, int gen0, int gen1, int gen2, double pauseMs, int threads, long pending, long heapMiB);
}
