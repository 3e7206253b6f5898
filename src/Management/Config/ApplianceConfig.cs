namespace StorageAppliance.Management.Config;

// The model of config/appliance.yaml. Plain classes whose initial values are the schema's defaults,
// so a section or key left out of the file keeps them; ConfigLoader fills and validates them.
// To add a section: a class here, a ConfigBinder.<Section>.cs file that reads it, and a line in
// ConfigBinder.Bind. Unknown-key detection needs no list: a key is known once the binder asks for it.

/// <summary>The whole appliance configuration, validated: every name unique, every reference resolved.</summary>
public sealed class ApplianceConfig
{
    /// <summary>Where the config came from (a file path as given, or the embedded default's name); used in messages.</summary>
    public string Source { get; set; } = "";

    public ApplianceSettings Appliance { get; set; } = new();

    public IscsiConfig Iscsi { get; set; } = new();

    /// <summary>Containers in file order; at least one.</summary>
    public List<ContainerConfig> Containers { get; set; } = [];

    /// <summary>vDisks in file order; each names one of <see cref="Containers"/>.</summary>
    public List<VDiskConfig> VDisks { get; set; } = [];

    /// <summary>iSCSI targets in file order; each LUN names one of <see cref="VDisks"/>.</summary>
    public List<TargetConfig> Targets { get; set; } = [];

    public ContainerConfig? FindContainer(string name) => Containers.Find(c => c.Name == name);

    public VDiskConfig? FindVDisk(string name) => VDisks.Find(v => v.Name == name);

    public TargetConfig? FindTarget(string iqn) => Targets.Find(t => t.Name == iqn);
}

/// <summary>The <c>appliance:</c> section.</summary>
public sealed class ApplianceSettings
{
    /// <summary>[a-z0-9-], 1 to 63 characters.</summary>
    public string Name { get; set; } = "storage-appliance";

    /// <summary>Absolute after loading: a relative data_dir resolves against the config file's folder.</summary>
    public string DataDir { get; set; } = "./data";
}

/// <summary>A CRC32C or no digest, as offered in HeaderDigest / DataDigest (RFC 7143 13.1).</summary>
public enum DigestType
{
    None,
    Crc32C,
}

/// <summary>The <c>iscsi:</c> section: portals, negotiation defaults and session limits.</summary>
public sealed class IscsiConfig
{
    public bool Enabled { get; set; } = true;

    /// <summary>Portals to listen on; at least one when <see cref="Enabled"/>, no two the same or overlapping.</summary>
    public List<ListenAddress> Listen { get; set; } = [new ListenAddress(System.Net.IPAddress.Loopback, 3260)];

    public int PortalGroupTag { get; set; } = 1;

    public int MaxRecvDataSegmentLength { get; set; } = 262144;

    public int MaxBurstLength { get; set; } = 1048576;

    /// <summary>At most <see cref="MaxBurstLength"/>.</summary>
    public int FirstBurstLength { get; set; } = 262144;

    public int MaxOutstandingR2T { get; set; } = 1;

    public bool ImmediateData { get; set; } = true;

    public bool InitialR2T { get; set; }

    /// <summary>Offered in this order of preference; no repeats.</summary>
    public List<DigestType> HeaderDigest { get; set; } = [DigestType.Crc32C, DigestType.None];

    /// <summary>Offered in this order of preference; no repeats.</summary>
    public List<DigestType> DataDigest { get; set; } = [DigestType.Crc32C, DigestType.None];

    /// <summary>Seconds.</summary>
    public int DefaultTime2Wait { get; set; } = 2;

    /// <summary>Seconds.</summary>
    public int DefaultTime2Retain { get; set; } = 20;

    public int MaxConnections { get; set; } = 1;

    /// <summary>The per-session command window (CmdSN window), 1 to 4096.</summary>
    public int QueueDepth { get; set; } = 128;

    /// <summary><see cref="TimeSpan.Zero"/> disables NOP-In pings.</summary>
    public TimeSpan NopInInterval { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan NopInTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan LoginTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>CHAP for SendTargets discovery sessions; null means none.</summary>
    public AuthConfig? DiscoveryAuth { get; set; }
}

/// <summary>CHAP settings of a target or of discovery. Present means AuthMethod=CHAP is required.</summary>
public sealed class AuthConfig
{
    /// <summary>The initiator proves itself with these; never null in a loaded config.</summary>
    public ChapCredentials Chap { get; set; } = new();

    /// <summary>When set, the target proves itself to the initiator with these (mutual CHAP).</summary>
    public ChapCredentials? MutualChap { get; set; }
}

/// <summary>A CHAP name and secret. <see cref="ToString"/> never shows the secret.</summary>
public sealed class ChapCredentials
{
    public string Username { get; set; } = "";

    /// <summary>12 to 255 characters.</summary>
    public string Secret { get; set; } = "";

    public override string ToString() => $"{Username} (secret hidden)";
}

/// <summary>A container: a named group of vDisks sharing storage policy (pools, dedup, compression come later).</summary>
public sealed class ContainerConfig
{
    /// <summary>[A-Za-z0-9._-], 1 to 64 characters, not "." or "..".</summary>
    public string Name { get; set; } = "";
}

/// <summary>A virtual disk, exported as a LUN by one or more targets.</summary>
public sealed class VDiskConfig
{
    /// <summary>[A-Za-z0-9._-], 1 to 64 characters, not "." or "..".</summary>
    public string Name { get; set; } = "";

    /// <summary>The name of the container it lives in.</summary>
    public string Container { get; set; } = "";

    /// <summary>Bytes; positive and a multiple of <see cref="BlockSize"/>.</summary>
    public long SizeBytes { get; set; }

    /// <summary>The logical block size the LUN reports: 512 or 4096.</summary>
    public int BlockSize { get; set; } = 512;

    public bool Thin { get; set; } = true;

    /// <summary>The initial SCSI write cache enable (WCE) bit.</summary>
    public bool WriteCache { get; set; } = true;

    public bool ReadOnly { get; set; }

    public long BlockCount => SizeBytes / BlockSize;
}

/// <summary>An iSCSI target.</summary>
public sealed class TargetConfig
{
    /// <summary>The target's iSCSI name (iqn., eui. or naa.), lower case.</summary>
    public string Name { get; set; } = "";

    /// <summary>TargetAlias, or null.</summary>
    public string? Alias { get; set; }

    /// <summary>At least one; LUN numbers and vDisks unique within the target.</summary>
    public List<LunConfig> Luns { get; set; } = [];

    /// <summary>Initiator iSCSI names allowed to log in; empty means any.</summary>
    public List<string> AllowedInitiators { get; set; } = [];

    /// <summary>Null means AuthMethod=None.</summary>
    public AuthConfig? Auth { get; set; }
}

/// <summary>One LUN of a target.</summary>
public sealed class LunConfig
{
    /// <summary>0 to 16383.</summary>
    public int Lun { get; set; }

    /// <summary>The name of the exported vDisk.</summary>
    public string VDisk { get; set; } = "";
}
