using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;

namespace StorageAppliance.Protocols.Nfs.Tests.Namespace;

/// <summary>Both stores obey the same contract; the SQLite one also survives reopening.</summary>
[TestFixture("memory")]
[TestFixture("sqlite")]
public class NamespaceStoreTests(string kind)
{
    private string _dir = null!;
    private INamespaceStore _store = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ns-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(_dir);
        _store = Open();
    }

    private INamespaceStore Open() => kind == "memory" ? new InMemoryNamespaceStore() : new SqliteNamespaceStore(Path.Combine(_dir, "nfs-namespace.db"));

    [TearDown]
    public void TearDown()
    {
        _store.Dispose();
        Directory.Delete(_dir, true);
    }

    private static NodeRecord Node(ulong id, Ftype3 type = Ftype3.Reg, string? target = null) => new()
    {
        Id = id,
        Generation = id * 31,
        ExportId = 7,
        Type = type,
        Mode = 0x1a4,
        Uid = 1,
        Gid = 2,
        Nlink = 1,
        Size = id * 1000,
        AtimeNs = 1,
        MtimeNs = 2,
        CtimeNs = 3,
        SymlinkTarget = target,
    };

    [Test]
    public void Commit_puts_nodes_and_entries_atomically_and_lists_in_cookie_order()
    {
        ulong dir = _store.AllocateId();
        var batch = new NamespaceBatch();
        batch.Puts.Add(Node(dir, Ftype3.Dir));
        batch.ExportRoots.Add(("/e", dir));
        _store.Commit(batch);
        var ids = new List<ulong>();
        for (int i = 0; i < 10; i++)
        {
            ulong id = _store.AllocateId();
            ids.Add(id);
            batch.Clear();
            batch.Puts.Add(Node(id, target: i == 3 ? "t" : null));
            batch.AddedEntries.Add((dir, $"n{i}", id));
            _store.Commit(batch);
        }
        Assert.That(_store.FindExportRoot("/e"), Is.EqualTo(dir));
        Assert.That(_store.TryLookup(dir, "n4", out ulong child) && child == ids[4]);
        Assert.That(_store.TryLoad(ids[3], out var rec));
        Assert.That((rec.SymlinkTarget, rec.Size, rec.Generation), Is.EqualTo(("t", ids[3] * 1000, ids[3] * 31)));
        var page1 = _store.List(dir, 2, 4);
        Assert.That(page1.Select(e => e.Name), Is.EqualTo(new[] { "n0", "n1", "n2", "n3" }));
        Assert.That(page1.All(e => e.Cookie > 2), Is.True, "cookies 1 and 2 are . and ..");
        batch.Clear();
        batch.RemovedEntries.Add((dir, "n4"));
        batch.Deletes.Add(ids[4]);
        _store.Commit(batch);
        var page2 = _store.List(dir, page1[^1].Cookie, 100);
        Assert.That(page2.Select(e => e.Name), Is.EqualTo(new[] { "n5", "n6", "n7", "n8", "n9" }));
        Assert.That(_store.TryLoad(ids[4], out _), Is.False);
        Assert.That(_store.HasEntries(dir), Is.True);
        Assert.That(_store.HasEntries(ids[0]), Is.False);
    }

    [Test]
    public void Ids_are_never_reused_even_after_deletes_and_reopening()
    {
        ulong a = _store.AllocateId();
        var batch = new NamespaceBatch();
        batch.Puts.Add(Node(a));
        _store.Commit(batch);
        ulong b = _store.AllocateId();
        batch.Clear();
        batch.Puts.Add(Node(b));
        _store.Commit(batch);
        batch.Clear();
        batch.Deletes.Add(b);
        _store.Commit(batch);
        if (kind == "sqlite")
        {
            _store.Dispose();
            _store = Open();
            Assert.That(_store.TryLoad(a, out var ra) && ra.Size == a * 1000);
        }
        Assert.That(_store.AllocateId(), Is.GreaterThan(b));
    }

    [Test]
    public void Names_are_unique_per_directory()
    {
        var batch = new NamespaceBatch();
        batch.AddedEntries.Add((1, "x", 5));
        _store.Commit(batch);
        batch.Clear();
        batch.AddedEntries.Add((2, "x", 6));
        _store.Commit(batch);
        Assert.That(_store.TryLookup(1, "x", out ulong c1) && c1 == 5);
        Assert.That(_store.TryLookup(2, "x", out ulong c2) && c2 == 6);
        if (kind == "sqlite")
        {
            batch.Clear();
            batch.AddedEntries.Add((1, "x", 7));
            // A broken batch is an I/O error for the client (NFS3ERR_IO), never an exception out of the procedure.
            Assert.That(_store.Commit(batch), Is.EqualTo(Nfsstat3.Io));
            Assert.That(_store.TryLookup(1, "x", out c1) && c1 == 5, "the failed batch changed nothing");
        }
    }
}
