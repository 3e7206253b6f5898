using Microsoft.Extensions.Logging.Abstractions;

namespace StorageAppliance.Metadata.Tests;

[TestFixture]
public sealed class SqliteMetadataStoreContractTests : MetadataStoreContractTests
{
    private readonly Dictionary<IMetadataStore, string> _paths = new(ReferenceEqualityComparer.Instance);
    private TempDirectory _dir = null!;

    [OneTimeSetUp]
    public void CreateDirectory() => _dir = new TempDirectory();

    [OneTimeTearDown]
    public void RemoveDirectory() => _dir.Dispose();

    protected override IMetadataStore CreateStore(long? applianceIdIfNew = null)
    {
        string path = _dir.File($"{Guid.NewGuid():N}.db");
        SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance, applianceIdIfNew);
        _paths[store] = path;
        return store;
    }

    protected override IMetadataStore ReopenStore(IMetadataStore store, long? applianceIdIfNew = null)
    {
        string path = _paths[store];
        store.Dispose();
        SqliteMetadataStore reopened = SqliteMetadataStore.Open(path, NullLogger.Instance, applianceIdIfNew);
        _paths[reopened] = path;
        return reopened;
    }

    protected override void FailNextCommit(IMetadataStore store, int afterOps) =>
        ((SqliteMetadataStore)store).FailNextCommitAfterOps = afterOps;
}

[TestFixture]
public sealed class MemoryMetadataStoreContractTests : MetadataStoreContractTests
{
    protected override IMetadataStore CreateStore(long? applianceIdIfNew = null) => new MemoryMetadataStore(applianceIdIfNew);

    protected override IMetadataStore ReopenStore(IMetadataStore store, long? applianceIdIfNew = null)
    {
        store.Dispose();
        return ((MemoryMetadataStore)store).Reopen();
    }

    protected override void FailNextCommit(IMetadataStore store, int afterOps) => ((MemoryMetadataStore)store).FailNextCommit(afterOps);
}
