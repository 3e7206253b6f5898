using System.Globalization;

namespace StorageAppliance.Director.Qos;

/// <summary>
/// Tells the scheduler whether CPU is the scarce resource: samples the machine's busy fraction from
/// /proc/stat (all CPUs: user, nice, system, irq, softirq and steal over every field, idle and iowait
/// counting as free) every <see cref="Period"/>, and sets <see cref="QosScheduler.Contended"/> with
/// hysteresis in level and in time: on at the first sample at or above the threshold, off only after
/// <see cref="SamplesToRelease"/> samples in a row 10 points below it. A held flood lowers the load it
/// is held for; releasing it at the first quiet sample would let it back in bursts.
/// </summary>
/// <remarks>
/// The machine's load, not the process's: an appliance shares its cores with whatever else runs, and
/// CPU taken by others is as scarce as CPU taken by a flooding vDisk. Where /proc/stat cannot be read,
/// the scheduler is left contended (shares always enforced), which is the safe side for the high class.
/// </remarks>
public sealed class CpuLoadMonitor : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);

    /// <summary>Consecutive quiet samples before shares stop being enforced (half a second).</summary>
    public const int SamplesToRelease = 5;

    private int _quiet;

    private readonly QosScheduler _scheduler;
    private readonly double _threshold;
    private readonly Func<string?> _readStat;
    private readonly ITimer? _timer;
    private long _lastBusy = -1;
    private long _lastTotal = -1;

    public CpuLoadMonitor(QosScheduler scheduler, double threshold, TimeProvider time, Func<string?>? readStat = null)
    {
        _scheduler = scheduler;
        _threshold = threshold;
        _readStat = readStat ?? ReadProcStat;
        if (threshold <= 0)
        {
            scheduler.Contended = true;
            return;
        }
        if (threshold > 1)
        {
            scheduler.Contended = false;
            return;
        }
        Sample();
        _timer = time.CreateTimer(static s => ((CpuLoadMonitor)s!).Sample(), this, Period, Period);
    }

    /// <summary>The busy fraction of the last period, or -1 before two samples.</summary>
    public double LastBusy { get; private set; } = -1;

    /// <summary>Takes one sample and updates the scheduler (the timer calls it; tests call it directly).</summary>
    public void Sample()
    {
        if (_disposed || !TryParse(_readStat(), out long busy, out long total))
            return;
        if (_lastTotal >= 0 && total > _lastTotal)
        {
            double fraction = (double)(busy - _lastBusy) / (total - _lastTotal);
            LastBusy = fraction;
            if (fraction >= _threshold)
            {
                _quiet = 0;
                _scheduler.Contended = true;
            }
            else if (fraction < _threshold - 0.1 && ++_quiet >= SamplesToRelease)
            {
                _scheduler.Contended = false;
            }
        }
        _lastBusy = busy;
        _lastTotal = total;
    }

    /// <summary>Parses the aggregate "cpu" line of /proc/stat into busy and total jiffies.</summary>
    public static bool TryParse(string? stat, out long busy, out long total)
    {
        busy = total = 0;
        if (stat is null || !stat.StartsWith("cpu ", StringComparison.Ordinal))
            return false;
        int end = stat.IndexOf('\n');
        string[] f = stat[4..(end < 0 ? stat.Length : end)].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f.Length < 4)
            return false;
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
        int n = Math.Min(f.Length, 8);
        for (int i = 0; i < n; i++)
        {
            if (!long.TryParse(f[i], NumberStyles.None, CultureInfo.InvariantCulture, out long v))
                return false;
            total += v;
            if (i != 3 && i != 4)
                busy += v;
        }
        return true;
    }

    private static string? ReadProcStat()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            return reader.ReadLine();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private volatile bool _disposed;

    public void Dispose()
    {
        _disposed = true;
        _timer?.Dispose();
    }
}
