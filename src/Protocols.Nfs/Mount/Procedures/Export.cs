using System.Text;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Mount;

// MOUNTPROC3_EXPORT (RFC 1813 section 5.2.5)
//
// typedef struct groupnode *groups;
// struct groupnode { name gr_name; groups gr_next; };
// typedef struct exportnode *exports;
// struct exportnode { dirpath ex_dir; groups ex_groups; exports ex_next; };
//
// Each export with its client list ("*" when open to all).
public sealed partial class MountProgram
{
    private RpcOutcome Export(RpcCall call)
    {
        int size = 4;
        foreach (var e in _fs.Exports)
        {
            size += 4 + XdrWriter.StringSize(Encoding.UTF8.GetByteCount(e.Path)) + 4 + 12;
            foreach (var c in e.Options.Clients)
                size += 4 + XdrWriter.StringSize(Encoding.UTF8.GetByteCount(c));
        }
        var w = call.BeginResults(size);
        foreach (var e in _fs.Exports)
        {
            w.WriteBool(true);
            w.WriteString(e.Path);
            if (e.Options.Clients.Count == 0)
            {
                w.WriteBool(true);
                w.WriteString("*");
            }
            else
            {
                foreach (var c in e.Options.Clients)
                {
                    w.WriteBool(true);
                    w.WriteString(c);
                }
            }
            w.WriteBool(false);
        }
        w.WriteBool(false);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
