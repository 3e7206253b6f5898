using System.Net;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc.Portmapper;

// rpcbind versions 3 and 4 (RFC 1833 section 2).
//
// struct rpcb { unsigned long r_prog; unsigned long r_vers; string r_netid<>; string r_addr<>; string r_owner<>; };
//
// RPCBPROC_SET(rpcb)         = 1 -> bool
// RPCBPROC_UNSET(rpcb)       = 2 -> bool
// RPCBPROC_GETADDR(rpcb)     = 3 -> string (universal address; "" when not registered)
// RPCBPROC_DUMP(void)        = 4 -> rpcblist_ptr: *rp__list { rpcb rpcb_map; rp__list *rpcb_next; }
// RPCBPROC_GETTIME(void)     = 6 -> unsigned int (seconds since 1970)
// RPCBPROC_GETVERSADDR(rpcb) = 9 (v4) -> string, for exactly that version
public sealed partial class PortmapProgram
{
    private static bool TryReadRpcb(RpcCall call, out uint prog, out uint vers, out string netId, out string addr, out string owner)
    {
        var r = new XdrReader(call.Arguments);
        netId = addr = owner = string.Empty;
        vers = 0;
        return r.TryReadUInt32(out prog) && r.TryReadUInt32(out vers) && r.TryReadString(64, out netId) && r.TryReadString(128, out addr)
            && r.TryReadString(256, out owner);
    }

    private RpcOutcome RpcbSet(RpcCall call, bool set)
    {
        if (!TryReadRpcb(call, out uint prog, out uint vers, out string netId, out string addr, out string owner))
            return RpcOutcome.GarbageArgs;
        bool ok = false;
        if (IsLocal(call))
            ok = set ? _registry.Set(new PortmapEntry(prog, vers, netId, addr, owner)) : _registry.Unset(prog, vers, netId);
        var w = call.BeginResults(4);
        w.WriteBool(ok);
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    private RpcOutcome RpcbGetAddr(RpcCall call, bool exactVersion)
    {
        if (!TryReadRpcb(call, out uint prog, out uint vers, out string netId, out _, out _))
            return RpcOutcome.GarbageArgs;
        // RFC 1833 2.2.1: "If r_netid is empty, the netid of the transport on which the request arrived is used."
        if (netId.Length == 0)
            netId = call.Connection?.LocalEndPoint is IPEndPoint l && l.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !l.Address.IsIPv4MappedToIPv6 ? "tcp6" : "tcp";
        var e = _registry.Find(prog, vers, netId, anyVersion: !exactVersion);
        string result = string.Empty;
        if (e is not null)
        {
            result = e.Value.UniversalAddress;
            // A wildcard registration is answered with the address the client reached us on.
            var host = PortmapRegistry.HostOf(result);
            if (host is not null && (host.Equals(IPAddress.Any) || host.Equals(IPAddress.IPv6Any)) && call.Connection?.LocalEndPoint is IPEndPoint local)
            {
                var a = local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address;
                result = PortmapRegistry.ToUniversalAddress(new IPEndPoint(a, e.Value.Port));
            }
        }
        var w = call.BeginResults(XdrWriter.StringSize(System.Text.Encoding.UTF8.GetByteCount(result)));
        w.WriteString(result);
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    private RpcOutcome RpcbDump(RpcCall call)
    {
        var entries = _registry.Snapshot();
        int size = 4;
        foreach (var e in entries)
            size += 12 + XdrWriter.StringSize(e.NetId.Length) + XdrWriter.StringSize(e.UniversalAddress.Length) + XdrWriter.StringSize(e.Owner.Length) * 2;
        var w = call.BeginResults(size);
        foreach (var e in entries)
        {
            w.WriteBool(true);
            w.WriteUInt32(e.Program);
            w.WriteUInt32(e.Version);
            w.WriteString(e.NetId);
            w.WriteString(e.UniversalAddress);
            w.WriteString(e.Owner);
        }
        w.WriteBool(false);
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    private static RpcOutcome RpcbGetTime(RpcCall call)
    {
        var w = call.BeginResults(4);
        w.WriteUInt32((uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
