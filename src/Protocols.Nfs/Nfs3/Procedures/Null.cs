using StorageAppliance.Protocols.OncRpc;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_NULL (RFC 1813 section 3.3.0): void NFSPROC3_NULL(void) = 0;
public sealed partial class Nfs3Program
{
    private static RpcOutcome Null(RpcCall call)
    {
        call.EndResults(0);
        return RpcOutcome.Success;
    }
}
