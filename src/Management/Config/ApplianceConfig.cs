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

    public NfsConfig Nfs { get; set; } = new();

    /// <summary>The I/O Director's bounds (admission control across every vDisk).</summary>
    public DirectorConfig Director { get; set; } = new();

    /// <summary>
    /// Storage pools in file order; at least one. When the file has no <c>pools:</c> section this is
    /// one implicit pool "default" with one ssd disk at <c>&lt;data_dir&gt;/disks/ssd0</c>, capacity auto.
    /// </summary>
    public List<PoolConfig> Pools { get; set; } = [];

    /// <summary>Containers in file order; at least one; each names one of <see cref="Pools"/>.</summary>
    public List<ContainerConfig> Containers { get; set; } = [];

    /// <summary>vDisks in file order; each names one of <see cref="Containers"/>.</summary>
    public List<VDiskConfig> VDisks { get; set; } = [];

    /// <summary>iSCSI targets in file order; each LUN names one of <see cref="VDisks"/>.</summary>
    public List<TargetConfig> Targets { get; set; } = [];

    /// <summary>NFS exports in file order; each names one of <see cref="Containers"/>.</summary>
    public List<ExportConfig> Exports { get; set; } = [];

    public PoolConfig? FindPool(string name) => Pools.Find(p => p.Name == name);

    public ContainerConfig? FindContainer(string name) => Containers.Find(c => c.Name == name);

    /// <summary>Whether <paramref name="vdisk"/> is deduplicated: its own dedup key, else its container's.</summary>
    public bool DedupFor(VDiskConfig vdisk) => vdisk.Dedup ?? FindContainer(vdisk.Container)?.Dedup ?? false;

    public VDiskConfig? FindVDisk(string name) => VDisks.Find(v => v.Name == name);

    public TargetConfig? FindTarget(string iqn) => Targets.Find(t => t.Name == iqn);

    public ExportConfig? FindExport(string path) => Exports.Find(e => e.Path == path);
}

/// <summary>The <c>appliance:</c> section.</summary>
public sealed class ApplianceSettings
{
    /// <summary>[a-z0-9-], 1 to 63 characters.</summary>
    public string Name { get; set; } = "storage-appliance";

    /// <summary>Absolute after loading: a relative data_dir resolves against the config file's folder.</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>The admin API's Unix socket: <c>&lt;data_dir&gt;/admin.sock</c>.</summary>
    public string AdminSocket => Path.Combine(DataDir, "admin.sock");
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

    /// <summary>TCP connections served at once on all portals; more are closed right after accept.</summary>
    public int ConnectionLimit { get; set; } = 1024;

    /// <summary>TCP connections one initiator address may have open; at most <see cref="ConnectionLimit"/>.</summary>
    public int ConnectionLimitPerClient { get; set; } = 64;

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

/// <summary>A storage tier: the class of the disks an extent group can be placed on.</summary>
public enum StorageTier
{
    Ssd,
    Hdd,
}

/// <summary>A storage pool: the disks that containers place their extent groups on.</summary>
public sealed class PoolConfig
{
    /// <summary>[A-Za-z0-9._-], 1 to 64 characters, not "." or "..".</summary>
    public string Name { get; set; } = "";

    /// <summary>At least one; no disk path is used twice in the whole config.</summary>
    public List<DiskConfig> Disks { get; set; } = [];

    /// <summary>True when the config has no <c>pools:</c> section and this is the default pool made for it.</summary>
    public bool Implicit { get; set; }

    /// <summary>The sum of the disks' capacities, or null when any disk's capacity is auto.</summary>
    public long? FixedCapacityBytes
    {
        get
        {
            long sum = 0;
            foreach (DiskConfig d in Disks)
            {
                if (d.CapacityBytes is not { } c)
                    return null;
                sum = c > long.MaxValue - sum ? long.MaxValue : sum + c;
            }
            return sum;
        }
    }

    public bool HasTier(StorageTier tier) => Disks.Exists(d => d.Tier == tier);
}

/// <summary>One disk of a pool: a directory that holds extent group files, or an existing file or block device.</summary>
public sealed class DiskConfig
{
    private string _path = "";
    private ApplianceSettings? _dataDirOwner;
    private string? _underDataDir;

    /// <summary>
    /// Absolute. A disk written inside data_dir follows data_dir when the command line overrides it
    /// (<c>run --data-dir</c>), so appliances started side by side from one config never share a disk.
    /// </summary>
    public string Path
    {
        get => _dataDirOwner is not null && _underDataDir is not null
            ? System.IO.Path.Combine(_dataDirOwner.DataDir, _underDataDir)
            : _path;
        set
        {
            _path = value;
            _dataDirOwner = null;
            _underDataDir = null;
        }
    }

    public StorageTier Tier { get; set; } = StorageTier.Ssd;

    /// <summary>Bytes; null means auto: the free space of the disk's file system when the appliance starts.</summary>
    public long? CapacityBytes { get; set; }

    // Makes Path relative to settings.DataDir when the absolute path lies inside it.
    internal void FollowDataDir(ApplianceSettings settings)
    {
        string relative = System.IO.Path.GetRelativePath(settings.DataDir, _path);
        if (relative == "." || relative.StartsWith("..", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(relative))
            return;
        _dataDirOwner = settings;
        _underDataDir = relative;
    }
}

/// <summary>A container: a named group of vDisks (and NFS files) sharing storage policy, placed in one pool.</summary>
public sealed class ContainerConfig
{
    /// <summary>[A-Za-z0-9._-], 1 to 64 characters, not "." or "..".</summary>
    public string Name { get; set; } = "";

    /// <summary>The name of its pool.</summary>
    public string Pool { get; set; } = "";

    /// <summary>Copies of each extent group; only 1 is supported for now.</summary>
    public int ReplicationFactor { get; set; } = 1;

    /// <summary>Bytes; 0 means unlimited.</summary>
    public long MaxCapacityBytes { get; set; }

    /// <summary>Bytes kept for this container alone; the sum over a pool's containers fits its disks.</summary>
    public long ReservedCapacityBytes { get; set; }

    /// <summary>The vDisk map's block: a power of two, 64 KiB to 16 MiB.</summary>
    public int VDiskBlockSize { get; set; } = 1 << 20;

    /// <summary>A multiple of <see cref="VDiskBlockSize"/>, 16 MiB to 1 GiB.</summary>
    public long ExtentGroupSize { get; set; } = 64L << 20;

    /// <summary>The order in which tiers receive new extent groups; no repeats, at least one tier the pool has.</summary>
    public List<StorageTier> TierPreference { get; set; } = [StorageTier.Ssd, StorageTier.Hdd];

    // Data reduction (issue 7): applied by the storage engine's drain and the Curator.

    /// <summary>Content-defined deduplication of the container's vDisks (each may override it).</summary>
    public bool Dedup { get; set; }

    /// <summary>The dedup chunk sizes: powers of two, min &lt; average &lt; max ≤ <see cref="VDiskBlockSize"/>.</summary>
    public DedupChunkSizes DedupChunk { get; set; } = new(16 << 10, 64 << 10, 256 << 10);

    public ContainerCompression Compression { get; set; } = ContainerCompression.None;

    /// <summary>The zstd level, 1 to 19 (used only with <see cref="ContainerCompression.Zstd"/>).</summary>
    public int CompressionLevel { get; set; } = 3;

    /// <summary>When dedup and compression apply: as the journal drains, or after <see cref="PostProcessDelay"/>.</summary>
    public DataContraction DataContraction { get; set; } = DataContraction.Inline;

    public TimeSpan PostProcessDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>IOPS and bandwidth limits (with bursts) all its vDisks share; class, weight and max outstanding are per vDisk.</summary>
    public QosConfig Qos { get; set; } = new();
}

/// <summary>Content-defined chunk sizes in bytes (the seed's "max de-duplication extent size" is <see cref="Max"/>).</summary>
public readonly record struct DedupChunkSizes(int Min, int Average, int Max);

public enum ContainerCompression
{
    None,
    Lz4,
    Zstd,
}

public enum DataContraction
{
    /// <summary>In the primary path, as data moves from the journal to extents.</summary>
    Inline,

    /// <summary>Later, by the Curator, once data is older than the post-process delay.</summary>
    PostProcess,
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

    /// <summary>
    /// The physical block size READ CAPACITY (16) reports: 0 (the default) for one logical block per physical
    /// block, else a power-of-two multiple of <see cref="BlockSize"/> up to 64 KiB (4096 on a 512-byte disk: "512e").
    /// </summary>
    public int PhysicalBlockSize { get; set; }

    public bool Thin { get; set; } = true;

    /// <summary>The initial SCSI write cache enable (WCE) bit.</summary>
    public bool WriteCache { get; set; } = true;

    public bool ReadOnly { get; set; }

    /// <summary>Deduplication for this vDisk: null (the default) follows its container's.</summary>
    public bool? Dedup { get; set; }

    /// <summary>What stores its data: the storage engine, or nothing at all (a null device for benchmarks).</summary>
    public VDiskBacking Backing { get; set; } = VDiskBacking.Engine;

    /// <summary>Its QoS policy; overridden at run time by <c>vdisk qos</c>, which persists.</summary>
    public QosConfig Qos { get; set; } = new();

    public long BlockCount => SizeBytes / BlockSize;
}

/// <summary>Where a vDisk's data lives.</summary>
public enum VDiskBacking
{
    /// <summary>The storage engine: journal, extent groups, metadata.</summary>
    Engine,

    /// <summary>Nowhere: reads return zeros and writes are discarded, so a benchmark measures the front end alone.</summary>
    Null,
}

/// <summary>How the NFS front end makes its ports known to clients (MOUNT and NFS over ONC RPC).</summary>
public enum PortmapperMode
{
    /// <summary>Bind port 111 if possible, else register with a running rpcbind, else log that clients must be told the ports.</summary>
    Auto,

    /// <summary>Serve portmapper (RPCBIND v2) on port 111 ourselves; failing to bind it stops start-up.</summary>
    Embedded,

    /// <summary>Register with the system's rpcbind; failing to reach it stops start-up.</summary>
    System,

    /// <summary>No portmapper: clients are given the NFS and MOUNT ports.</summary>
    Off,
}

/// <summary>The <c>nfs:</c> section: the NFSv3 and MOUNT front end.</summary>
public sealed class NfsConfig
{
    /// <summary>False when the file has no <c>nfs:</c> section; true when it has one that does not say otherwise.</summary>
    public bool Enabled { get; set; }

    /// <summary>Where NFS listens; at least one when <see cref="Enabled"/>, none overlapping each other or an iSCSI portal.</summary>
    public List<ListenAddress> Listen { get; set; } = [new ListenAddress(System.Net.IPAddress.Loopback, 2049)];

    /// <summary>The MOUNT protocol's port on the addresses of <see cref="Listen"/>; 0 picks a free one.</summary>
    public int MountPort { get; set; } = 20048;

    public PortmapperMode Portmapper { get; set; } = PortmapperMode.Auto;

    /// <summary>NFS and MOUNT connections served at once; more are closed right after accept.</summary>
    public int ConnectionLimit { get; set; } = 1024;

    /// <summary>NFS and MOUNT connections one client address may have open; at most <see cref="ConnectionLimit"/>.</summary>
    public int ConnectionLimitPerClient { get; set; } = 64;

    /// <summary>A connection with no call in progress for this long is closed; <see cref="TimeSpan.Zero"/> never.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A record (call) must arrive whole, and a reply be taken, within this time.</summary>
    public TimeSpan RecordTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>An NFS export: a path clients mount, showing the files of one container.</summary>
public sealed class ExportConfig
{
    /// <summary>Absolute, normalized ("/" or "/a/b": no empty, "." or ".." parts, no trailing '/'), unique, not inside another export.</summary>
    public string Path { get; set; } = "";

    /// <summary>The name of the container it shows.</summary>
    public string Container { get; set; } = "";

    public bool ReadOnly { get; set; }

    /// <summary>Client networks allowed to mount (a single address is a /32 or /128); empty means any.</summary>
    public List<System.Net.IPNetwork> Clients { get; set; } = [];

    /// <summary>Map uid 0 to <see cref="AnonUid"/>; off by default because ESXi needs no_root_squash.</summary>
    public bool RootSquash { get; set; }

    public uint AnonUid { get; set; } = 65534;

    public uint AnonGid { get; set; } = 65534;

    /// <summary>True when <paramref name="client"/> may use this export. An IPv4 client seen on a dual-stack socket (::ffff:a.b.c.d) matches IPv4 networks.</summary>
    public bool Allows(System.Net.IPAddress client)
    {
        if (Clients.Count == 0)
            return true;
        if (client.IsIPv4MappedToIPv6)
            client = client.MapToIPv4();
        foreach (System.Net.IPNetwork network in Clients)
        {
            if (network.Contains(client))
                return true;
        }
        return false;
    }
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

/// <summary>
/// A vDisk's service level (seed 003: "Each vDisk may specify a priority and a fair share"); the Director
/// enforces it. Limits of 0 mean none. The default is high class, weight 1, no limits.
/// </summary>
public sealed class QosConfig
{
    /// <summary>High is served before low; low keeps a minimum share.</summary>
    public bool LowPriority { get; set; }

    /// <summary>Fair share among the vDisks of its class, 1..10000.</summary>
    public int Weight { get; set; } = 1;

    public long IopsLimit { get; set; }

    /// <summary>Bytes per second.</summary>
    public long BandwidthLimit { get; set; }

    /// <summary>Requests above the rate allowed at once; 0 = a tenth of a second's worth.</summary>
    public long IopsBurst { get; set; }

    /// <summary>Bytes above the rate allowed at once; 0 = a tenth of a second's worth.</summary>
    public long BandwidthBurst { get; set; }

    /// <summary>Requests of this vDisk in service at once; 0 = only the Director's total bound.</summary>
    public int MaxOutstanding { get; set; }
}

/// <summary>
/// The I/O Director's own bounds: requests in service across every vDisk (more wait in its QoS queues,
/// where priority and fair share order them), and how the low class is held back but never starved.
/// </summary>
public sealed class DirectorConfig
{
    /// <summary>1..4096.</summary>
    public int MaxOutstanding { get; set; } = 32;

    /// <summary>Share of the cost (requests and bytes) the low class keeps while the high class competes, 0..0.5.</summary>
    public double LowMinShare { get; set; } = 0.05;

    /// <summary>Low-class requests in service at once while the high class is active, 1..MaxOutstanding.</summary>
    public int LowMaxOutstanding { get; set; } = 4;

    /// <summary>auto (while the CPU is busy), always or never.</summary>
    public string EnforceShares { get; set; } = "auto";

    /// <summary>The CPU busy fraction from which shares are enforced: 0.7 for auto, 0 for always, above 1 for never.</summary>
    public double CpuBusyThreshold => EnforceShares switch { "always" => 0, "never" => 2, _ => 0.7 };
}
