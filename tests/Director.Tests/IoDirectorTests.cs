using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using StorageAppliance.Director;

namespace StorageAppliance.Director.Tests;

public sealed class IoDirectorTests
{
    private sealed class NullDisk(string name, long id) : IVDisk
    {
        public long Id => id;
        public string Name => name;
        public long CapacityBytes => 1 << 20;
        public bool SupportsUnmap => false;
        public event Action<IVDisk>? CapacityChanged { add { } remove { } }
        public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> FlushAsync(IoContext context) => new(IoStatus.Ok);
        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => new(new AllocationRun(IoStatus.Ok, Math.Min(maxLength, CapacityBytes - offset), true));
    }

    [Test]
    public void Registered_vdisks_resolve_by_name_and_unknown_names_do_not()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var a = new NullDisk("a", 1);
        director.Register(a);
        director.Register(new NullDisk("b", 2));
        Assert.That(director.Resolve("a"), Is.SameAs(a));
        Assert.That(director.Resolve("c"), Is.Null);
        Assert.That(director.VDisks, Has.Count.EqualTo(2));
    }

    [Test]
    public void A_name_can_be_registered_once()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        director.Register(new NullDisk("a", 1));
        Assert.Throws<InvalidOperationException>(() => director.Register(new NullDisk("a", 2)));
    }

    [Test]
    public void Unregistered_vdisks_no_longer_resolve()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        director.Register(new NullDisk("a", 1));
        Assert.That(director.Unregister("a"), Is.True);
        Assert.That(director.Resolve("a"), Is.Null);
        Assert.That(director.Unregister("a"), Is.False);
    }

    [Test]
    public void Context_names_the_protocol_and_client()
    {
        var ctx = new IoContext(IoProtocol.Iscsi, "iqn.x,i,0x1", IoPriority.Low);
        Assert.That(ctx.ToString(), Is.EqualTo("Iscsi:iqn.x,i,0x1"));
        Assert.That(ctx.Priority, Is.EqualTo(IoPriority.Low));
        Assert.That(IoContext.Internal("curator").Protocol, Is.EqualTo(IoProtocol.Internal));
    }
}
