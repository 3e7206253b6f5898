using System.Net;
using System.Net.Sockets;

namespace StorageAppliance.Common.Net;

/// <summary>What both listeners (iSCSI and ONC RPC) do with a socket they have just accepted.</summary>
public static class AcceptedSocket
{
    /// <summary>The client's address as the connection limits count it (IPv4-mapped IPv6 as IPv4), or null when unknown.</summary>
    public static IPAddress? ClientAddress(Socket client)
    {
        try
        {
            return client.RemoteEndPoint is IPEndPoint ip ? (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address) : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>
    /// Closes a refused connection with a reset rather than a graceful close: the client learns at once and
    /// no TIME_WAIT is left on this side.
    /// </summary>
    public static void Refuse(Socket client)
    {
        try
        {
            client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }
        client.Dispose();
    }
}
