using System.Buffers.Binary;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc;

namespace StorageAppliance.Protocols.Nfs.Tests.Nfs3;

/// <summary>The hot procedures allocate nothing per call once warm (STYLE.md 5).</summary>
public class AllocationTests : NfsTestBase
{
    private static RpcCall CallFor(uint proc, byte[] args)
    {
        var record = new byte[args.Length];
        args.CopyTo(record, 0);
        var call = new RpcCall { Program = 100003, Version = 3, Procedure = proc };
        call.Credential.Set(0, 0, ReadOnlySpan<uint>.Empty);
        call.SetRequest(record, record.Length);
        call.ArgumentsOffset = 0;
        return call;
    }

    [TestCase(1u, "getattr")]
    [TestCase(6u, "read")]
    [TestCase(7u, "write")]
    public async Task Hot_procedures_allocate_nothing_per_call(uint proc, string what)
    {
        var (_, fh) = await Client.CreateAsync(Root, "f");
        await Client.WriteAsync(fh, 0, Bytes(65536, 1));
        byte[] args = proc switch
        {
            1 => new XdrBuilder().Opaque(fh).ToArray(),
            6 => new XdrBuilder().Opaque(fh).U64(4096).U32(4096).ToArray(),
            _ => new XdrBuilder().Opaque(fh).U64(8192).U32(4096).U32(0).Opaque(Bytes(4096, 2)).ToArray(),
        };
        var call = CallFor(proc, args);
        for (int i = 0; i < 200; i++)
        {
            var outcome = Host.Nfs.HandleAsync(call).AsTask().Result;
            Assert.That(outcome, Is.EqualTo(RpcOutcome.Success));
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            var vt = Host.Nfs.HandleAsync(call);
            if (!vt.IsCompletedSuccessfully)
                Assert.Fail($"{what} did not complete synchronously");
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.LessThan(1000), $"{what}: {allocated} bytes for 1000 calls");
    }
}
