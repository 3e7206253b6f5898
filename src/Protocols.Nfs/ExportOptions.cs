using System.Net;
using System.Net.Sockets;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>One export (config <c>exports[]</c>): a directory tree whose regular files are vDisks of <see cref="Container"/>.</summary>
public sealed class ExportOptions
{
    /// <summary>exports[].path: the path clients mount, e.g. "/datastore1". Starts with '/'.</summary>
    public string Path { get; init; } = "/export";

    /// <summary>exports[].container: the container every file's vDisk is created in.</summary>
    public string Container { get; init; } = "default";

    /// <summary>exports[].read_only: writes answer NFS3ERR_ROFS.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>exports[].clients: addresses and CIDR blocks allowed to mount; empty or "*" allows everyone.</summary>
    public IReadOnlyList<string> Clients { get; init; } = [];

    /// <summary>exports[].root_squash: uid 0 is mapped to the anonymous uid/gid. ESXi needs false.</summary>
    public bool RootSquash { get; init; } = true;

    /// <summary>exports[].anon_uid: the uid squashed and AUTH_NONE callers act as.</summary>
    public uint AnonUid { get; init; } = 65534;

    /// <summary>exports[].anon_gid.</summary>
    public uint AnonGid { get; init; } = 65534;

    /// <summary>Stable 32-bit id of the export (FNV-1a of the path): part of every file handle, so handles survive restarts.</summary>
    public uint ExportId
    {
        get
        {
            uint h = 2166136261;
            foreach (char c in Path)
            {
                h ^= c;
                h *= 16777619;
            }
            return h == 0 ? 1 : h;
        }
    }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrEmpty(Path) || Path[0] != '/')
            errors.Add($"path: '{Path}' must start with '/'");
        else if (Path.Length > 1024)
            errors.Add("path: longer than 1024 characters (MNTPATHLEN)");
        if (string.IsNullOrWhiteSpace(Container))
            errors.Add("container: missing");
        foreach (var c in Clients)
        {
            if (!ClientMatcher.TryParse(c, out _))
                errors.Add($"clients: '{c}' is neither an address, a CIDR block nor '*'");
        }
        return errors;
    }
}

/// <summary>An entry of an export's client list: an address, a CIDR block, or everyone.</summary>
public readonly struct ClientMatcher
{
    private readonly byte[]? _network;
    private readonly int _prefix;

    private ClientMatcher(byte[]? network, int prefix)
    {
        _network = network;
        _prefix = prefix;
    }

    public bool MatchesAll => _network is null;

    public static bool TryParse(string text, out ClientMatcher matcher)
    {
        matcher = default;
        text = text.Trim();
        if (text == "*")
        {
            matcher = new ClientMatcher(null, 0);
            return true;
        }
        int slash = text.IndexOf('/');
        string host = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(host, out var address))
            return false;
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        int prefix = bytes.Length * 8;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), out prefix) || prefix < 0 || prefix > bytes.Length * 8))
            return false;
        matcher = new ClientMatcher(bytes, prefix);
        return true;
    }

    /// <summary>True when <paramref name="address"/> falls in this entry. Allocates nothing.</summary>
    public bool Matches(IPAddress address)
    {
        if (_network is null)
            return true;
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int n) || n != _network.Length)
            return false;
        int full = _prefix / 8;
        if (!bytes[..full].SequenceEqual(_network.AsSpan(0, full)))
            return false;
        int rest = _prefix % 8;
        if (rest == 0)
            return true;
        int mask = 0xff << (8 - rest) & 0xff;
        return (bytes[full] & mask) == (_network[full] & mask);
    }

    public static bool IsAddressFamilySupported(AddressFamily f) => f is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6;
}
