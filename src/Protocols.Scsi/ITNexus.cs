using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// An I_T nexus (SAM-5 4.7): one initiator port talking to one target port. For iSCSI it is a session:
/// the initiator port is "InitiatorName,i,0xISID" and the target port "TargetName,t,0xTPGT" (RFC 7143 4.4.1).
/// Unit attentions, PREVENT ALLOW MEDIUM REMOVAL and reservations are kept per nexus.
/// </summary>
public sealed class ITNexus
{
    private static long s_nextId;

    public ITNexus(string initiatorName, string initiatorPortName, string targetPortName, ushort relativeTargetPortId)
    {
        Id = Interlocked.Increment(ref s_nextId);
        InitiatorName = initiatorName;
        InitiatorPortName = initiatorPortName;
        TargetPortName = targetPortName;
        RelativeTargetPortId = relativeTargetPortId;
        IoContext = new IoContext(IoProtocol.Iscsi, initiatorPortName);
    }

    /// <summary>The context every request of this nexus carries down the data path (made once, not per request).</summary>
    public IoContext IoContext { get; }

    /// <summary>Process-unique id, for dictionaries and logs.</summary>
    public long Id { get; }

    /// <summary>The initiator's node name, e.g. an IQN.</summary>
    public string InitiatorName { get; }

    /// <summary>The initiator port's name, e.g. "iqn.1994-05.com.redhat:x,i,0x23d000000001".</summary>
    public string InitiatorPortName { get; }

    /// <summary>The target port's name, e.g. "iqn.2026-11.io.storageappliance:default,t,0x0001".</summary>
    public string TargetPortName { get; }

    /// <summary>Relative target port identifier reported in VPD page 83 (1-based).</summary>
    public ushort RelativeTargetPortId { get; }

    /// <summary>Target port group the target port belongs to, reported in VPD page 83 (SPC-4).</summary>
    public ushort TargetPortGroup { get; init; } = 1;

    /// <summary>The SCSI target device name: the target port name without its ",t,0x..." suffix (RFC 7143 4.4.1).</summary>
    public string TargetDeviceName
    {
        get
        {
            int comma = TargetPortName.IndexOf(",t,", StringComparison.Ordinal);
            return comma < 0 ? TargetPortName : TargetPortName[..comma];
        }
    }

    public override string ToString() => $"{InitiatorPortName} -> {TargetPortName}";
}
