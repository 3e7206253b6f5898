using System.Net;
using StorageAppliance.Common.Net;

namespace StorageAppliance.Common.Tests.Net;

public class ConnectionGateTests
{
    [Test]
    public void Admits_up_to_the_per_client_limit_then_refuses_that_client_only()
    {
        var gate = new ConnectionGate(maxTotal: 10, maxPerClient: 3);
        var a = IPAddress.Parse("127.0.0.2");
        var b = IPAddress.Parse("127.0.0.3");
        for (int i = 0; i < 3; i++)
            Assert.That(gate.TryAdmit(a), Is.EqualTo(Admission.Admitted));
        Assert.That(gate.TryAdmit(a), Is.EqualTo(Admission.PerClientLimit));
        Assert.That(gate.TryAdmit(b), Is.EqualTo(Admission.Admitted));
        gate.Release(a);
        Assert.That(gate.TryAdmit(a), Is.EqualTo(Admission.Admitted), "a released slot is free again");
        Assert.That(gate.Count, Is.EqualTo(4));
    }

    [Test]
    public void Refuses_past_the_total_and_counts_an_ipv4_mapped_address_as_ipv4()
    {
        var gate = new ConnectionGate(maxTotal: 2, maxPerClient: 2);
        Assert.That(gate.TryAdmit(IPAddress.Parse("10.0.0.1")), Is.EqualTo(Admission.Admitted));
        Assert.That(gate.TryAdmit(IPAddress.Parse("::ffff:10.0.0.1")), Is.EqualTo(Admission.Admitted));
        Assert.That(gate.CountOf(IPAddress.Parse("10.0.0.1")), Is.EqualTo(2));
        Assert.That(gate.TryAdmit(IPAddress.Parse("10.0.0.2")), Is.EqualTo(Admission.TotalLimit));
        gate.Release(IPAddress.Parse("::ffff:10.0.0.1"));
        gate.Release(IPAddress.Parse("10.0.0.1"));
        Assert.That(gate.Count, Is.Zero);
        Assert.That(gate.CountOf(IPAddress.Parse("10.0.0.1")), Is.Zero);
    }

    [Test]
    public void Stays_exact_under_concurrent_admits_and_releases()
    {
        var gate = new ConnectionGate(maxTotal: 50, maxPerClient: 50);
        var client = IPAddress.Loopback;
        int peakSeen = 0;
        Parallel.For(0, 20_000, _ =>
        {
            if (gate.TryAdmit(client) == Admission.Admitted)
            {
                int now = gate.Count;
                InterlockedMax(ref peakSeen, now);
                gate.Release(client);
            }
        });
        Assert.That(gate.Count, Is.Zero);
        Assert.That(peakSeen, Is.LessThanOrEqualTo(50));
    }

    [Test]
    public void Rejects_limits_below_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConnectionGate(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConnectionGate(1, 0));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}

public class AcceptBackoffTests
{
    [Test]
    public void Doubles_from_the_first_delay_to_the_cap_and_reports_one_episode()
    {
        var backoff = new AcceptBackoff();
        Assert.That(backoff.Succeeded(out _, out _), Is.False, "no episode before a failure");
        var delays = new List<TimeSpan>();
        int starts = 0;
        for (int i = 0; i < 20; i++)
        {
            delays.Add(backoff.Failed(out bool started));
            if (started)
                starts++;
        }
        Assert.That(starts, Is.EqualTo(1), "one log line per episode");
        Assert.That(delays[0], Is.EqualTo(AcceptBackoff.FirstDelay));
        Assert.That(delays[1], Is.EqualTo(AcceptBackoff.FirstDelay * 2));
        Assert.That(delays.Max(), Is.EqualTo(AcceptBackoff.MaxDelay));
        Assert.That(delays[^1], Is.EqualTo(AcceptBackoff.MaxDelay));
        Assert.That(backoff.Succeeded(out long failures, out _), Is.True);
        Assert.That(failures, Is.EqualTo(20));
        Assert.That(backoff.Succeeded(out _, out _), Is.False, "the episode ended");
        Assert.That(backoff.Failed(out bool again), Is.EqualTo(AcceptBackoff.FirstDelay));
        Assert.That(again, Is.True, "a new episode starts over");
    }
}

public class LogThrottleTests
{
    [Test]
    public void Lets_one_line_through_per_interval_and_counts_the_rest()
    {
        var throttle = new LogThrottle(TimeSpan.FromHours(1));
        Assert.That(throttle.ShouldLog(out long suppressed), Is.True);
        Assert.That(suppressed, Is.Zero);
        for (int i = 0; i < 1000; i++)
            Assert.That(throttle.ShouldLog(out _), Is.False);

        var zero = new LogThrottle(TimeSpan.Zero);
        Assert.That(zero.ShouldLog(out _), Is.True);
        Assert.That(zero.ShouldLog(out _), Is.True);
    }
}
