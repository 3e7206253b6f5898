using StorageAppliance.Protocols.OncRpc;

namespace StorageAppliance.Protocols.Nfs.Mount;

// MOUNTPROC3_UMNTALL (RFC 1813 section 5.2.4): void MOUNTPROC3_UMNTALL(void) = 4;
public sealed partial class MountProgram
{
    private RpcOutcome UmntAll(RpcCall call)
    {
        string host = HostOf(call);
        lock (_mounts)
            _mounts.RemoveWhere(m => m.Host == host);
        call.EndResults(0);
        return RpcOutcome.Success;
    }
}
