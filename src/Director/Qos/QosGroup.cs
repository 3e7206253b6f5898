namespace StorageAppliance.Director.Qos;

/// <summary>
/// Limits shared by a set of vDisks, e.g. a container's (seed 003: a container carries the settings
/// common to its vDisks): one IOPS and one bandwidth token bucket that every member's request also
/// draws from. Fields are guarded by the scheduler's lock.
/// </summary>
public sealed class QosGroup
{
    internal QosGroup(string name) => Name = name;

    public string Name { get; }

    /// <summary>The limits now in force (only the limit and burst fields are used).</summary>
    public QosPolicy Limits { get; internal set; } = QosPolicy.Default;

    internal TokenBucket Iops;
    internal TokenBucket Bandwidth;
}
