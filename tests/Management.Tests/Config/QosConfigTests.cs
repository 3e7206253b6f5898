using StorageAppliance.Management.Config;

namespace StorageAppliance.Management.Tests.Config;

public sealed class QosConfigTests
{
    // Yaml.Valid with a qos mapping under disk0; its keys start on line 7, column 9.
    private static string WithQos(string body) =>
        Yaml.Valid.Replace("    size: 8GiB\n", "    size: 8GiB\n    qos:\n" + string.Concat(body.Split('\n').Select(l => "      " + l + "\n")));

    [Test]
    public void NoQos_IsHighClassWeightOneUnlimited()
    {
        QosConfig q = Yaml.Load(Yaml.Valid).VDisks[0].Qos;
        Assert.That((q.LowPriority, q.Weight, q.IopsLimit, q.BandwidthLimit, q.IopsBurst, q.BandwidthBurst, q.MaxOutstanding),
            Is.EqualTo((false, 1, 0L, 0L, 0L, 0L, 0)));
    }

    [Test]
    public void EveryKey_IsBound()
    {
        QosConfig q = Yaml.Load(WithQos("class: low\nweight: 3\niops: 1000\niops_burst: 50\nbandwidth: 100MiB/s\nbandwidth_burst: 4MiB\nmax_outstanding: 16")).VDisks[0].Qos;
        Assert.That((q.LowPriority, q.Weight, q.IopsLimit, q.IopsBurst, q.BandwidthLimit, q.BandwidthBurst, q.MaxOutstanding),
            Is.EqualTo((true, 3, 1000L, 50L, 100L << 20, 4L << 20, 16)));
    }

    [Test]
    public void BandwidthWithoutPerSecond_IsAccepted()
    {
        Assert.That(Yaml.Load(WithQos("bandwidth: 64MiB")).VDisks[0].Qos.BandwidthLimit, Is.EqualTo(64L << 20));
    }

    [Test]
    public void UnknownClass_IsReported()
    {
        Yaml.FailsAt(WithQos("class: urgent"), 8, 14, "vdisks[0].qos.class", "'urgent' is not a QoS class (use high or low)");
    }

    [Test]
    public void ZeroWeight_IsReported()
    {
        Yaml.FailsAt(WithQos("weight: 0"), 8, 15, "vdisks[0].qos.weight", "out of range (1..10000)");
    }

    [Test]
    public void NegativeIops_IsReported()
    {
        Yaml.FailsAt(WithQos("iops: -5"), 8, 13, "vdisks[0].qos.iops", "out of range");
    }

    [Test]
    public void BurstWithoutLimit_IsReported()
    {
        Yaml.FailsAt(WithQos("iops_burst: 10"), 8, 19, "vdisks[0].qos.iops_burst", "a burst needs a limit: set iops too");
    }

    [Test]
    public void BadBandwidth_IsReported()
    {
        Yaml.FailsAt(WithQos("bandwidth: fast"), 8, 18, "vdisks[0].qos.bandwidth", "fast");
    }

    [Test]
    public void MisspeltKey_IsReportedWithAHint()
    {
        Yaml.FailsAt(WithQos("wieght: 2"), 8, 7, "vdisks[0].qos.wieght", "did you mean 'weight'?");
    }
}

public sealed class ContainerQosConfigTests
{
    [Test]
    public void Limits_AreBound()
    {
        QosConfig q = Yaml.Load(Yaml.Valid.Replace("  - name: default\n", "  - name: default\n    qos: {iops: 20000, iops_burst: 500, bandwidth: 400MiB/s}\n")).Containers[0].Qos;
        Assert.That((q.IopsLimit, q.IopsBurst, q.BandwidthLimit), Is.EqualTo((20000L, 500L, 400L << 20)));
    }

    [Test]
    public void ClassAndWeight_BelongToVDisks()
    {
        ConfigException ex = Yaml.Fails(Yaml.Valid.Replace("  - name: default\n", "  - name: default\n    qos: {weight: 2}\n"));
        Assert.That(ex.Message, Does.Contain("containers[0].qos.weight: unknown key 'weight'"));
    }
}

public sealed class DirectorConfigTests
{
    [Test]
    public void Defaults()
    {
        DirectorConfig d = Yaml.Load(Yaml.Valid).Director;
        Assert.That((d.MaxOutstanding, d.LowMinShare, d.LowMaxOutstanding), Is.EqualTo((32, 0.05, 4)));
    }

    [Test]
    public void EveryKey_IsBound()
    {
        DirectorConfig d = Yaml.Load(Yaml.With("director: {max_outstanding: 16, low_min_share: 20%, low_max_outstanding: 2}")).Director;
        Assert.That((d.MaxOutstanding, d.LowMinShare, d.LowMaxOutstanding), Is.EqualTo((16, 0.2, 2)));
        Assert.That(Yaml.Load(Yaml.With("director: {low_min_share: 0.05}")).Director.LowMinShare, Is.EqualTo(0.05));
    }

    [Test]
    public void TooLargeAShare_IsReported()
    {
        Yaml.FailsAt(Yaml.With("director:\n  low_min_share: 60%"), 13, 18, "director.low_min_share", "is not a share between 0 and 50%");
    }

    [Test]
    public void LowCapAboveTheTotal_IsReported()
    {
        Yaml.FailsAt(Yaml.With("director:\n  max_outstanding: 8\n  low_max_outstanding: 9"), 14, 24, "director.low_max_outstanding", "9 is more than max_outstanding (8)");
    }
}
