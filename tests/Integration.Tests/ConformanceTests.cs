using System.Text.RegularExpressions;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// libiscsi's public conformance suite (iscsi-test-cu) against the appliance, family by family. A
/// family passes when no test fails; skips of a test because a feature is missing are counted and
/// reported, and a skip for a command the appliance should implement fails the family.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ConformanceTests
{
    private ApplianceProcess _appliance = null!;

    /// <summary>The families the iSCSI target issue requires to pass with zero failures.</summary>
    public static readonly string[] Families =
    [
        "iSCSI.iSCSIcmdsn", "iSCSI.iSCSIdatasn", "iSCSI.iSCSIResiduals", "iSCSI.iSCSITMF",
        "SCSI.Inquiry", "SCSI.ReadCapacity10", "SCSI.ReadCapacity16",
        "SCSI.Read6", "SCSI.Read10", "SCSI.Read12", "SCSI.Read16",
        "SCSI.Write10", "SCSI.Write12", "SCSI.Write16",
        "SCSI.WriteVerify10", "SCSI.WriteVerify12", "SCSI.WriteVerify16",
        "SCSI.Verify10", "SCSI.Verify12", "SCSI.Verify16",
        "SCSI.TestUnitReady", "SCSI.ModeSense6", "SCSI.ReportSupportedOpcodes",
        "SCSI.Prefetch10", "SCSI.Prefetch16", "SCSI.PreventAllow", "SCSI.NoMedia",
        "SCSI.Mandatory", "SCSI.StartStopUnit",
    ];

    [OneTimeSetUp]
    public void Start() => _appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("1GiB"));

    [OneTimeTearDown]
    public void Stop() => _appliance.Dispose();

    [TestCaseSource(nameof(Families))]
    public void Family_passes_with_zero_failures(string family)
    {
        var result = RunSuite(_appliance.Url(), family);
        TestContext.Out.WriteLine(result.Summary);
        Assert.That(result.Ran, Is.GreaterThan(0), $"no test of {family} ran:\n{result.Output}");
        Assert.That(result.Failed, Is.EqualTo(0), $"{family}: {result.Failed} of {result.Ran} failed:\n{result.Output}");
        Assert.That(result.FeatureSkips, Is.Empty, $"{family}: tests skipped for a missing feature:\n  " + string.Join("\n  ", result.FeatureSkips));
        Assert.That(_appliance.HasExited, Is.False, "the appliance must survive the suite");
    }

    internal sealed record SuiteResult(int Ran, int Passed, int Failed, List<string> FeatureSkips, string Output)
    {
        public string Summary => $"ran {Ran}, passed {Passed}, failed {Failed}, feature skips {FeatureSkips.Count}";
    }

    /// <summary>
    /// Skip lines that only report the harness's own probe for PERSISTENT RESERVE (printed before every
    /// test, whatever the family) are not counted; any other "[SKIPPED] ... not implemented" is.
    /// </summary>
    internal static SuiteResult RunSuite(string url, string family, string? secondUrl = null)
    {
        var args = new List<string> { "-d", "-i", "iqn.2026-11.test:initiator1", "-I", "iqn.2026-11.test:initiator2", url };
        if (secondUrl is not null)
            args.Add(secondUrl);
        args.AddRange(["-t", family]);
        var r = Client.Run("iscsi-test-cu", args, TimeSpan.FromMinutes(10));
        string output = r.All;
        var m = Regex.Match(output, @"tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)");
        if (!m.Success)
            Assert.Fail($"iscsi-test-cu printed no summary (exit {r.ExitCode}):\n{output}");
        int ran = int.Parse(m.Groups[2].Value), passed = int.Parse(m.Groups[3].Value), failed = int.Parse(m.Groups[4].Value);
        var skips = Regex.Matches(output, @"\[SKIPPED\][^\n]*")
            .Select(x => x.Value.Trim())
            .Where(s => !s.Contains("PERSISTENT RESERVE IN is not implemented", StringComparison.Ordinal))
            .Where(s => s.Contains("not implemented", StringComparison.OrdinalIgnoreCase) || s.Contains("not supported", StringComparison.OrdinalIgnoreCase))
            .Distinct()
            .ToList();
        return new SuiteResult(ran, passed, failed, skips, output);
    }
}
