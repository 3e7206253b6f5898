using System.Net;
using StorageAppliance.Protocols.OncRpc;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>An export at run time: its options, parsed client list and root directory.</summary>
public sealed class Export
{
    private readonly ClientMatcher[] _clients;

    internal Export(ExportOptions options, ulong rootId)
    {
        Options = options;
        Id = options.ExportId;
        RootId = rootId;
        var list = new List<ClientMatcher>();
        foreach (var c in options.Clients)
            if (ClientMatcher.TryParse(c, out var m))
                list.Add(m);
        _clients = list.ToArray();
    }

    public ExportOptions Options { get; }

    public uint Id { get; }

    public ulong RootId { get; }

    public string Path => Options.Path;

    public bool ReadOnly => Options.ReadOnly;

    /// <summary>True when <paramref name="address"/> may use the export (an empty list allows everyone; in-memory callers have no address).</summary>
    public bool IsClientAllowed(IPAddress? address)
    {
        if (_clients.Length == 0 || address is null)
            return true;
        foreach (var m in _clients)
            if (m.Matches(address))
                return true;
        return false;
    }
}

/// <summary>
/// Who a call acts as on an export, after squashing: AUTH_NONE and (with root_squash) uid 0 become the
/// anonymous uid/gid, and with root_squash group 0 is squashed too, primary or supplementary, whoever
/// sends it (as the Linux server does: a client claiming gid 0 must not get root's group access). A
/// struct over the call's credential, so building one allocates nothing.
/// </summary>
public readonly struct Caller
{
    private readonly RpcCredential? _credential;
    private readonly bool _squashGroupZero;

    public Caller(uint uid, uint gid, RpcCredential? credential)
        : this(uid, gid, credential, false)
    {
    }

    private Caller(uint uid, uint gid, RpcCredential? credential, bool squashGroupZero)
    {
        Uid = uid;
        Gid = gid;
        _credential = credential;
        _squashGroupZero = squashGroupZero;
    }

    public uint Uid { get; }

    public uint Gid { get; }

    public static Caller Of(RpcCall call, Export export)
    {
        var c = call.Credential;
        var o = export.Options;
        if (!c.IsAuthSys || (c.Uid == 0 && o.RootSquash))
            return new Caller(o.AnonUid, o.AnonGid, null);
        if (o.RootSquash)
            return new Caller(c.Uid, c.Gid == 0 ? o.AnonGid : c.Gid, c, squashGroupZero: true);
        return new Caller(c.Uid, c.Gid, c);
    }

    public bool InGroup(uint gid)
    {
        if (gid == Gid)
            return true;
        if (_credential is null || (gid == 0 && _squashGroupZero))
            return false;
        foreach (var g in _credential.Gids)
            if (g == gid)
                return true;
        return false;
    }
}
