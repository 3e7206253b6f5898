namespace StorageAppliance.Director.Qos;

/// <summary>
/// One vDisk's place in the Director's admission control: its policy, its token buckets, its FIFO of
/// requests waiting for admission and its requests in service. Every field but the policy is guarded
/// by the scheduler's lock.
/// </summary>
public sealed class QosQueue
{
    internal QosQueue(string name, QosPolicy policy)
    {
        Name = name;
        Policy = policy;
    }

    public string Name { get; }

    /// <summary>The policy now in force; changed through <see cref="QosScheduler.SetPolicy"/>.</summary>
    public QosPolicy Policy { get; internal set; }

    internal readonly Queue<QosWaiter> Waiting = new();
    internal int Outstanding;
    internal TokenBucket Iops;
    internal TokenBucket Bandwidth;

    /// <summary>Limits this vDisk shares with others (its container's), or null.</summary>
    public QosGroup? Group { get; internal set; }

    /// <summary>Start-time fair queuing: the virtual finish tag of the last request started.</summary>
    internal double VirtualFinish;

    /// <summary>When its last request started (scheduler clock); long.MinValue / 2 before the first.</summary>
    internal long LastStart = long.MinValue / 2;
    internal bool Removed;

    /// <summary>Requests waiting for admission.</summary>
    public int QueueDepth => Volatile.Read(ref _queueDepth);

    /// <summary>Requests admitted and not yet completed.</summary>
    public int InService => Volatile.Read(ref Outstanding);

    internal int _queueDepth;
}
