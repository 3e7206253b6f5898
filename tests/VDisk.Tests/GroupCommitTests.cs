using NUnit.Framework;

namespace StorageAppliance.VDisk.Tests;

public sealed class GroupCommitTests
{
    [Test]
    public async Task Callers_that_arrive_during_a_sync_share_the_next_one()
    {
        var gate = new ManualResetEventSlim(false);
        int syncs = 0;
        var commit = new GroupCommit(() =>
        {
            Interlocked.Increment(ref syncs);
            gate.Wait(TimeSpan.FromSeconds(5));
            return 0;
        });
        var first = commit.SyncAsync();
        SpinWait.SpinUntil(() => Volatile.Read(ref syncs) == 1, TimeSpan.FromSeconds(5));
        // While the first sync is blocked, many callers arrive: they must all ride one more sync, not one each.
        var waiting = Enumerable.Range(0, 50).Select(_ => commit.SyncAsync()).ToArray();
        Assert.That(waiting.Any(t => t.IsCompleted), Is.False, "nobody may complete on a sync that started before they asked");
        gate.Set();
        Assert.That(await first, Is.EqualTo(0));
        var results = await Task.WhenAll(waiting);
        Assert.That(results, Is.All.EqualTo(0));
        Assert.That(syncs, Is.EqualTo(2));
        Assert.That(commit.SyncCount, Is.EqualTo(2));
    }

    [Test]
    public async Task A_failing_sync_reports_its_errno_to_everyone_in_the_batch()
    {
        var commit = new GroupCommit(() => 5);
        var results = await Task.WhenAll(commit.SyncAsync(), commit.SyncAsync());
        Assert.That(results, Is.All.EqualTo(5));
    }

    [Test]
    public async Task An_io_exception_in_the_sync_becomes_eio()
    {
        var commit = new GroupCommit(() => throw new IOException("disk gone"));
        Assert.That(await commit.SyncAsync(), Is.EqualTo(5));
    }

    [Test]
    public async Task Idle_commit_starts_again_for_a_later_caller()
    {
        int syncs = 0;
        var commit = new GroupCommit(() => { Interlocked.Increment(ref syncs); return 0; });
        await commit.SyncAsync();
        await commit.SyncAsync();
        Assert.That(syncs, Is.EqualTo(2));
    }
}
