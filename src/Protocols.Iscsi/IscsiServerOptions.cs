using System.Net;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Security;

namespace StorageAppliance.Protocols.Iscsi;

/// <summary>Settings of the iSCSI front end, built from the config's iscsi section.</summary>
public sealed class IscsiServerOptions
{
    public IReadOnlyList<IPEndPoint> Listen { get; init; } = [new IPEndPoint(IPAddress.Loopback, 3260)];

    public ushort PortalGroupTag { get; init; } = 1;

    public TargetLimits Limits { get; init; } = new();

    /// <summary>Commands a session may have outstanding: the CmdSN window (MaxCmdSN - ExpCmdSN + 1).</summary>
    public int QueueDepth { get; init; } = 128;

    /// <summary>Idle time after which the target pings the initiator with a NOP-In; zero disables.</summary>
    public TimeSpan NopInInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a ping may go unanswered before the connection is dropped.</summary>
    public TimeSpan NopInTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a connection may take to complete its login.</summary>
    public TimeSpan LoginTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>CHAP for discovery sessions; null means discovery needs no authentication.</summary>
    public ChapCredentials? DiscoveryChap { get; init; }

    public ChapCredentials? DiscoveryMutualChap { get; init; }

    /// <summary>Largest EDTL accepted for one command (bounds the buffer a write may make us allocate).</summary>
    public int MaxCommandTransferLength { get; init; } = 64 << 20;

    /// <summary>TCP connections served at once (iscsi.connection_limit); more are closed right after accept.</summary>
    public int ConnectionLimit { get; init; } = 1024;

    /// <summary>TCP connections one initiator address may have open (iscsi.connection_limit_per_client).</summary>
    public int ConnectionLimitPerClient { get; init; } = 64;

    /// <summary>Problems with the listener's limits as "key: reason"; empty when valid.</summary>
    public IReadOnlyList<string> ValidateListener()
    {
        var errors = new List<string>();
        if (ConnectionLimit < 1)
            errors.Add($"iscsi.connection_limit: {ConnectionLimit} must be at least 1");
        if (ConnectionLimitPerClient < 1 || ConnectionLimitPerClient > ConnectionLimit)
            errors.Add($"iscsi.connection_limit_per_client: {ConnectionLimitPerClient} must be between 1 and connection_limit ({ConnectionLimit})");
        return errors;
    }
}
