using System.Diagnostics;

namespace StorageAppliance.Protocols.Nfs.Tests.Integration;

/// <summary>Runs a real client (libnfs utilities, fio, qemu-img) with a time limit and captures what it says.</summary>
public static class ExternalTool
{
    public const string Fio = "/var/cache/storage-appliance/fio/fio";

    public sealed record Result(int ExitCode, string Output)
    {
        public override string ToString() => $"exit {ExitCode}: {Output}";
    }

    public static string? Find(string name)
    {
        if (Path.IsPathRooted(name))
            return File.Exists(name) ? name : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            var p = Path.Combine(dir, name);
            if (File.Exists(p))
                return p;
        }
        return null;
    }

    public static void Require(string name)
    {
        if (Find(name) is null)
            Assert.Ignore($"{name} is not installed (tests/setup/install-deps.sh installs it)");
    }

    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? stdinFile = null)
    {
        var psi = new ProcessStartInfo(Find(file) ?? file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            return new Result(-1, $"timed out after {timeout}: " + await stdout + await stderr);
        }
        return new Result(p.ExitCode, await stdout + await stderr);
    }
}
