namespace StorageAppliance.Director;

/// <summary>Which front end a request came through.</summary>
public enum IoProtocol : byte
{
    Internal = 0,
    Iscsi = 1,
    Nfs = 2,
}

/// <summary>Scheduling class of a request (seed 003: high and low priority queues).</summary>
public enum IoPriority : byte
{
    High = 0,
    Low = 1,
}

/// <summary>Per-request modifiers that change durability or caching.</summary>
[Flags]
public enum IoFlags : byte
{
    None = 0,

    /// <summary>The write must be durable before it completes (SCSI FUA, a WCE=0 device, NFS FILE_SYNC/DATA_SYNC).</summary>
    ForceUnitAccess = 1,

    /// <summary>A hint that the data will not be read again soon (SCSI DPO).</summary>
    DisablePageOut = 2,
}

/// <summary>
/// The context every request carries from the front end down to the physical layer (seed 002), so
/// that lower layers can account, schedule and apply policy per initiator and per vDisk. It holds
/// references the session already owns, so creating one per request allocates nothing.
/// </summary>
public readonly struct IoContext
{
    public IoContext(IoProtocol protocol, string client, IoPriority priority = IoPriority.High)
    {
        Protocol = protocol;
        Client = client;
        Priority = priority;
    }

    public IoProtocol Protocol { get; }

    /// <summary>Initiator port name for iSCSI, client address for NFS, the service name for internal work.</summary>
    public string Client { get; }

    public IoPriority Priority { get; }

    public static IoContext Internal(string who) => new(IoProtocol.Internal, who);

    public override string ToString() => $"{Protocol}:{Client}";
}
