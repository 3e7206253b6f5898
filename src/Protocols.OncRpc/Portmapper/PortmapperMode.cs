namespace StorageAppliance.Protocols.OncRpc.Portmapper;

/// <summary>How the appliance makes its RPC programs findable (config key nfs.portmapper).</summary>
public enum PortmapperMode
{
    /// <summary>Register with a system rpcbind if one answers on port 111; otherwise embed one, if port 111 can be bound.</summary>
    Auto,

    /// <summary>Serve program 100000 ourselves on port 111 (or the configured port).</summary>
    Embedded,

    /// <summary>Register with the system rpcbind.</summary>
    System,

    /// <summary>Neither: clients are given the ports.</summary>
    Off,
}
