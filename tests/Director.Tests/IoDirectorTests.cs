using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using StorageAppliance.Director;

namespace StorageAppliance.Director.Tests;

public sealed class IoDirectorTests
{
    private class NullDisk(string name, long id) : IVDisk
    {
        public long Id => id;
        public string Name => name;
        public long CapacityBytes { get; set; } = 1 << 20;
        public bool SupportsUnmap => false;
        public event Action<IVDisk>? CapacityChanged;
        public List<(string Op, long Offset, int Length, IoContext Context)> Calls { get; } = new();
        public IoStatus Next { get; set; } = IoStatus.Ok;
        public TaskCompletionSource<IoStatus>? Pending { get; set; }

        public void Grow(long bytes)
        {
            CapacityBytes = bytes;
            CapacityChanged?.Invoke(this);
        }

        private ValueTask<IoStatus> Done(string op, long offset, int length, IoContext context)
        {
            Calls.Add((op, offset, length, context));
            return Pending is { } p ? new ValueTask<IoStatus>(p.Task) : new ValueTask<IoStatus>(Next);
        }

        public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) => Done("read", offset, destination.Length, context);
        public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) => Done("write", offset, source.Length, context);
        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => Done("unmap", offset, (int)length, context);
        public ValueTask<IoStatus> FlushAsync(IoContext context) => Done("flush", 0, 0, context);
        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => new(new AllocationRun(IoStatus.Ok, Math.Min(maxLength, CapacityBytes - offset), true));
    }

    /// <summary>A provisioner that, like the storage engine, registers what it creates with the Director.</summary>
    private sealed class FakeEngine(IoDirector director) : IVDiskProvisioner
    {
        public Dictionary<string, NullDisk> Disks { get; } = new();
        public IVDisk Create(string container, string name, long capacityBytes, int logicalBlockSize = 512, bool thin = true)
        {
            var d = new NullDisk(name, Disks.Count + 1) { CapacityBytes = capacityBytes };
            Disks[name] = d;
            director.Register(d);
            return d;
        }
        public IVDisk? Open(string name) => Disks.GetValueOrDefault(name);
        public void Resize(string name, long capacityBytes) => Disks[name].Grow(capacityBytes);
        public void Delete(string name)
        {
            if (!Disks.Remove(name))
                throw new ProvisioningException(ProvisioningError.NotFound, name);
        }
        public IReadOnlyList<VDiskDescription> List() => [];
    }

    [Test]
    public void Registered_vdisks_resolve_by_name_and_unknown_names_do_not()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var a = new NullDisk("a", 1);
        var handle = director.Register(a);
        director.Register(new NullDisk("b", 2));
        Assert.That(director.Resolve("a"), Is.SameAs(handle));
        Assert.That(director.Resolve("a")!.Backing, Is.SameAs(a));
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

    [Test]
    public async Task Requests_through_a_handle_reach_the_vdisk_with_their_context_and_are_counted()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var disk = new NullDisk("a", 7);
        var handle = director.Register(disk);
        var ctx = new IoContext(IoProtocol.Nfs, "10.0.0.9");

        Assert.That(await handle.WriteAsync(4096, new byte[8192], IoFlags.ForceUnitAccess, ctx), Is.EqualTo(IoStatus.Ok));
        Assert.That(await handle.ReadAsync(0, new byte[512], ctx), Is.EqualTo(IoStatus.Ok));
        Assert.That(await handle.UnmapAsync(0, 1 << 16, ctx), Is.EqualTo(IoStatus.Ok));
        Assert.That(await handle.FlushAsync(ctx), Is.EqualTo(IoStatus.Ok));
        disk.Next = IoStatus.MediumError;
        Assert.That(await handle.ReadAsync(0, new byte[512], ctx), Is.EqualTo(IoStatus.MediumError));

        Assert.That(disk.Calls.Select(c => c.Op), Is.EqualTo(new[] { "write", "read", "unmap", "flush", "read" }));
        Assert.That(disk.Calls[0].Offset, Is.EqualTo(4096));
        Assert.That(disk.Calls[0].Context.Client, Is.EqualTo("10.0.0.9"));
        var stats = director.Stats().Single();
        Assert.That((stats.Id, stats.Reads, stats.Writes, stats.Unmaps, stats.Flushes), Is.EqualTo((7L, 1L, 1L, 1L, 1L)));
        Assert.That((stats.BytesRead, stats.BytesWritten, stats.Errors, stats.InFlight), Is.EqualTo((512L, 8192L, 1L, 0L)));
    }

    [Test]
    public async Task A_request_that_completes_later_is_in_flight_until_it_does()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var disk = new NullDisk("a", 1) { Pending = new TaskCompletionSource<IoStatus>(TaskCreationOptions.RunContinuationsAsynchronously) };
        var handle = director.Register(disk);
        var write = handle.WriteAsync(0, new byte[4096], IoFlags.None, IoContext.Internal("test")).AsTask();
        Assert.That(handle.Stats.InFlight, Is.EqualTo(1));
        disk.Pending.SetResult(IoStatus.Ok);
        Assert.That(await write, Is.EqualTo(IoStatus.Ok));
        Assert.That((handle.Stats.InFlight, handle.Stats.Writes, handle.Stats.BytesWritten), Is.EqualTo((0L, 1L, 4096L)));
    }

    [Test]
    public void Provisioning_through_the_director_hands_out_director_handles()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var engine = new FakeEngine(director);
        director.AttachProvisioner(engine);

        var created = director.Create("c", "v1", 1 << 20);
        Assert.That(created, Is.InstanceOf<DirectedVDisk>());
        Assert.That(((DirectedVDisk)created).Backing, Is.SameAs(engine.Disks["v1"]));
        Assert.That(director.Open("v1"), Is.SameAs(created));
        Assert.That(director.Open("nope"), Is.Null);

        int changes = 0;
        IVDisk? reported = null;
        created.CapacityChanged += v => { changes++; reported = v; };
        director.Resize("v1", 2 << 20);
        Assert.That((changes, reported, created.CapacityBytes), Is.EqualTo((1, (IVDisk)created, 2L << 20)));

        director.Delete("v1");
        Assert.That(director.Resolve("v1"), Is.Null);
        Assert.Throws<ProvisioningException>(() => director.Delete("v1"));
    }

    [Test]
    public void Provisioning_without_an_engine_is_a_clear_error()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var e = Assert.Throws<InvalidOperationException>(() => director.Create("c", "v", 1 << 20));
        Assert.That(e!.Message, Does.Contain("no storage engine"));
    }

    [Test]
    public void The_synchronous_path_through_the_director_allocates_nothing()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var handle = director.Register(new CountingDisk());
        var buffer = new byte[4096];
        var ctx = IoContext.Internal("test");
        for (int i = 0; i < 100; i++)
            _ = handle.WriteAsync(0, buffer, IoFlags.None, ctx).Result;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            _ = handle.WriteAsync(i * 4096L, buffer, IoFlags.None, ctx).Result;
            _ = handle.ReadAsync(i * 4096L, buffer, ctx).Result;
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.EqualTo(0));
        Assert.That(handle.Stats.Writes, Is.EqualTo(10_100));
    }

    private sealed class CountingDisk : IVDisk
    {
        public long Id => 3;
        public string Name => "counting";
        public long CapacityBytes => 1L << 40;
        public bool SupportsUnmap => true;
        public event Action<IVDisk>? CapacityChanged { add { } remove { } }
        public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> FlushAsync(IoContext context) => new(IoStatus.Ok);
        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => new(new AllocationRun(IoStatus.Ok, maxLength, true));
    }
}
