using StorageAppliance.Common;

namespace StorageAppliance.Management.Config;

// qos:               on a vDisk
//   class: low       high (default) | low
//   weight: 3        1..10000, default 1
//   iops: 1000       requests per second, 0 = unlimited
//   iops_burst: 100  requests at once above the rate; needs iops
//   bandwidth: 100MiB        bytes per second ("100MiB" or "100MiB/s"), 0 = unlimited
//   bandwidth_burst: 16MiB   bytes at once above the rate; needs bandwidth
//   max_outstanding: 16      requests in service at once, 0 = no bound of its own
//
// director:             the I/O Director's bounds, across every vDisk
//   max_outstanding: 32       requests in service at once; more wait in the QoS queues (1..4096)
//   low_min_share: 5%         share of the cost (requests and bytes) the low class keeps while the high class competes (0..50%)
//   low_max_outstanding: 4    low-class requests in service while the high class is active (1..max_outstanding)
//   enforce_shares: auto      when priority and weights hold a vDisk back even if nothing else waits in the Director:
//                             auto (while the machine's CPU is at least 70% busy) | always | never
internal sealed partial class ConfigBinder
{
    private void BindDirector(MappingReader m, DirectorConfig director)
    {
        director.MaxOutstanding = m.Int("max_outstanding", director.MaxOutstanding, 1, 4096);
        if (m.String("low_min_share") is { } share)
        {
            string number = share.EndsWith('%') ? share[..^1] : share;
            if (double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value)
                && (share.EndsWith('%') ? value / 100 : value) is var fraction and >= 0 and <= 0.5)
                director.LowMinShare = fraction;
            else
                ctx.Error(m.PositionOf("low_min_share"), m.PathOf("low_min_share"), $"'{share}' is not a share between 0 and 50% (e.g. 10% or 0.1)");
        }
        director.LowMaxOutstanding = m.Int("low_max_outstanding", director.LowMaxOutstanding, 1, 4096);
        if (director.LowMaxOutstanding > director.MaxOutstanding)
            ctx.Error(m.PositionOf("low_max_outstanding"), m.PathOf("low_max_outstanding"), $"{director.LowMaxOutstanding} is more than max_outstanding ({director.MaxOutstanding})");
        if (m.String("enforce_shares") is { } enforce)
        {
            if (enforce is "auto" or "always" or "never")
                director.EnforceShares = enforce;
            else
                ctx.Error(m.PositionOf("enforce_shares"), m.PathOf("enforce_shares"), $"'{enforce}' is not auto, always or never");
        }
        m.Finish();
    }

    private void BindQos(MappingReader m, QosConfig qos)
    {
        if (m.String("class") is { } cls)
        {
            if (cls is "high" or "low")
                qos.LowPriority = cls == "low";
            else
                ctx.Error(m.PositionOf("class"), m.PathOf("class"), $"'{cls}' is not a QoS class (use high or low)");
        }
        qos.Weight = m.Int("weight", qos.Weight, 1, 10_000);
        BindLimits(m, qos);
        qos.MaxOutstanding = m.Int("max_outstanding", qos.MaxOutstanding, 0, 1 << 20);
        m.Finish();
    }

    // containers:
    //   - name: default
    //     qos: {iops: 20000, bandwidth: 400MiB/s}   limits every vDisk of the container shares (and bursts)
    private void BindContainerQos(MappingReader m, QosConfig qos)
    {
        BindLimits(m, qos);
        m.Finish();
    }

    private void BindLimits(MappingReader m, QosConfig qos)
    {
        qos.IopsLimit = Long(m, "iops", qos.IopsLimit);
        qos.IopsBurst = Long(m, "iops_burst", qos.IopsBurst);
        qos.BandwidthLimit = Rate(m, "bandwidth", qos.BandwidthLimit);
        if (m.Size("bandwidth_burst") is { } burst)
        {
            if (burst < 0)
                ctx.Error(m.PositionOf("bandwidth_burst"), m.PathOf("bandwidth_burst"), "a burst cannot be negative");
            else
                qos.BandwidthBurst = burst;
        }
        if (qos.IopsBurst > 0 && qos.IopsLimit == 0)
            ctx.Error(m.PositionOf("iops_burst"), m.PathOf("iops_burst"), "a burst needs a limit: set iops too");
        if (qos.BandwidthBurst > 0 && qos.BandwidthLimit == 0)
            ctx.Error(m.PositionOf("bandwidth_burst"), m.PathOf("bandwidth_burst"), "a burst needs a limit: set bandwidth too");
    }

    private long Long(MappingReader m, string key, long current) =>
        m.Value(key) is { } v ? ctx.ReadInteger(v, m.PathOf(key), 0, long.MaxValue / 2) ?? current : current;

    // A size per second: "100MiB" or "100MiB/s".
    private long Rate(MappingReader m, string key, long current)
    {
        if (m.Value(key) is not { } node || ctx.ReadString(node, m.PathOf(key)) is not { } text)
            return current;
        if (text.EndsWith("/s", StringComparison.Ordinal))
            text = text[..^2];
        if (!ByteSize.TryParse(text, out long rate, out string? error))
        {
            ctx.Error(node, m.PathOf(key), error!);
            return current;
        }
        if (rate < 0)
        {
            ctx.Error(node, m.PathOf(key), "a rate cannot be negative");
            return current;
        }
        return rate;
    }
}
