using System.Text;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Mount;

// MOUNTPROC3_DUMP (RFC 1813 section 5.2.2)
//
// typedef struct mountbody *mountlist;
// struct mountbody { name ml_hostname; dirpath ml_directory; mountlist ml_next; };
public sealed partial class MountProgram
{
    private RpcOutcome Dump(RpcCall call)
    {
        List<(string Host, string Path)> mounts;
        lock (_mounts)
            mounts = new List<(string, string)>(_mounts);
        int size = 4;
        foreach (var (host, path) in mounts)
            size += 4 + XdrWriter.StringSize(Encoding.UTF8.GetByteCount(host)) + XdrWriter.StringSize(Encoding.UTF8.GetByteCount(path));
        var w = call.BeginResults(size);
        foreach (var (host, path) in mounts)
        {
            w.WriteBool(true);
            w.WriteString(host);
            w.WriteString(path);
        }
        w.WriteBool(false);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
