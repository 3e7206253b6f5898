using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

/// <summary>
/// An iSCSI session (RFC 7143 4.4.2): identified by the initiator name, its ISID and the target portal
/// group (SSID = ISID + TPGT), numbered by the target's TSIH. It owns the command numbering shared by
/// its connections; this target allows one connection per session (MaxConnections answers at most 1
/// unless configured higher, and connection allegiance is then per connection).
/// </summary>
internal sealed class IscsiSession
{
    private uint _expCmdSN;
    private uint _maxCmdSN;

    public IscsiSession(ushort tsih, ulong isid, SessionParameters parameters, IscsiTargetNode? target, uint initialCmdSN, int queueDepth)
    {
        Tsih = tsih;
        Isid = isid;
        Parameters = parameters;
        Target = target;
        QueueDepth = queueDepth;
        _expCmdSN = initialCmdSN;
        // RFC 7143 4.2.2.1: commands with CmdSN in [ExpCmdSN, MaxCmdSN] are accepted.
        _maxCmdSN = initialCmdSN + (uint)queueDepth - 1;
    }

    public ushort Tsih { get; }

    public ulong Isid { get; }

    public string InitiatorName => Parameters.InitiatorName;

    public SessionParameters Parameters { get; }

    /// <summary>The target of a normal session; null for discovery.</summary>
    public IscsiTargetNode? Target { get; }

    public int QueueDepth { get; }

    public ITNexus? Nexus { get; set; }

    public IscsiConnection? Connection { get; set; }

    public bool IsDiscovery => Parameters.SessionType == SessionType.Discovery;

    public uint ExpCmdSN => Volatile.Read(ref _expCmdSN);

    /// <summary>
    /// Grows by one each time a numbered command finishes, so the window (MaxCmdSN - ExpCmdSN + 1) is the
    /// queue depth minus the commands in progress, and MaxCmdSN never goes backwards.
    /// </summary>
    public uint MaxCmdSN => Volatile.Read(ref _maxCmdSN);

    /// <summary>Serial-number comparison (RFC 1982) of a CmdSN against the window.</summary>
    public CmdSNCheck Check(uint cmdSN)
    {
        uint exp = ExpCmdSN;
        if ((int)(cmdSN - exp) < 0)
            return CmdSNCheck.TooLow;
        if ((int)(cmdSN - MaxCmdSN) > 0)
            return CmdSNCheck.TooHigh;
        return cmdSN == exp ? CmdSNCheck.Expected : CmdSNCheck.AheadInWindow;
    }

    /// <summary>Accepts a numbered command: ExpCmdSN moves past it (only the receive loop calls this).</summary>
    public void Accept(uint cmdSN)
    {
        uint next = cmdSN + 1;
        if ((int)(next - _expCmdSN) > 0)
            Volatile.Write(ref _expCmdSN, next);
    }

    /// <summary>A numbered command left the window (finished, rejected or aborted): one more slot opens.</summary>
    public void Retire() => Interlocked.Increment(ref _maxCmdSN);

    /// <summary>Key identifying a session for reinstatement: initiator name, ISID and target.</summary>
    public static string Key(string initiatorName, ulong isid, string? targetName) =>
        $"{initiatorName.ToLowerInvariant()}|{isid:x12}|{targetName?.ToLowerInvariant()}";
}

internal enum CmdSNCheck : byte
{
    Expected,
    AheadInWindow,
    TooLow,
    TooHigh,
}

/// <summary>All sessions of this target portal group, by TSIH and by (initiator, ISID, target).</summary>
internal sealed class SessionRegistry
{
    private readonly object _lock = new();
    private readonly Dictionary<ushort, IscsiSession> _byTsih = new();
    private readonly Dictionary<string, IscsiSession> _byKey = new(StringComparer.Ordinal);
    private ushort _nextTsih = (ushort)Random.Shared.Next(1, 0xFFFF);

    public IscsiSession? FindByTsih(ushort tsih)
    {
        lock (_lock)
            return _byTsih.TryGetValue(tsih, out var s) ? s : null;
    }

    public IscsiSession? FindByKey(string key)
    {
        lock (_lock)
            return _byKey.TryGetValue(key, out var s) ? s : null;
    }

    /// <summary>Allocates a TSIH not in use (never 0, RFC 7143 11.12.8).</summary>
    public ushort AllocateTsih()
    {
        lock (_lock)
        {
            while (true)
            {
                ushort t = _nextTsih++;
                if (t != 0 && !_byTsih.ContainsKey(t))
                    return t;
            }
        }
    }

    public void Add(IscsiSession session)
    {
        lock (_lock)
        {
            _byTsih[session.Tsih] = session;
            _byKey[IscsiSession.Key(session.InitiatorName, session.Isid, session.Target?.Name)] = session;
        }
    }

    public void Remove(IscsiSession session)
    {
        lock (_lock)
        {
            if (_byTsih.TryGetValue(session.Tsih, out var s) && ReferenceEquals(s, session))
                _byTsih.Remove(session.Tsih);
            string key = IscsiSession.Key(session.InitiatorName, session.Isid, session.Target?.Name);
            if (_byKey.TryGetValue(key, out var k) && ReferenceEquals(k, session))
                _byKey.Remove(key);
        }
    }

    public List<IscsiSession> Snapshot()
    {
        lock (_lock)
            return new List<IscsiSession>(_byTsih.Values);
    }
}
