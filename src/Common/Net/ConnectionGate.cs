using System.Net;

namespace StorageAppliance.Common.Net;

/// <summary>Why a connection was or was not admitted.</summary>
public enum Admission : byte
{
    Admitted,

    /// <summary>The listener already serves its total limit of connections.</summary>
    TotalLimit,

    /// <summary>This client address already has its limit of connections.</summary>
    PerClientLimit,
}

/// <summary>
/// Counts the connections a front end serves, in total and per client address, and admits a new one
/// only within both limits. A front end that accepts without a bound runs out of descriptors and memory
/// when a client opens connections and never uses them; refusing at once after accept costs one
/// descriptor for a moment and keeps every admitted connection served.
/// </summary>
public sealed class ConnectionGate
{
    private readonly object _lock = new();
    private readonly Dictionary<IPAddress, int> _perClient = new();
    private int _total;

    public ConnectionGate(int maxTotal, int maxPerClient)
    {
        if (maxTotal < 1)
            throw new ArgumentOutOfRangeException(nameof(maxTotal), maxTotal, "at least 1");
        if (maxPerClient < 1)
            throw new ArgumentOutOfRangeException(nameof(maxPerClient), maxPerClient, "at least 1");
        MaxTotal = maxTotal;
        MaxPerClient = maxPerClient;
    }

    public int MaxTotal { get; }

    public int MaxPerClient { get; }

    public int Count => Volatile.Read(ref _total);

    /// <summary>Connections now open from <paramref name="client"/>.</summary>
    public int CountOf(IPAddress client)
    {
        lock (_lock)
            return _perClient.TryGetValue(Normalize(client), out int n) ? n : 0;
    }

    /// <summary>Admits a connection from <paramref name="client"/> (null: not an IP transport, counted in the total only).</summary>
    public Admission TryAdmit(IPAddress? client)
    {
        lock (_lock)
        {
            if (_total >= MaxTotal)
                return Admission.TotalLimit;
            if (client is not null)
            {
                client = Normalize(client);
                _perClient.TryGetValue(client, out int n);
                if (n >= MaxPerClient)
                    return Admission.PerClientLimit;
                _perClient[client] = n + 1;
            }
            _total++;
            return Admission.Admitted;
        }
    }

    /// <summary>Gives back what <see cref="TryAdmit"/> admitted; call exactly once per admitted connection.</summary>
    public void Release(IPAddress? client)
    {
        lock (_lock)
        {
            if (client is not null)
            {
                client = Normalize(client);
                if (_perClient.TryGetValue(client, out int n))
                {
                    if (n <= 1)
                        _perClient.Remove(client);
                    else
                        _perClient[client] = n - 1;
                }
            }
            _total--;
        }
    }

    // One client reaching a dual-mode socket over IPv4 shows up as ::ffff:a.b.c.d; count it as a.b.c.d.
    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
