using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>READDIR and READDIRPLUS: paging, cookies that survive changes, size limits.</summary>
public class ReadDirTests : NfsTestBase
{
    [Test]
    public async Task Empty_directory_lists_dot_and_dotdot()
    {
        var all = await Client.ReadDirAllAsync(Root);
        Assert.That(all.Select(e => e.Name), Is.EqualTo(new[] { ".", ".." }));
        Assert.That(all.Select(e => e.Cookie), Is.EqualTo(new ulong[] { 1, 2 }));
    }

    [Test]
    public async Task A_large_directory_pages_through_every_entry_once()
    {
        var (_, d) = await Client.MkDirAsync(Root, "big");
        for (int i = 0; i < 1500; i++)
            Assert.That((await Client.CreateAsync(d, $"file-{i:D5}-with-a-longish-name", CreateMode.Guarded)).Item1, Is.EqualTo(Nfsstat3.Ok));
        var all = await Client.ReadDirAllAsync(d, count: 2048);
        var names = all.Select(e => e.Name).Where(n => n is not "." and not "..").ToList();
        Assert.That(names, Has.Count.EqualTo(1500));
        Assert.That(names.Distinct().Count(), Is.EqualTo(1500));
        Assert.That(all.Select(e => e.Cookie), Is.Ordered.Ascending);
    }

    [Test]
    public async Task Cookies_stay_valid_while_entries_are_removed_and_added_between_pages()
    {
        var (_, d) = await Client.MkDirAsync(Root, "d");
        for (int i = 0; i < 300; i++)
            await Client.CreateAsync(d, $"f{i:D3}");
        var removed = new HashSet<string>();
        var all = await Client.ReadDirAllAsync(d, count: 1024, betweenPages: async page =>
        {
            // Remove names that are certainly not listed yet, and add new ones (which may or may not appear).
            string victim = $"f{299 - page:D3}";
            if (await Client.RemoveAsync(d, victim) == Nfsstat3.Ok)
                removed.Add(victim);
            await Client.CreateAsync(d, $"new{page}");
        });
        var names = all.Select(e => e.Name).ToList();
        Assert.That(names.Distinct().Count(), Is.EqualTo(names.Count), "no entry twice");
        for (int i = 0; i < 300; i++)
        {
            string n = $"f{i:D3}";
            Assert.That(names.Contains(n), Is.EqualTo(!removed.Contains(n)), n);
        }
    }

    [Test]
    public async Task A_count_too_small_for_one_entry_is_toosmall()
    {
        var (st, _) = await Client.NfsAsync(16, new XdrBuilder().Opaque(Root).U64(0).U64(0).U32(50));
        Assert.That(st, Is.EqualTo(Nfsstat3.TooSmall));
    }

    [Test]
    public async Task Readdirplus_returns_attributes_and_usable_handles()
    {
        await Client.MkDirAsync(Root, "sub");
        var (_, f) = await Client.CreateAsync(Root, "file");
        await Client.WriteAsync(f, 0, Bytes(777, 1));
        var (st, body) = await Client.NfsAsync(17, new XdrBuilder().Opaque(Root).U64(0).U64(0).U32(8192).U32(65536));
        Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
        var r = new XdrReader(body);
        Nfs3Client.ReadPostOpAttr(ref r);
        r.TryReadUInt64(out _);
        var entries = new Dictionary<string, (Fattr? Attr, byte[] Fh)>();
        while (r.TryReadBool(out bool more) && more)
        {
            r.TryReadUInt64(out _);
            r.TryReadString(255, out string name);
            r.TryReadUInt64(out _);
            var attr = Nfs3Client.ReadPostOpAttr(ref r);
            r.TryReadBool(out bool hasFh);
            byte[] fh = Array.Empty<byte>();
            if (hasFh)
            {
                r.TryReadOpaque(64, out var span);
                fh = span.ToArray();
            }
            entries[name] = (attr, fh);
        }
        Assert.That(r.TryReadBool(out bool eof) && eof);
        Assert.That(entries.Keys, Is.EquivalentTo(new[] { ".", "..", "sub", "file" }));
        Assert.That(entries["file"].Attr!.Size, Is.EqualTo(777ul));
        Assert.That(entries["file"].Fh, Is.EqualTo(f));
        Assert.That(entries["sub"].Attr!.Type, Is.EqualTo(Ftype3.Dir));
        Assert.That((await Client.GetAttrAsync(entries["sub"].Fh)).Item1, Is.EqualTo(Nfsstat3.Ok));
    }

    [Test]
    public async Task Readdirplus_pages_by_dircount()
    {
        for (int i = 0; i < 100; i++)
            await Client.CreateAsync(Root, $"n{i}");
        ulong cookie = 0;
        int total = 0;
        int pages = 0;
        while (true)
        {
            var (st, body) = await Client.NfsAsync(17, new XdrBuilder().Opaque(Root).U64(cookie).U64(0).U32(256).U32(32768));
            Assert.That(st, Is.EqualTo(Nfsstat3.Ok));
            var r = new XdrReader(body);
            Nfs3Client.ReadPostOpAttr(ref r);
            r.TryReadUInt64(out _);
            while (r.TryReadBool(out bool more) && more)
            {
                r.TryReadUInt64(out _);
                r.TryReadString(255, out _);
                r.TryReadUInt64(out cookie);
                Nfs3Client.ReadPostOpAttr(ref r);
                r.TryReadBool(out bool hasFh);
                if (hasFh)
                    r.TryReadOpaque(64, out _);
                total++;
            }
            pages++;
            r.TryReadBool(out bool eof);
            if (eof)
                break;
        }
        Assert.That(total, Is.EqualTo(102));
        Assert.That(pages, Is.GreaterThan(5), "dircount 256 holds only a few entries");
    }
}
