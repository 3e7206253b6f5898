namespace StorageAppliance.Metadata.Tests;

/// <summary>
/// Entry point of this test assembly when it runs as a child process of the crash tests
/// (`dotnet exec StorageAppliance.Metadata.Tests.dll crash-writer PATH FIRST-GENERATION`). The test runner never calls it.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "crash-writer" && long.TryParse(args[2], out long first))
            return CrashWriter.Run(args[1], first);
        Console.Error.WriteLine("usage: StorageAppliance.Metadata.Tests crash-writer PATH FIRST-GENERATION   (a helper of the metadata crash tests)");
        return 2;
    }
}
