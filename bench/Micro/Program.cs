using BenchmarkDotNet.Running;

namespace StorageAppliance.Micro;

/// <summary>
/// The data path's per-request building blocks, with allocations: iSCSI PDU framing, ONC RPC/XDR decoding,
/// CRC32C and a request through the I/O Director. <c>make bench</c> runs them; by hand:
/// <c>dotnet run -c Release --project bench/Micro -- --job short --filter '*'</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
