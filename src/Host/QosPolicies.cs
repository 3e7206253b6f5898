using System.Globalization;
using System.Text;
using StorageAppliance.Director;
using StorageAppliance.Director.Qos;
using StorageAppliance.Management.Config;
using StorageAppliance.Metadata;

namespace StorageAppliance.Host;

/// <summary>
/// vDisk QoS policies between the config, the metadata store and the Director. A policy set at run time
/// (<c>vdisk qos</c>) is kept under <c>qos/NAME</c> and wins over the config at the next start, so a
/// change survives a restart; a vDisk without either gets the default (high, weight 1, no limits).
/// </summary>
internal static class QosPolicies
{
    private const string Prefix = "qos/";

    public static QosPolicy FromConfig(QosConfig q) =>
        new(q.LowPriority ? IoPriority.Low : IoPriority.High, q.Weight, q.IopsLimit, q.BandwidthLimit, q.IopsBurst, q.BandwidthBurst, q.MaxOutstanding);

    /// <summary>At start: the config's policies, then the stored ones for every vDisk the store knows.</summary>
    public static void Apply(ApplianceConfig config, IMetadataStore metadata, IoDirector director)
    {
        foreach (var c in config.Containers)
            if (c.Qos.IopsLimit > 0 || c.Qos.BandwidthLimit > 0)
                director.SetContainerLimits(c.Name, FromConfig(c.Qos));
        foreach (var v in config.VDisks)
            director.AssignContainer(v.Name, v.Container);
        foreach (var v in config.VDisks)
            director.SetPolicy(v.Name, FromConfig(v.Qos));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in config.VDisks)
            names.Add(v.Name);
        foreach (var r in metadata.VDisks())
            names.Add(r.Name);
        foreach (string name in names)
            if (Load(metadata, name) is { } stored)
                director.SetPolicy(name, stored);
    }

    /// <summary>After the engine opened: every vDisk it has draws on its container's limits.</summary>
    public static void AssignContainers(IoDirector director)
    {
        foreach (var d in director.List())
            director.AssignContainer(d.Name, d.Container);
    }

    public static QosPolicy? Load(IMetadataStore metadata, string name)
    {
        if (metadata.GetValue(Prefix + name) is not { } raw)
            return null;
        var p = new QosPolicy();
        foreach (string field in Encoding.UTF8.GetString(raw).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = field.IndexOf('=');
            if (eq <= 0)
                continue;
            string key = field[..eq], value = field[(eq + 1)..];
            long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n);
            p = key switch
            {
                "class" => p with { Class = value == "low" ? IoPriority.Low : IoPriority.High },
                "weight" => p with { Weight = (int)Math.Clamp(n, 1, QosPolicy.MaxWeight) },
                "iops" => p with { IopsLimit = n },
                "bandwidth" => p with { BandwidthLimit = n },
                "iops_burst" => p with { IopsBurst = n },
                "bandwidth_burst" => p with { BandwidthBurst = n },
                "max_outstanding" => p with { MaxOutstanding = (int)Math.Min(n, int.MaxValue) },
                _ => p,
            };
        }
        return p.Validate() is null ? p : null;
    }

    public static void Save(IMetadataStore metadata, string name, QosPolicy p)
    {
        string text = string.Create(CultureInfo.InvariantCulture,
            $"class={(p.Class == IoPriority.Low ? "low" : "high")} weight={p.Weight} iops={p.IopsLimit} bandwidth={p.BandwidthLimit} iops_burst={p.IopsBurst} bandwidth_burst={p.BandwidthBurst} max_outstanding={p.MaxOutstanding}");
        metadata.Commit(new MetadataBatch().Add(new MetadataOp.PutValue(Prefix + name, Encoding.UTF8.GetBytes(text))));
    }

    public static void Forget(IMetadataStore metadata, string name) =>
        metadata.Commit(new MetadataBatch().Add(new MetadataOp.DeleteValue(Prefix + name)));
}
