using StorageAppliance.Fuzz.Support;

namespace StorageAppliance.Fuzz;

/// <summary>
/// Every committed corpus file (tests/Fuzz/Corpus/TARGET) and every fixed crash input
/// (tests/Fuzz/Regressions/TARGET) replayed through its target: fast, deterministic, no afl needed, so a
/// crash once found and fixed stays a test. Inputs of bugs not yet fixed live in tests/Fuzz/KnownFailing
/// and are not replayed here.
/// </summary>
public class ReplayTests
{
    public static IEnumerable<TestCaseData> Inputs()
    {
        string root = RepoRoot.Fuzz;
        foreach (var target in FuzzTargets.All)
        {
            foreach (var set in new[] { "Corpus", "Regressions" })
            {
                string dir = Path.Combine(root, set, target.Name);
                if (!Directory.Exists(dir))
                    continue;
                foreach (var file in Directory.GetFiles(dir).OrderBy(f => f, StringComparer.Ordinal))
                    yield return new TestCaseData(target.Name, Path.Combine(set, target.Name, Path.GetFileName(file)))
                        .SetName($"Replay({set}/{target.Name}/{Path.GetFileName(file)})");
            }
        }
    }

    [TestCaseSource(nameof(Inputs))]
    public void Replay(string target, string relativePath)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(RepoRoot.Fuzz, relativePath));
        Assert.DoesNotThrow(() => FuzzTargets.Find(target).Run(input),
            $"{relativePath} (base64 {Convert.ToBase64String(input)})");
    }

    [Test]
    public void EveryTarget_HasACommittedCorpus_WithEachHandMadeSeed()
    {
        foreach (var target in FuzzTargets.All)
        {
            string dir = Path.Combine(RepoRoot.Fuzz, "Corpus", target.Name);
            Assert.That(Directory.Exists(dir), Is.True, dir);
            foreach (var (name, _) in target.Seeds())
            {
                string file = Path.Combine(dir, name);
                // Names only: a seed's bytes may drift with the helpers that build it (RpcCallHeader.WriteCall, ...),
                // and the committed file stays a valid input either way.
                Assert.That(File.Exists(file), Is.True, $"{file}: run 'dotnet StorageAppliance.Fuzz.dll seeds tests/Fuzz/Corpus'");
            }
        }
    }

    /// <summary>The known failures stay failures until fixed: then they move to Regressions (tests/Fuzz/README.md).</summary>
    [Test]
    public void KnownFailingInputs_StillFail()
    {
        string root = Path.Combine(RepoRoot.Fuzz, "KnownFailing");
        if (!Directory.Exists(root))
            Assert.Pass("no known failures");
        foreach (var dir in Directory.GetDirectories(root))
        {
            var target = FuzzTargets.Find(Path.GetFileName(dir));
            foreach (var file in Directory.GetFiles(dir))
            {
                if (Path.GetFileName(file) == "signatures")
                    continue;
                var input = File.ReadAllBytes(file);
                Assert.That(() => target.Run(input), Throws.Exception,
                    $"{file} no longer fails: move it to tests/Fuzz/Regressions/{target.Name}/ and drop its line from {dir}/signatures");
            }
        }
    }
}

/// <summary>Finds the checkout from the test's output folder (tests/Fuzz/bin/...).</summary>
public static class RepoRoot
{
    public static string Path { get; } = Find();

    public static string Fuzz => System.IO.Path.Combine(Path, "tests", "Fuzz");

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "StorageAppliance.sln")))
                return dir.FullName;
        throw new InvalidOperationException("StorageAppliance.sln not found above " + AppContext.BaseDirectory);
    }
}
