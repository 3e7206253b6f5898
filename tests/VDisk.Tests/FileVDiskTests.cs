using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using StorageAppliance.Director;

namespace StorageAppliance.VDisk.Tests;

public sealed class FileVDiskTests
{
    private string _dir = null!;
    private static readonly IoContext Ctx = IoContext.Internal("test");

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("vdisk-test-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private FileVDisk Open(long capacity = 1 << 20) => FileVDisk.Open(7, "d", Path.Combine(_dir, "sub", "d.vdisk"), capacity, NullLogger.Instance);

    [Test]
    public async Task Never_written_blocks_read_as_zeros_and_the_file_is_sparse()
    {
        using var v = Open(64L << 20);
        var buffer = new byte[4096];
        Array.Fill(buffer, (byte)0xEE);
        Assert.That(await v.ReadAsync(32L << 20, buffer, Ctx), Is.EqualTo(IoStatus.Ok));
        Assert.That(buffer, Is.All.EqualTo(0));
        var info = new FileInfo(v.Path);
        Assert.That(info.Length, Is.EqualTo(64L << 20));
    }

    [Test]
    public async Task Writes_read_back_at_any_offset_including_unaligned()
    {
        using var v = Open();
        byte[] data = [1, 2, 3, 4, 5, 6, 7];
        Assert.That(await v.WriteAsync(4093, data, IoFlags.None, Ctx), Is.EqualTo(IoStatus.Ok));
        var back = new byte[9];
        Assert.That(await v.ReadAsync(4092, back, Ctx), Is.EqualTo(IoStatus.Ok));
        Assert.That(back, Is.EqualTo(new byte[] { 0, 1, 2, 3, 4, 5, 6, 7, 0 }));
    }

    [Test]
    public async Task Requests_past_the_end_are_out_of_range_and_change_nothing()
    {
        using var v = Open(8192);
        Assert.That(await v.WriteAsync(8190, new byte[4], IoFlags.None, Ctx), Is.EqualTo(IoStatus.OutOfRange));
        Assert.That(await v.ReadAsync(-1, new byte[1], Ctx), Is.EqualTo(IoStatus.OutOfRange));
        Assert.That(await v.UnmapAsync(4096, 8192, Ctx), Is.EqualTo(IoStatus.OutOfRange));
        Assert.That(new FileInfo(v.Path).Length, Is.EqualTo(8192));
    }

    [Test]
    public async Task Unmapped_ranges_read_back_as_zeros()
    {
        using var v = Open();
        var ones = new byte[65536];
        Array.Fill(ones, (byte)1);
        await v.WriteAsync(0, ones, IoFlags.None, Ctx);
        Assert.That(await v.UnmapAsync(4096, 8192, Ctx), Is.EqualTo(IoStatus.Ok));
        var back = new byte[65536];
        await v.ReadAsync(0, back, Ctx);
        Assert.That(back.AsSpan(0, 4096).ToArray(), Is.All.EqualTo(1));
        Assert.That(back.AsSpan(4096, 8192).ToArray(), Is.All.EqualTo(0));
        Assert.That(back.AsSpan(12288).ToArray(), Is.All.EqualTo(1));
    }

    [Test]
    public async Task Data_survives_closing_and_reopening()
    {
        var v = Open();
        await v.WriteAsync(1000, new byte[] { 9, 8, 7 }, IoFlags.ForceUnitAccess, Ctx);
        v.Dispose();
        using var again = Open();
        var back = new byte[3];
        await again.ReadAsync(1000, back, Ctx);
        Assert.That(back, Is.EqualTo(new byte[] { 9, 8, 7 }));
    }

    [Test]
    public async Task Resize_changes_capacity_and_raises_the_event()
    {
        using var v = Open(8192);
        IVDisk? seen = null;
        v.CapacityChanged += d => seen = d;
        v.Resize(16384);
        Assert.That(v.CapacityBytes, Is.EqualTo(16384));
        Assert.That(seen, Is.SameAs(v));
        Assert.That(await v.WriteAsync(12000, new byte[100], IoFlags.None, Ctx), Is.EqualTo(IoStatus.Ok));
    }

    [Test]
    public async Task Durable_writes_and_flushes_complete_ok()
    {
        using var v = Open();
        var writes = Enumerable.Range(0, 64).Select(i => v.WriteAsync(i * 512L, new byte[512], IoFlags.ForceUnitAccess, Ctx).AsTask()).ToArray();
        var results = await Task.WhenAll(writes);
        Assert.That(results, Is.All.EqualTo(IoStatus.Ok));
        Assert.That(await v.FlushAsync(Ctx), Is.EqualTo(IoStatus.Ok));
    }

    [Test]
    public async Task Allocation_follows_the_files_holes()
    {
        using var v = Open(8L << 20);
        Assert.That(await v.GetAllocationAsync(0, 8L << 20, Ctx), Is.EqualTo(new AllocationRun(IoStatus.Ok, 8L << 20, false)), "a new file is one hole");
        var data = new byte[1 << 20];
        Array.Fill(data, (byte)7);
        Assert.That(await v.WriteAsync(2L << 20, data, IoFlags.None, Ctx), Is.EqualTo(IoStatus.Ok));
        Assert.That(await v.UnmapAsync((2L << 20) + (256 << 10), 256 << 10, Ctx), Is.EqualTo(IoStatus.Ok));
        var first = await v.GetAllocationAsync(0, 8L << 20, Ctx);
        if (first.Mapped)
            Assert.Ignore("this file system does not report holes (SEEK_DATA/SEEK_HOLE)");
        Assert.That(first, Is.EqualTo(new AllocationRun(IoStatus.Ok, 2L << 20, false)));
        Assert.That(await v.GetAllocationAsync(2L << 20, 8L << 20, Ctx), Is.EqualTo(new AllocationRun(IoStatus.Ok, 256 << 10, true)));
        Assert.That(await v.GetAllocationAsync((2L << 20) + (256 << 10), 8L << 20, Ctx), Is.EqualTo(new AllocationRun(IoStatus.Ok, 256 << 10, false)), "the punched hole");
        Assert.That(await v.GetAllocationAsync((2L << 20) + (512 << 10), 8L << 20, Ctx), Is.EqualTo(new AllocationRun(IoStatus.Ok, 512 << 10, true)));
        Assert.That(await v.GetAllocationAsync(3L << 20, 8L << 20, Ctx), Is.EqualTo(new AllocationRun(IoStatus.Ok, 5L << 20, false)), "to the end, clipped to the capacity");
        Assert.That(await v.GetAllocationAsync(2L << 20, 4096, Ctx), Is.EqualTo(new AllocationRun(IoStatus.Ok, 4096, true)), "clipped to maxLength");
        Assert.That((await v.GetAllocationAsync(8L << 20, 512, Ctx)).Status, Is.EqualTo(IoStatus.OutOfRange));
    }
}
