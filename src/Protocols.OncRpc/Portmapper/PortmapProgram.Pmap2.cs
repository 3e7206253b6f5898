using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc.Portmapper;

// Port mapper version 2 (RFC 1833 section 3).
//
// struct mapping { unsigned int prog; unsigned int vers; unsigned int prot; unsigned int port; };
//
// PMAPPROC_SET(mapping)     = 1 -> bool
// PMAPPROC_UNSET(mapping)   = 2 -> bool     (prot and port are ignored)
// PMAPPROC_GETPORT(mapping) = 3 -> unsigned int port (0: not registered)
// PMAPPROC_DUMP(void)       = 4 -> pmaplist: *pmaplist { mapping map; pmaplist next; }
public sealed partial class PortmapProgram
{
    private static bool TryReadMapping(RpcCall call, out uint prog, out uint vers, out uint prot, out uint port)
    {
        var r = new XdrReader(call.Arguments);
        prot = port = vers = 0;
        return r.TryReadUInt32(out prog) & r.TryReadUInt32(out vers) & r.TryReadUInt32(out prot) & r.TryReadUInt32(out port);
    }

    private RpcOutcome Pmap2Set(RpcCall call, bool set)
    {
        if (!TryReadMapping(call, out uint prog, out uint vers, out uint prot, out uint port))
            return RpcOutcome.GarbageArgs;
        bool ok = false;
        if (IsLocal(call))
        {
            string netId = prot == 17 ? "udp" : "tcp";
            ok = set
                ? port <= ushort.MaxValue && _registry.Set(new PortmapEntry(prog, vers, netId, PortmapRegistry.ToUniversalAddress(new System.Net.IPEndPoint(System.Net.IPAddress.Any, (int)port)), "pmap2"))
                : _registry.Unset(prog, vers, null);
        }
        var w = call.BeginResults(4);
        w.WriteBool(ok);
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    private RpcOutcome Pmap2GetPort(RpcCall call)
    {
        if (!TryReadMapping(call, out uint prog, out uint vers, out uint prot, out _))
            return RpcOutcome.GarbageArgs;
        var e = _registry.Find(prog, vers, prot == 17 ? "udp" : "tcp", anyVersion: false);
        var w = call.BeginResults(4);
        w.WriteUInt32(e is null ? 0u : (uint)e.Value.Port);
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    private RpcOutcome Pmap2Dump(RpcCall call)
    {
        var entries = _registry.Snapshot();
        var w = call.BeginResults(4 + entries.Count * 20);
        foreach (var e in entries)
        {
            if (e.NetId is not ("tcp" or "udp"))
                continue;
            w.WriteBool(true);
            w.WriteUInt32(e.Program);
            w.WriteUInt32(e.Version);
            w.WriteUInt32(e.Protocol);
            w.WriteUInt32((uint)e.Port);
        }
        w.WriteBool(false);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
