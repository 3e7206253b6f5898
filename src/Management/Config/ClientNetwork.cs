using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace StorageAppliance.Management.Config;

/// <summary>
/// An NFS client entry as written in an export's <c>clients</c> list: an address (<c>10.0.0.7</c>,
/// <c>fd00::7</c>) or a network in CIDR form (<c>10.0.0.0/8</c>, <c>fd00::/64</c>). Host names are
/// not accepted: access must not depend on name resolution.
/// </summary>
public static class ClientNetwork
{
    /// <summary>Parses one entry; a single address becomes a /32 or /128 network.</summary>
    public static bool TryParse(string? text, out IPNetwork network, out string? error)
    {
        network = default;
        error = null;
        string s = (text ?? "").Trim();
        int slash = s.IndexOf('/', StringComparison.Ordinal);
        string host = slash < 0 ? s : s[..slash];

        if (s is "*" or "any")
        {
            error = $"'{s}' is not an address: to allow every client, leave clients out or write clients: []";
            return false;
        }
        if (host.Contains('%', StringComparison.Ordinal))
        {
            error = $"'{s}' has a scope id ('%'); write the address without it";
            return false;
        }
        if (!TryParseAddress(host, out IPAddress? address))
        {
            error = host.Length == 0
                ? $"'{s}' has no address (write an address such as 10.0.0.7, or a network such as 10.0.0.0/8)"
                : $"'{host}' is not an IP address; clients take addresses or CIDR networks such as 10.0.0.0/8 or fd00::/64 (no host names)";
            return false;
        }

        int bits = address!.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix = bits;
        if (slash >= 0)
        {
            string prefixText = s[(slash + 1)..];
            if (prefixText.Length is 0 or > 3 || !prefixText.All(char.IsAsciiDigit)
                || (prefix = int.Parse(prefixText, CultureInfo.InvariantCulture)) > bits)
            {
                error = $"'{s}' has prefix length '{prefixText}'; an {(bits == 32 ? "IPv4" : "IPv6")} prefix length is 0 to {bits}";
                return false;
            }
        }

        IPAddress masked = Mask(address, prefix);
        if (!masked.Equals(address))
        {
            error = $"'{s}' has address bits set beyond the first {prefix}; did you mean {masked}/{prefix}?";
            return false;
        }
        network = new IPNetwork(address, prefix);
        return true;
    }

    private static bool TryParseAddress(string host, out IPAddress? address)
    {
        address = null;
        if (host.Contains(':', StringComparison.Ordinal))
            return IPAddress.TryParse(host, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        // IPAddress.TryParse also takes "10.1" and "167772161"; a client list should say what it means.
        return ListenAddress.IsDottedQuad(host) && IPAddress.TryParse(host, out address);
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF00 >> keep);
        }
        return new IPAddress(bytes);
    }
}
