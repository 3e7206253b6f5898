using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;

namespace StorageAppliance.Metadata.Tests;

/// <summary>
/// A writer process killed with SIGKILL in the middle of a stream of large commits: on reopen, every batch is
/// wholly present or wholly absent, and every batch whose Commit had returned is present.
/// </summary>
public sealed class SqliteCrashTests
{
    [Test]
    [CancelAfter(300_000)]
    public void SigkillDuringLargeCommits_LeavesEveryBatchWholeOrAbsent()
    {
        using var dir = new TempDirectory();
        string path = dir.File("crash.db");
        var random = new Random(11);
        long first = 1;

        for (int round = 0; round < 6; round++)
        {
            long reported = 0;
            var errors = new System.Text.StringBuilder();
            using Process child = StartWriter(path, first);
            child.OutputDataReceived += (_, e) =>
            {
                if (e.Data is { } line && line.StartsWith("committed ", StringComparison.Ordinal))
                    Volatile.Write(ref reported, long.Parse(line.AsSpan("committed ".Length)));
            };
            child.ErrorDataReceived += (_, e) =>
            {
                lock (errors)
                    errors.AppendLine(e.Data);
            };
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();

            var clock = Stopwatch.StartNew();
            while (Volatile.Read(ref reported) < first + 2)
            {
                Assert.That(child.HasExited, Is.False, () => $"the writer exited early: {errors}");
                Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "the writer committed nothing");
                Thread.Sleep(10);
            }

            // While the writer holds the store, nobody else may open it.
            var locked = Assert.Throws<MetadataException>(() => SqliteMetadataStore.Open(path, NullLogger.Instance));
            Assert.That(locked!.Message, Does.Contain("locked"));

            Thread.Sleep(random.Next(0, 400));
            child.Kill(); // SIGKILL
            child.WaitForExit();
            Assert.That(child.ExitCode, Is.EqualTo(128 + 9), "the writer did not die of SIGKILL");

            long committed = Volatile.Read(ref reported);
            using SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance);
            long drained = CrashWriter.Verify(store, committed);
            TestContext.Progress.WriteLine($"round {round}: started at {first}, {committed} reported committed, {drained} recovered");
            first = drained + 1;
        }
    }

    private static Process StartWriter(string path, long first)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(typeof(CrashWriter).Assembly.Location);
        info.ArgumentList.Add("crash-writer");
        info.ArgumentList.Add(path);
        info.ArgumentList.Add(first.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Process.Start(info)!;
    }
}
