using System.Net;

namespace StorageAppliance.Protocols.OncRpc.Portmapper;

/// <summary>
/// The embedded portmapper: program 100000, version 2 (RFC 1833 section 3, the port mapper) and versions
/// 3 and 4 (rpcbind, RFC 1833 section 2). One partial file per procedure.
/// </summary>
public sealed partial class PortmapProgram : IRpcProgram
{
    public const uint ProgramNumber = 100000;

    private readonly PortmapRegistry _registry;

    public PortmapProgram(PortmapRegistry registry)
    {
        _registry = registry;
    }

    public uint Program => ProgramNumber;

    public uint LowVersion => 2;

    public uint HighVersion => 4;

    public string Name => "portmap";

    public PortmapRegistry Registry => _registry;

    public ValueTask<RpcOutcome> HandleAsync(RpcCall call)
    {
        RpcOutcome outcome;
        if (call.Version == 2)
        {
            outcome = call.Procedure switch
            {
                0 => Null(call),
                1 => Pmap2Set(call, set: true),
                2 => Pmap2Set(call, set: false),
                3 => Pmap2GetPort(call),
                4 => Pmap2Dump(call),
                _ => RpcOutcome.ProcUnavail, // 5 CALLIT: indirect calls are not offered
            };
        }
        else
        {
            outcome = call.Procedure switch
            {
                0 => Null(call),
                1 => RpcbSet(call, set: true),
                2 => RpcbSet(call, set: false),
                3 => RpcbGetAddr(call, exactVersion: false),
                4 => RpcbDump(call),
                6 => RpcbGetTime(call),
                9 when call.Version == 4 => RpcbGetAddr(call, exactVersion: true), // RPCBPROC_GETVERSADDR
                _ => RpcOutcome.ProcUnavail,
            };
        }
        return new ValueTask<RpcOutcome>(outcome);
    }

    private static RpcOutcome Null(RpcCall call)
    {
        call.EndResults(0);
        return RpcOutcome.Success;
    }

    /// <summary>Changes to the table are accepted only from this machine (RFC 1833 leaves policy to the implementation).</summary>
    private static bool IsLocal(RpcCall call) => call.ClientAddress is null || IPAddress.IsLoopback(call.ClientAddress);
}
