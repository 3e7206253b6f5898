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
internal sealed partial class ConfigBinder
{
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
        qos.MaxOutstanding = m.Int("max_outstanding", qos.MaxOutstanding, 0, 1 << 20);
        if (qos.IopsBurst > 0 && qos.IopsLimit == 0)
            ctx.Error(m.PositionOf("iops_burst"), m.PathOf("iops_burst"), "a burst needs a limit: set iops too");
        if (qos.BandwidthBurst > 0 && qos.BandwidthLimit == 0)
            ctx.Error(m.PositionOf("bandwidth_burst"), m.PathOf("bandwidth_burst"), "a burst needs a limit: set bandwidth too");
        m.Finish();
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
