namespace StorageAppliance.Director.Qos;

/// <summary>
/// The service level of one vDisk. Seed 003: "QoS parameters: Each vDisk may specify a priority and a
/// fair share. Competing IO requests from various vDisks shall be scheduled based on this priority and
/// fair share." Limits of 0 mean none.
/// </summary>
/// <param name="Class">High is served before low (strict priority, less the low class's minimum share).</param>
/// <param name="Weight">Fair share among the vDisks of the same class, 1 to 10,000.</param>
/// <param name="IopsLimit">Requests per second; 0 = unlimited.</param>
/// <param name="BandwidthLimit">Bytes per second; 0 = unlimited.</param>
/// <param name="IopsBurst">Requests that may go at once above the rate; 0 = a tenth of a second's worth (at least 1).</param>
/// <param name="BandwidthBurst">Bytes that may go at once above the rate; 0 = a tenth of a second's worth.</param>
/// <param name="MaxOutstanding">Requests of this vDisk in service at once; 0 = only the Director's total bound.</param>
public sealed record QosPolicy(
    IoPriority Class = IoPriority.High,
    int Weight = 1,
    long IopsLimit = 0,
    long BandwidthLimit = 0,
    long IopsBurst = 0,
    long BandwidthBurst = 0,
    int MaxOutstanding = 0)
{
    /// <summary>High class, weight 1, no limits.</summary>
    public static QosPolicy Default { get; } = new();

    public const int MaxWeight = 10_000;

    /// <summary>Why the policy cannot be used, or null.</summary>
    public string? Validate()
    {
        if (Weight is < 1 or > MaxWeight)
            return $"weight {Weight} is not between 1 and {MaxWeight}";
        if (IopsLimit < 0 || BandwidthLimit < 0 || IopsBurst < 0 || BandwidthBurst < 0 || MaxOutstanding < 0)
            return "limits, bursts and max outstanding cannot be negative (0 means none)";
        if (IopsBurst > 0 && IopsLimit == 0)
            return "an IOPS burst needs an IOPS limit";
        if (BandwidthBurst > 0 && BandwidthLimit == 0)
            return "a bandwidth burst needs a bandwidth limit";
        return null;
    }

    public double EffectiveIopsBurst => IopsBurst > 0 ? IopsBurst : Math.Max(1, IopsLimit / 10.0);

    public double EffectiveBandwidthBurst => BandwidthBurst > 0 ? BandwidthBurst : Math.Max(1, BandwidthLimit / 10.0);
}

/// <summary>Bounds of the Director as a whole.</summary>
public sealed class DirectorOptions
{
    /// <summary>Requests in service at once across every vDisk; more wait in the Director's queues.</summary>
    public int MaxOutstanding { get; set; } = 32;

    /// <summary>
    /// The share of dispatches from the queues the low class gets while the high class also waits, so
    /// that it never starves (0 to 0.5).
    /// </summary>
    public double LowMinShare { get; set; } = 0.05;

    /// <summary>
    /// Low-class requests in service at once while the high class is active (has requests in service or
    /// waiting). When the high class is idle the low class may use the whole <see cref="MaxOutstanding"/>.
    /// This is what keeps a flooding low vDisk from filling the engine ahead of a high one.
    /// </summary>
    public int LowMaxOutstandingWhenContended { get; set; } = 4;

    /// <summary>
    /// A vDisk counts as competing for this long after its last request started, so a vDisk that keeps a few
    /// requests in flight (most of their time is spent outside the Director) keeps its share.
    /// </summary>
    public TimeSpan ActiveWindow { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>How far (in cost units over weight) a vDisk or class may run ahead of a competing one before it waits.</summary>
    public double ShareSlack { get; set; } = 16;

    /// <summary>
    /// A request costs 1 plus its bytes divided by this on the share clocks, written bytes counting twice: with
    /// 4 KiB a 4 KiB read costs 2, a 4 KiB write 3 and a 64 KiB write 33. Measured here (bench/qos.py): a 64 KiB
    /// write takes about 15 times the CPU of a 4 KiB request of a 70% read mix, which costs 2.3.
    /// </summary>
    public int CostBytes { get; set; } = 4096;

    /// <summary>
    /// Shares are enforced by holding (not only by ordering waiters) while the machine's CPU is at least this
    /// busy (0 to 1; 0 = always, above 1 = never); see <see cref="QosScheduler.Contended"/>.
    /// </summary>
    public double CpuBusyThreshold { get; set; } = 0.7;
}
