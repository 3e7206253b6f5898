using Microsoft.Extensions.Logging;
using StorageAppliance.Protocols.OncRpc;

namespace StorageAppliance.Protocols.Nfs.Mount;

/// <summary>mountstat3 (RFC 1813 appendix I).</summary>
public enum MountStat3 : uint
{
    Ok = 0,
    Perm = 1,
    NoEnt = 2,
    Io = 5,
    Acces = 13,
    NotDir = 20,
    Inval = 22,
    NameTooLong = 63,
    NotSupp = 10004,
    ServerFault = 10006,
}

/// <summary>
/// The MOUNT protocol version 3 (RFC 1813 appendix I), program 100005: hands out the root handle of an
/// export to clients on its list and keeps the list of mounts for DUMP. One partial file per procedure
/// under <c>Mount/Procedures/</c>.
/// </summary>
public sealed partial class MountProgram : IRpcProgram
{
    public const uint ProgramNumber = 100005;
    public const int MaxPathLength = 1024;
    public const int MaxNameLength = 255;

    private readonly NfsFileSystem _fs;
    private readonly ILogger _log;
    private readonly HashSet<(string Host, string Path)> _mounts = new();

    public MountProgram(NfsFileSystem fs, ILogger logger)
    {
        _fs = fs;
        _log = logger;
    }

    public uint Program => ProgramNumber;

    public uint LowVersion => 3;

    public uint HighVersion => 3;

    public string Name => "mount";

    public ValueTask<RpcOutcome> HandleAsync(RpcCall call)
    {
        var outcome = call.Procedure switch
        {
            0 => Null(call),
            1 => Mnt(call),
            2 => Dump(call),
            3 => Umnt(call),
            4 => UmntAll(call),
            5 => Export(call),
            _ => RpcOutcome.ProcUnavail,
        };
        return new ValueTask<RpcOutcome>(outcome);
    }

    private static string HostOf(RpcCall call) => call.ClientAddress?.ToString() ?? "local";

    private static RpcOutcome Null(RpcCall call)
    {
        call.EndResults(0);
        return RpcOutcome.Success;
    }
}
