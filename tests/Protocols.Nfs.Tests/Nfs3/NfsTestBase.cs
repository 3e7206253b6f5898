using StorageAppliance.Protocols.Nfs.Tests.Support;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

public abstract class NfsTestBase
{
    protected NfsTestHost Host = null!;
    protected Nfs3Client Client = null!;
    protected byte[] Root = null!;

    [SetUp]
    public async Task SetUpHost()
    {
        Host = new NfsTestHost();
        Client = Host.Connect();
        var (st, fh) = await Client.MountAsync("/data");
        Assert.That(st, Is.EqualTo(0u));
        Root = fh;
    }

    [TearDown]
    public async Task TearDownHost()
    {
        await Client.DisposeAsync();
        await Host.DisposeAsync();
        Host.DeleteFiles();
    }

    protected static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}
