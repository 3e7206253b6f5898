using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>Every procedure answers GARBAGE_ARGS to arguments that do not decode, at every truncation point, and the connection lives on.</summary>
public class MalformedArgumentTests : NfsTestBase
{
    /// <summary>Well-formed arguments of each procedure (1-21); truncating them anywhere must be garbage.</summary>
    private byte[] ValidArgs(uint proc) => proc switch
    {
        1 or 5 or 18 or 19 or 20 => new XdrBuilder().Opaque(Root),
        2 => new XdrBuilder().Opaque(Root).Sattr(mode: 0x1ff, mtimeHow: 2, mtimeSeconds: 5).Bool(true).U32(1).U32(2),
        3 or 12 or 13 => new XdrBuilder().Opaque(Root).Str("name"),
        4 => new XdrBuilder().Opaque(Root).U32(0x3f),
        6 => new XdrBuilder().Opaque(Root).U64(0).U32(10),
        7 => new XdrBuilder().Opaque(Root).U64(0).U32(3).U32(2).Opaque(new byte[] { 1, 2, 3 }),
        8 => new XdrBuilder().Opaque(Root).Str("n").U32(2).U64(5),
        9 => new XdrBuilder().Opaque(Root).Str("n").Sattr(mode: 0x1ed),
        10 => new XdrBuilder().Opaque(Root).Str("n").Sattr().Str("target"),
        11 => new XdrBuilder().Opaque(Root).Str("n").U32(4).Sattr().U32(1).U32(2),
        14 => new XdrBuilder().Opaque(Root).Str("a").Opaque(Root).Str("b"),
        15 => new XdrBuilder().Opaque(Root).Opaque(Root).Str("l"),
        16 => new XdrBuilder().Opaque(Root).U64(0).U64(0).U32(4096),
        17 => new XdrBuilder().Opaque(Root).U64(0).U64(0).U32(4096).U32(8192),
        21 => new XdrBuilder().Opaque(Root).U64(0).U32(0),
        _ => throw new ArgumentOutOfRangeException(nameof(proc)),
    };

    [Test]
    public async Task Every_truncation_of_every_procedure_is_garbage_args([Range(1u, 21u)] uint proc)
    {
        var args = ValidArgs(proc);
        for (int cut = 0; cut < args.Length; cut += 4)
        {
            var r = await Client.CallAsync(proc, args.AsMemory(0, cut));
            Assert.That(r.AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs), $"procedure {proc} cut at {cut}");
        }
        var ok = await Client.CallAsync(proc, args);
        Assert.That(ok.AcceptStat, Is.EqualTo(AcceptStat.Success), $"procedure {proc} whole");
    }

    [Test]
    public async Task Handles_longer_than_64_bytes_and_bad_enums_are_garbage()
    {
        var longFh = new XdrBuilder().Opaque(new byte[65]).ToArray();
        Assert.That((await Client.CallAsync(1, longFh)).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        var badStable = new XdrBuilder().Opaque(Root).U64(0).U32(1).U32(3).Opaque(new byte[1]);
        Assert.That((await Client.CallAsync(7, badStable)).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        var badCreate = new XdrBuilder().Opaque(Root).Str("n").U32(3);
        Assert.That((await Client.CallAsync(8, badCreate)).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        var badTimeHow = new XdrBuilder().Opaque(Root).Bool(false).Bool(false).Bool(false).Bool(false).U32(3).U32(0).Bool(false);
        Assert.That((await Client.CallAsync(2, badTimeHow)).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
        var badBool = new XdrBuilder().Opaque(Root).U32(7);
        Assert.That((await Client.CallAsync(2, badBool)).AcceptStat, Is.EqualTo(AcceptStat.GarbageArgs));
    }

    [Test]
    public async Task Procedure_22_is_proc_unavail_and_version_2_is_prog_mismatch()
    {
        Assert.That((await Client.CallAsync(22, default)).AcceptStat, Is.EqualTo(AcceptStat.ProcUnavail));
        var r = await Client.Rpc.CallAsync(100003, 2, 0, default);
        Assert.That(r.AcceptStat, Is.EqualTo(AcceptStat.ProgMismatch));
        Assert.That(Convert.ToHexString(r.Results), Is.EqualTo("0000000300000003"));
    }

    [Test]
    public async Task Random_garbage_never_crashes_the_server()
    {
        var rng = new Random(42);
        for (int i = 0; i < 500; i++)
        {
            var junk = new byte[rng.Next(0, 200)];
            rng.NextBytes(junk);
            var r = await Client.CallAsync((uint)rng.Next(0, 23), junk);
            Assert.That(r.Stat, Is.EqualTo(ReplyStat.Accepted));
        }
        Assert.That((await Client.GetAttrAsync(Root)).Item1, Is.EqualTo(StorageAppliance.Protocols.Nfs.Nfs3.Nfsstat3.Ok));
    }
}
