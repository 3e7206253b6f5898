using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// The credential of a call, AUTH_SYS or AUTH_NONE (RFC 5531 appendix A).
/// <code>
/// struct authsys_parms {
///    unsigned int stamp;
///    string machinename&lt;255&gt;;
///    unsigned int uid;
///    unsigned int gid;
///    unsigned int gids&lt;16&gt;;
/// };
/// </code>
/// The supplementary gids live in an array the call object owns, so parsing allocates nothing.
/// </summary>
public sealed class RpcCredential
{
    public const int MaxGids = 16;

    private readonly uint[] _gids = new uint[MaxGids];

    public AuthFlavor Flavor { get; private set; }

    public uint Uid { get; private set; }

    public uint Gid { get; private set; }

    public int GidCount { get; private set; }

    public ReadOnlySpan<uint> Gids => _gids.AsSpan(0, GidCount);

    public bool IsAuthSys => Flavor == AuthFlavor.Sys;

    internal void SetNone()
    {
        Flavor = AuthFlavor.None;
        Uid = uint.MaxValue;
        Gid = uint.MaxValue;
        GidCount = 0;
    }

    /// <summary>Parses the body of an AUTH_SYS credential; false if malformed (AUTH_BADCRED).</summary>
    internal bool TryParseSys(ReadOnlySpan<byte> body)
    {
        var r = new XdrReader(body);
        if (!r.TryReadUInt32(out _) || !r.TryReadOpaque(255, out _) || !r.TryReadUInt32(out uint uid) || !r.TryReadUInt32(out uint gid)
            || !r.TryReadUInt32(out uint count) || count > MaxGids)
            return false;
        for (int i = 0; i < count; i++)
        {
            if (!r.TryReadUInt32(out _gids[i]))
                return false;
        }
        Flavor = AuthFlavor.Sys;
        Uid = uid;
        Gid = gid;
        GidCount = (int)count;
        return true;
    }

    /// <summary>For tests and internal callers.</summary>
    public void Set(uint uid, uint gid, ReadOnlySpan<uint> gids)
    {
        Flavor = AuthFlavor.Sys;
        Uid = uid;
        Gid = gid;
        GidCount = Math.Min(gids.Length, MaxGids);
        gids[..GidCount].CopyTo(_gids);
    }
}
