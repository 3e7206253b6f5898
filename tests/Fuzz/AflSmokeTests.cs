using System.Diagnostics;
using StorageAppliance.Fuzz.Support;
using StorageAppliance.Fuzz.Targets;

namespace StorageAppliance.Fuzz;

/// <summary>
/// The bounded fuzz run of `make test`: afl-fuzz drives each target for FUZZ_SMOKE_SECONDS (default 20)
/// through tests/Fuzz/fuzz.sh, and the test fails if it found an input that fails when replayed and is
/// not a known failure. What it finds is saved under out/fuzz/crashes/TARGET and printed as base64.
/// `make fuzz` runs the same script for longer.
/// </summary>
[NonParallelizable]
public class AflSmokeTests
{
    private static int Seconds => int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SMOKE_SECONDS"), out int s) && s > 0 ? s : 20;

    public static IEnumerable<TestCaseData> Targets() => FuzzTargets.All.Where(t => t is not CanaryTarget).Select(t => new TestCaseData(t.Name).SetName($"AflFindsNoNewFailure({t.Name})"));

    [TestCaseSource(nameof(Targets))]
    public void AflFindsNoNewFailure(string target)
    {
        RequireAfl();
        var (exit, output) = RunScript($"--seconds {Seconds} {target}", TimeSpan.FromSeconds(Seconds * 6 + 300));
        TestContext.Out.WriteLine(output);
        Assert.That(output, Does.Contain($"fuzz {target}: ").And.Contain(" execs in "), "afl-fuzz did not report a run");
        Assert.That(exit, Is.EqualTo(0), $"afl-fuzz found a new failure in {target} (or did not run):\n{output}");
    }

    /// <summary>
    /// The pipeline can fail: a target with a planted bug behind a four-byte magic is fuzzed until afl finds it,
    /// and the script must report it (saved, printed, exit status 1).
    /// </summary>
    [Test]
    public void AflFindsAPlantedBug()
    {
        RequireAfl();
        var (exit, output) = RunScript($"--seconds 60 --until-crash {CanaryTarget.TargetName}", TimeSpan.FromSeconds(420));
        TestContext.Out.WriteLine(output);
        Assert.That(output, Does.Contain($"fuzz {CanaryTarget.TargetName}: NEW crashes input saved"));
        Assert.That(output, Does.Contain(nameof(CanaryTarget.PlantedBugException)));
        Assert.That(exit, Is.EqualTo(1));
    }

    private static void RequireAfl()
    {
        bool present = Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, "afl-fuzz")));
        if (present)
            return;
        if (Environment.GetEnvironmentVariable("CI") is not null)
            Assert.Fail("afl-fuzz is not installed: tests/setup/install-deps.sh installs it");
        Assert.Ignore("afl-fuzz is not installed (tests/setup/install-deps.sh installs it)");
    }

    private static (int Exit, string Output) RunScript(string arguments, TimeSpan limit)
    {
        var info = new ProcessStartInfo("bash", $"tests/Fuzz/fuzz.sh {arguments}")
        {
            WorkingDirectory = RepoRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"tests/Fuzz/fuzz.sh {arguments} did not end within {limit}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
