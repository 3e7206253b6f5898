namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// The SCSI layer asks its transports to abort the tasks of some I_T nexuses at one logical unit: PERSISTENT
/// RESERVE OUT with PREEMPT AND ABORT (SPC-4: "all tasks from the I_T nexuses associated with the preempted
/// registrations ... shall be aborted", except the PREEMPT AND ABORT itself). Tasks only a transport knows
/// about (queued, receiving data, executing) are aborted there; a handler that cannot finish at once hands
/// back a task with <see cref="Track"/>, and the command that asked waits for it before its status.
/// </summary>
public sealed class TaskAbortRequest
{
    private readonly List<Task> _pending;

    public TaskAbortRequest(LogicalUnit unit, IReadOnlyList<ITNexus> nexuses)
        : this(unit, nexuses, 0, new List<Task>())
    {
    }

    private TaskAbortRequest(LogicalUnit unit, IReadOnlyList<ITNexus> nexuses, ulong lun, List<Task> pending)
    {
        Unit = unit;
        Nexuses = nexuses;
        Lun = lun;
        _pending = pending;
    }

    /// <summary>The logical unit whose tasks end.</summary>
    public LogicalUnit Unit { get; }

    /// <summary>The LUN of <see cref="Unit"/> in the target that raised the request (set by <see cref="ScsiTarget"/>).</summary>
    public ulong Lun { get; }

    /// <summary>The I_T nexuses whose tasks at the unit are aborted.</summary>
    public IReadOnlyList<ITNexus> Nexuses { get; }

    public bool Contains(ITNexus nexus)
    {
        foreach (var n in Nexuses)
            if (n.Id == nexus.Id)
                return true;
        return false;
    }

    /// <summary>A handler's aborts finish when <paramref name="completion"/> does.</summary>
    public void Track(Task completion)
    {
        lock (_pending)
            _pending.Add(completion);
    }

    /// <summary>The same request as seen through one target, which numbers the unit <paramref name="lun"/>; it tracks into this one.</summary>
    internal TaskAbortRequest ForLun(ulong lun) => new(Unit, Nexuses, lun, _pending);

    /// <summary>Completes when every tracked abort has.</summary>
    internal Task WhenAll()
    {
        lock (_pending)
            return _pending.Count == 0 ? Task.CompletedTask : Task.WhenAll(_pending.ToArray());
    }
}
