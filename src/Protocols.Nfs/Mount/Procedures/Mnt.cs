using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Mount;

// MOUNTPROC3_MNT (RFC 1813 section 5.2.1)
//
// typedef string dirpath<MNTPATHLEN>;      /* 1024 */
// struct mountres3_ok { fhandle3 fhandle; int auth_flavors<>; };
// union mountres3 switch (mountstat3 fhs_status) { case MNT3_OK: mountres3_ok mountinfo; default: void; };
//
// The path is an export's path or a directory below it. A client outside the export's list gets
// MNT3ERR_ACCES and no handle.
public sealed partial class MountProgram
{
    private RpcOutcome Mnt(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!r.TryReadUInt32(out uint length))
            return RpcOutcome.GarbageArgs;
        if (length > MaxPathLength)
            return MntReply(call, MountStat3.NameTooLong, null);
        var r2 = new XdrReader(call.Arguments);
        if (!r2.TryReadString(MaxPathLength, out string path))
            return RpcOutcome.GarbageArgs;
        var (status, node) = Resolve(call, path);
        if (status != MountStat3.Ok)
        {
            NfsLog.MountRefused(_log, path, HostOf(call), status.ToString());
            return MntReply(call, status, null);
        }
        lock (_mounts)
            _mounts.Add((HostOf(call), path));
        NfsLog.Mounted(_log, HostOf(call), path);
        return MntReply(call, MountStat3.Ok, node);
    }

    private (MountStat3, NfsNode?) Resolve(RpcCall call, string path)
    {
        if (path.Length == 0 || path[0] != '/')
            return (MountStat3.NoEnt, null);
        // The longest export path that is the path or a parent of it.
        Export? export = null;
        foreach (var e in _fs.Exports)
        {
            if ((path == e.Path || e.Path == "/" || path.StartsWith(e.Path + "/", StringComparison.Ordinal)) && (export is null || e.Path.Length > export.Path.Length))
                export = e;
        }
        if (export is null)
            return (MountStat3.NoEnt, null);
        if (!export.IsClientAllowed(call.ClientAddress))
            return (MountStat3.Acces, null);
        var node = _fs.GetNode(export.RootId);
        if (node is null)
            return (MountStat3.ServerFault, null);
        var caller = Caller.Of(call, export);
        foreach (var part in path.Substring(export.Path.Length).Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.Length > MaxNameLength)
                return (MountStat3.NameTooLong, null);
            var st = _fs.Lookup(node!, System.Text.Encoding.UTF8.GetBytes(part), caller, out var child);
            if (st != Nfsstat3.Ok)
                return (st switch { Nfsstat3.NotDir => MountStat3.NotDir, Nfsstat3.Acces => MountStat3.Acces, _ => MountStat3.NoEnt }, null);
            node = child;
        }
        if (node!.Type != Ftype3.Dir)
            return (MountStat3.NotDir, null);
        return (MountStat3.Ok, node);
    }

    private RpcOutcome MntReply(RpcCall call, MountStat3 status, NfsNode? root)
    {
        var w = call.BeginResults(64 + FileHandle.Size);
        w.WriteUInt32((uint)status);
        if (status == MountStat3.Ok)
        {
            Nfs3Xdr.WriteHandle(ref w, _fs.HandleOf(root!));
            w.WriteUInt32(1);
            w.WriteUInt32((uint)AuthFlavor.Sys);
        }
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
