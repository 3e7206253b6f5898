namespace StorageAppliance.Metadata.Tests;

/// <summary>The crash-simulation controls of the in-memory store that engine tests rely on.</summary>
public sealed class MemoryMetadataStoreTests
{
    [Test]
    public void CutPowerAtCommit_FailsThatCommitWithNothingApplied_AndEveryCallAfter()
    {
        var store = new MemoryMetadataStore(applianceId: 5);
        store.CutPowerAtCommit(commitsFromNow: 2);
        store.Commit(Rec.Batch(new MetadataOp.SetDrainedSequence(1)));
        store.Commit(new MetadataBatch()); // empty batches do not count
        store.Commit(Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1)), new MetadataOp.SetDrainedSequence(2)));

        Assert.Throws<MetadataException>(() => store.Commit(Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 2)), new MetadataOp.SetDrainedSequence(3))));
        Assert.That(store.PowerIsOff, Is.True);
        Assert.Throws<MetadataException>(() => store.TryGetBlock(1, 1, out _));
        Assert.Throws<MetadataException>(() => store.AllocateIds(1));

        MemoryMetadataStore after = store.Reopen();
        Assert.That(after.PowerIsOff, Is.False);
        Assert.That(after.DrainedSequence, Is.EqualTo(2));
        Assert.That(after.Blocks(1), Is.EqualTo(new[] { Rec.Block(1, 1) }));
        Assert.That(after.ApplianceId, Is.EqualTo(5));
    }

    [Test]
    public void Reopen_RetiresTheOldInstance_SoItCannotChangeTheNewOne()
    {
        var store = new MemoryMetadataStore();
        store.Commit(Rec.Batch(new MetadataOp.PutValue("k", [1])));
        MemoryMetadataStore reopened = store.Reopen();

        Assert.Throws<MetadataException>(() => store.Commit(Rec.Batch(new MetadataOp.PutValue("k", [2]))));
        reopened.Commit(Rec.Batch(new MetadataOp.PutValue("k", [3])));
        Assert.That(reopened.GetValue("k"), Is.EqualTo(new byte[] { 3 }));
        Assert.That(reopened.CommitCount, Is.EqualTo(1));
    }

    [Test]
    public void CutPower_StopsEverything_UntilReopen()
    {
        var store = new MemoryMetadataStore();
        store.Commit(Rec.Batch(new MetadataOp.SetDrainedSequence(8)));
        store.CutPower();
        Assert.Throws<MetadataException>(() => _ = store.DrainedSequence);
        Assert.That(store.Reopen().DrainedSequence, Is.EqualTo(8));
    }

    [Test]
    public void FailNextCommit_FailsOnce()
    {
        var store = new MemoryMetadataStore();
        store.FailNextCommit(afterOps: 1);
        var batch = Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1)), new MetadataOp.PutBlock(Rec.Block(1, 2)));
        Assert.Throws<MetadataException>(() => store.Commit(batch));
        Assert.That(store.Blocks(1), Is.Empty);
        Assert.That(store.PowerIsOff, Is.False, "a failed commit is not a power cut");
        store.Commit(batch);
        Assert.That(store.Blocks(1), Has.Count.EqualTo(2));
    }
}
