using System.Buffers.Binary;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Tests;

/// <summary>
/// Calls captured from a real peer (libnfs 4.0 `nfs-ls`, taken with strace), parsed at a non-zero
/// offset, fed to the server split at every byte boundary, and answered.
/// </summary>
public class GoldenBytesTests
{
    // MOUNTPROC3_MNT("/export"), xid 0x6df51b52, AUTH_SYS (stamp 0x00921b51, "libnfs", uid 0, gid 0, no gids).
    private static readonly byte[] LibnfsMnt = Convert.FromHexString(
        "80000050" + "6df51b52" + "00000000" + "00000002" + "000186a5" + "00000003" + "00000001"
        + "00000001" + "0000001c" + "00921b51" + "00000006" + "6c69626e66730000" + "00000000" + "00000000" + "00000000"
        + "00000000" + "00000000"
        + "00000007" + "2f6578706f727400");

    // NFSPROC3_READDIRPLUS with a handle from another run (same export id, other generation), cookie 0, dircount/maxcount 8192.
    private static readonly byte[] LibnfsReadDirPlus = Convert.FromHexString(
        "80000078" + "6df51b58" + "00000000" + "00000002" + "000186a3" + "00000003" + "00000011"
        + "00000001" + "0000001c" + "00921b51" + "00000006" + "6c69626e66730000" + "00000000" + "00000000" + "00000000"
        + "00000000" + "00000000"
        + "00000018" + "53010000e4db8904" + "0000000000000002" + "4670c4db7c252fd1"
        + "0000000000000000" + "0000000000000000" + "00002000" + "00002000");

    private static IReadOnlyList<ExportOptions> Exports => [new ExportOptions { Path = "/export", Container = "c", RootSquash = false }];

    [Test]
    public void The_captured_call_header_parses_at_a_nonzero_offset()
    {
        var padded = new byte[7 + LibnfsMnt.Length];
        LibnfsMnt.CopyTo(padded, 7);
        var record = padded.AsSpan(7 + 4);
        Assert.That(RpcCallHeader.TryRead(record, out var h, out _));
        Assert.That((h.Xid, h.Program, h.Version, h.Procedure, h.CredentialFlavor), Is.EqualTo((0x6df51b52u, 100005u, 3u, 1u, AuthFlavor.Sys)));
        var args = new XdrReader(record[h.ArgumentsOffset..]);
        Assert.That(args.TryReadString(1024, out string path) && path == "/export");
        Assert.That(new ExportOptions { Path = "/export" }.ExportId, Is.EqualTo(0xe4db8904u), "the export id in libnfs's captured handle is ours: FNV-1a of the path");
    }

    [Test]
    public async Task The_captured_mnt_split_at_every_byte_gets_the_root_handle()
    {
        var host = new NfsTestHost(exports: Exports);
        try
        {
            byte[]? first = null;
            for (int split = 1; split < LibnfsMnt.Length; split += 3)
            {
                await using var c = host.Connect();
                await c.Rpc.SendRawAsync(LibnfsMnt.AsMemory(0, split));
                await Task.Yield();
                await c.Rpc.SendRawAsync(LibnfsMnt.AsMemory(split));
                var reply = await c.Rpc.ReceiveAsync(0x6df51b52);
                // xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS, MNT3_OK, handle of 24 bytes, one flavor AUTH_SYS.
                Assert.That(Convert.ToHexString(reply.AsSpan(0, 32)), Is.EqualTo("6DF51B52" + "00000001" + "00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "00000018"), $"split {split}");
                Assert.That(Convert.ToHexString(reply.AsSpan(32 + 24)), Is.EqualTo("00000001" + "00000001"));
                var fh = reply.AsSpan(32, 24).ToArray();
                first ??= fh;
                Assert.That(fh, Is.EqualTo(first));
                Assert.That(Convert.ToHexString(fh, 0, 8), Is.EqualTo("53010000E4DB8904"));
            }
        }
        finally
        {
            await host.DisposeAsync();
            host.DeleteFiles();
        }
    }

    [Test]
    public async Task A_captured_handle_of_another_generation_is_stale()
    {
        var host = new NfsTestHost(exports: Exports);
        try
        {
            await using var c = host.Connect();
            await c.Rpc.SendRawAsync(LibnfsReadDirPlus);
            var reply = RpcTcpClient.Parse(await c.Rpc.ReceiveAsync(0x6df51b58), out _);
            Assert.That(reply.AcceptStat, Is.EqualTo(AcceptStat.Success));
            Assert.That((Nfsstat3)BinaryPrimitives.ReadUInt32BigEndian(reply.Results), Is.EqualTo(Nfsstat3.Stale));
            Assert.That(Convert.ToHexString(reply.Results), Is.EqualTo("00000046" + "00000000"), "status and post_op_attr without attributes");
        }
        finally
        {
            await host.DisposeAsync();
            host.DeleteFiles();
        }
    }
}
