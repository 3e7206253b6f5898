using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Mount;

// MOUNTPROC3_UMNT (RFC 1813 section 5.2.3): void MOUNTPROC3_UMNT(dirpath) = 3;
// Removes the caller's entry from the mount list; the handle stays valid (NFS is stateless).
public sealed partial class MountProgram
{
    private RpcOutcome Umnt(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!r.TryReadString(MaxPathLength, out string path))
            return RpcOutcome.GarbageArgs;
        lock (_mounts)
            _mounts.Remove((HostOf(call), path));
        call.EndResults(0);
        return RpcOutcome.Success;
    }
}
