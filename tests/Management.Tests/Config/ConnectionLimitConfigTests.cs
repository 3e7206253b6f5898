using StorageAppliance.Management.Config;

namespace StorageAppliance.Management.Tests.Config;

// nfs.connection_limit(_per_client), nfs.idle_timeout, nfs.record_timeout, iscsi.connection_limit(_per_client).
public class ConnectionLimitConfigTests
{
    [Test]
    public void Limits_and_timeouts_are_bound_with_datastore_defaults()
    {
        ApplianceConfig d = Yaml.Load(Yaml.With("nfs:"));
        Assert.That((d.Nfs.ConnectionLimit, d.Nfs.ConnectionLimitPerClient, d.Nfs.IdleTimeout, d.Nfs.RecordTimeout),
            Is.EqualTo((1024, 64, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30))));
        Assert.That((d.Iscsi.ConnectionLimit, d.Iscsi.ConnectionLimitPerClient), Is.EqualTo((1024, 64)));

        ApplianceConfig c = Yaml.Load(Yaml.With("""
            iscsi:
              connection_limit: 300
              connection_limit_per_client: 20
            nfs:
              connection_limit: 200
              connection_limit_per_client: 10
              idle_timeout: 0
              record_timeout: 2m
            """));
        Assert.That((c.Nfs.ConnectionLimit, c.Nfs.ConnectionLimitPerClient, c.Nfs.IdleTimeout, c.Nfs.RecordTimeout),
            Is.EqualTo((200, 10, TimeSpan.Zero, TimeSpan.FromMinutes(2))));
        Assert.That((c.Iscsi.ConnectionLimit, c.Iscsi.ConnectionLimitPerClient), Is.EqualTo((300, 20)));
    }

    [Test]
    public void A_per_client_limit_above_the_total_is_refused_with_its_key()
    {
        var e = Yaml.Fails(Yaml.With("nfs:\n  connection_limit: 10\n  connection_limit_per_client: 11"));
        Assert.That(e.Message, Does.Contain("nfs.connection_limit_per_client").And.Contain("larger than connection_limit 10"));
        e = Yaml.Fails(Yaml.With("iscsi:\n  connection_limit_per_client: 2000"));
        Assert.That(e.Message, Does.Contain("iscsi.connection_limit_per_client").And.Contain("larger than connection_limit 1024"));
    }

    [Test]
    public void Limits_below_one_and_too_short_timeouts_are_refused()
    {
        Assert.That(Yaml.Fails(Yaml.With("nfs:\n  connection_limit: 0")).Message, Does.Contain("nfs.connection_limit"));
        Assert.That(Yaml.Fails(Yaml.With("nfs:\n  record_timeout: 0")).Message, Does.Contain("nfs.record_timeout").And.Contain("at least 1s"));
        Assert.That(Yaml.Fails(Yaml.With("nfs:\n  idle_timeout: 500ms")).Message, Does.Contain("nfs.idle_timeout"));
    }
}
