using System.Buffers.Binary;
using StorageAppliance.Fuzz.Support;
using StorageAppliance.Fuzz.Targets;

namespace StorageAppliance.Fuzz;

/// <summary>
/// The connection-level harnesses must reach the code behind the framing, or the fuzzer tests nothing:
/// a seed's calls get real answers (a file handle placeholder becomes a handle the server accepts, a
/// login seed reaches full feature phase). These fail if the harness and the server drift apart.
/// </summary>
public class HarnessReachTests
{
    private static readonly NfsCallsTarget Nfs = new(NfsCallsTarget.Kind.Nfs3);

    private static byte[] Seed(IFuzzTarget target, string name) => target.Seeds().First(s => s.Name == name).Bytes;

    /// <summary>Reply records: (accept_stat, first result word) per reply, in order.</summary>
    private static List<(uint Accept, uint Status)> Replies(byte[] stream)
    {
        var replies = new List<(uint, uint)>();
        int at = 0;
        while (at + 4 <= stream.Length)
        {
            int length = (int)(BinaryPrimitives.ReadUInt32BigEndian(stream.AsSpan(at)) & 0x7FFF_FFFF);
            var r = stream.AsSpan(at + 4, Math.Min(length, stream.Length - at - 4));
            // xid, REPLY, MSG_ACCEPTED, verifier (flavor, empty body), accept_stat, results
            if (r.Length >= 24 && BinaryPrimitives.ReadUInt32BigEndian(r[8..]) == 0)
                replies.Add((BinaryPrimitives.ReadUInt32BigEndian(r[20..]), r.Length >= 28 ? BinaryPrimitives.ReadUInt32BigEndian(r[24..]) : 0));
            at += 4 + length;
        }
        return replies;
    }

    [Test]
    public void NfsSeeds_HandlePlaceholdersBecomeValidHandles()
    {
        using var host = new NfsHost();
        var replies = Replies(host.RunConnection(Nfs.Frame(Seed(Nfs, "01-getattr"), host)));
        Assert.That(replies, Has.Count.EqualTo(3));
        Assert.That(replies[0], Is.EqualTo((0u, 0u)), "GETATTR of the /data root placeholder: SUCCESS, NFS3_OK");
        Assert.That(replies[1], Is.EqualTo((0u, 0u)), "GETATTR of /data/f: SUCCESS, NFS3_OK");
        Assert.That(replies[2].Item1, Is.EqualTo(0u));
        Assert.That(replies[2].Item2, Is.Not.EqualTo(0u), "a zeroed handle is refused");
    }

    [Test]
    public void NfsSeeds_ReachEveryProcedure()
    {
        foreach (var (name, bytes) in Nfs.Seeds())
        {
            using var host = new NfsHost();
            var replies = Replies(host.RunConnection(Nfs.Frame(bytes, host)));
            Assert.That(replies, Is.Not.Empty, name);
            Assert.That(replies[0].Accept, Is.EqualTo(0u), $"{name}: the first call's arguments decode (not GARBAGE_ARGS)");
        }
    }

    [Test]
    public void IscsiSessionSeed_ReachesFullFeaturePhase_AndLogsOut()
    {
        var target = new IscsiConnectionTarget();
        byte[] sent = target.RunAndCapture(Seed(target, "login-read-write-logout"));
        var opcodes = new List<byte>();
        int at = 0;
        while (at + 48 <= sent.Length)
        {
            var bhs = sent.AsSpan(at, 48);
            opcodes.Add((byte)(bhs[0] & 0x3F));
            if ((bhs[0] & 0x3F) == 0x23)
                Assert.That(bhs[36], Is.EqualTo(0), "login status class: success");
            int data = (bhs[5] << 16) | (bhs[6] << 8) | bhs[7];
            at += 48 + bhs[4] * 4 + ((data + 3) & ~3);
        }
        Assert.That(opcodes.Take(2), Is.EqualTo(new byte[] { 0x23, 0x23 }), "two Login Responses");
        Assert.That(opcodes, Does.Contain((byte)0x21), "a SCSI Response");
        Assert.That(opcodes, Does.Contain((byte)0x25), "Data-In");
        Assert.That(opcodes[^1], Is.EqualTo((byte)0x26), "ends with a Logout Response");
    }
}
