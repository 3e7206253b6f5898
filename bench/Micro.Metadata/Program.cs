using BenchmarkDotNet.Running;

namespace StorageAppliance.Micro.Metadata;

/// <summary>Runs the metadata micro-benchmarks: <c>dotnet run -c Release --project bench/Micro.Metadata -- --job short --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
