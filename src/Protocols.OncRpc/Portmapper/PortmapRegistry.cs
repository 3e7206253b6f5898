using System.Net;
using System.Net.Sockets;

namespace StorageAppliance.Protocols.OncRpc.Portmapper;

/// <summary>One registration: rpcb (RFC 1833 section 2.1) — program, version, netid, universal address, owner.</summary>
public readonly record struct PortmapEntry(uint Program, uint Version, string NetId, string UniversalAddress, string Owner)
{
    /// <summary>pmap prot: IPPROTO_TCP (6) or IPPROTO_UDP (17).</summary>
    public uint Protocol => NetId.StartsWith("udp", StringComparison.Ordinal) ? 17u : 6u;

    public int Port => PortmapRegistry.PortOf(UniversalAddress);
}

/// <summary>The embedded portmapper's table of registrations.</summary>
public sealed class PortmapRegistry
{
    private readonly List<PortmapEntry> _entries = new();

    public IReadOnlyList<PortmapEntry> Snapshot()
    {
        lock (_entries)
            return _entries.ToArray();
    }

    public bool Set(PortmapEntry entry)
    {
        lock (_entries)
        {
            // RFC 1833 section 2.2.1 RPCBPROC_SET: "fails ... if a mapping already exists" for the same triple.
            foreach (var e in _entries)
                if (e.Program == entry.Program && e.Version == entry.Version && e.NetId == entry.NetId)
                    return false;
            _entries.Add(entry);
            return true;
        }
    }

    /// <summary>Removes the mappings of program/version (all netids when <paramref name="netId"/> is null).</summary>
    public bool Unset(uint program, uint version, string? netId)
    {
        lock (_entries)
            return _entries.RemoveAll(e => e.Program == program && e.Version == version && (netId is null || netId.Length == 0 || e.NetId == netId)) > 0;
    }

    public PortmapEntry? Find(uint program, uint version, string netIdPrefix, bool anyVersion)
    {
        lock (_entries)
        {
            PortmapEntry? fallback = null;
            foreach (var e in _entries)
            {
                if (e.Program != program || !e.NetId.StartsWith(netIdPrefix, StringComparison.Ordinal))
                    continue;
                if (e.Version == version)
                    return e;
                if (anyVersion)
                    fallback ??= e;
            }
            return fallback;
        }
    }

    /// <summary>Registers a TCP service (tcp and, for a dual-stack or IPv6 bind, tcp6).</summary>
    public void RegisterTcp(uint program, uint version, IPEndPoint endPoint, string owner = "storage-appliance")
    {
        var address = endPoint.Address;
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && !address.IsIPv4MappedToIPv6)
        {
            Set(new PortmapEntry(program, version, "tcp6", ToUniversalAddress(new IPEndPoint(address, endPoint.Port)), owner));
            if (address.Equals(IPAddress.IPv6Any))
                Set(new PortmapEntry(program, version, "tcp", ToUniversalAddress(new IPEndPoint(IPAddress.Any, endPoint.Port)), owner));
        }
        else
        {
            Set(new PortmapEntry(program, version, "tcp", ToUniversalAddress(new IPEndPoint(address.MapToIPv4(), endPoint.Port)), owner));
        }
    }

    /// <summary>RFC 1833 section 3 (universal addresses): "h1.h2.h3.h4.p1.p2" for IPv4, "x:x::x.p1.p2" for IPv6.</summary>
    public static string ToUniversalAddress(IPEndPoint endPoint)
    {
        string host = endPoint.Address.AddressFamily == AddressFamily.InterNetwork ? endPoint.Address.ToString() : endPoint.Address.ToString();
        return $"{host}.{endPoint.Port >> 8}.{endPoint.Port & 0xff}";
    }

    public static int PortOf(string universalAddress)
    {
        int last = universalAddress.LastIndexOf('.');
        if (last <= 0)
            return 0;
        int prev = universalAddress.LastIndexOf('.', last - 1);
        if (prev < 0)
            return 0;
        if (!int.TryParse(universalAddress.AsSpan(prev + 1, last - prev - 1), out int hi) || !int.TryParse(universalAddress.AsSpan(last + 1), out int lo))
            return 0;
        return (hi << 8) | lo;
    }

    /// <summary>The host part of a universal address, or null.</summary>
    public static IPAddress? HostOf(string universalAddress)
    {
        int last = universalAddress.LastIndexOf('.');
        if (last <= 0)
            return null;
        int prev = universalAddress.LastIndexOf('.', last - 1);
        if (prev <= 0)
            return null;
        return IPAddress.TryParse(universalAddress.AsSpan(0, prev), out var a) ? a : null;
    }
}
