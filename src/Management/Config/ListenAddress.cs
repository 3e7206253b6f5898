using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace StorageAppliance.Management.Config;

/// <summary>
/// A portal to listen on, written ADDR:PORT: <c>127.0.0.1:3260</c>, <c>[::1]:3260</c>, or
/// <c>*:3260</c> / <c>0.0.0.0:3260</c> for every IPv4 address. Host names are not accepted: a portal
/// must not depend on name resolution at start.
/// </summary>
public sealed record ListenAddress(IPAddress Address, int Port)
{
    /// <summary>True for 0.0.0.0 (written * or 0.0.0.0) and [::].</summary>
    public bool IsAnyAddress => Address.Equals(IPAddress.Any) || Address.Equals(IPAddress.IPv6Any);

    public IPEndPoint ToIPEndPoint() => new(Address, Port);

    /// <summary>True when both cannot be bound at once: the same address, or a wildcard of the same family, on one port.</summary>
    public bool Overlaps(ListenAddress other) =>
        Port == other.Port
        && Address.AddressFamily == other.Address.AddressFamily
        && (Address.Equals(other.Address) || IsAnyAddress || other.IsAnyAddress);

    public override string ToString() =>
        Address.AddressFamily == AddressFamily.InterNetworkV6
            ? $"[{Address}]:{Port.ToString(CultureInfo.InvariantCulture)}"
            : $"{Address}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses ADDR:PORT; on failure <paramref name="error"/> says what is wrong and how to write it.</summary>
    public static bool TryParse(string? text, out ListenAddress? address, out string? error)
    {
        address = null;
        error = null;
        string s = (text ?? "").Trim();
        string host;
        string port;
        if (s.StartsWith('['))
        {
            int close = s.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{text}' has '[' without ']' (write an IPv6 address as [::1]:3260)";
                return false;
            }
            host = s[1..close];
            string rest = s[(close + 1)..];
            if (!rest.StartsWith(':'))
            {
                error = $"'{text}' has no port (write [ADDR]:PORT, e.g. [::1]:3260)";
                return false;
            }
            port = rest[1..];
        }
        else
        {
            int colon = s.LastIndexOf(':');
            if (colon < 0)
            {
                error = $"'{text}' has no port (write ADDR:PORT, e.g. 127.0.0.1:3260)";
                return false;
            }
            if (s.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                error = $"'{text}' looks like an IPv6 address without brackets (write it as [ADDR]:PORT, e.g. [::1]:3260)";
                return false;
            }
            host = s[..colon];
            port = s[(colon + 1)..];
        }

        if (!TryParsePort(port, out int portNumber))
        {
            error = $"'{text}' has port '{port}'; a port is a number from 1 to 65535";
            return false;
        }

        IPAddress? ip;
        if (s.StartsWith('['))
        {
            if (!IPAddress.TryParse(host, out ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"'{host}' in '{text}' is not an IPv6 address";
                return false;
            }
        }
        else if (host == "*")
        {
            ip = IPAddress.Any;
        }
        else if (!IsDottedQuad(host) || !IPAddress.TryParse(host, out ip))
        {
            error = host.Length == 0
                ? $"'{text}' has no address (use 127.0.0.1, [::1], * for every address, or a local IP)"
                : $"'{host}' in '{text}' is not an IP address; listen addresses take 127.0.0.1, [::1], * for every address, or a local IP (no host names)";
            return false;
        }

        address = new ListenAddress(ip, portNumber);
        return true;
    }

    private static bool TryParsePort(string s, out int port)
    {
        port = 0;
        if (s.Length is 0 or > 5)
            return false;
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c))
                return false;
        }
        port = int.Parse(s, CultureInfo.InvariantCulture);
        return port is >= 1 and <= 65535;
    }

    // IPAddress.TryParse also takes "127.1" and "2130706433"; a config should say what it means.
    internal static bool IsDottedQuad(string s)
    {
        string[] parts = s.Split('.');
        if (parts.Length != 4)
            return false;
        foreach (string p in parts)
        {
            if (p.Length is 0 or > 3)
                return false;
            foreach (char c in p)
            {
                if (!char.IsAsciiDigit(c))
                    return false;
            }
            if (int.Parse(p, CultureInfo.InvariantCulture) > 255)
                return false;
        }
        return true;
    }
}
