using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Metadata;

namespace StorageAppliance.Micro.Metadata;

/// <summary>
/// The metadata store's hot paths on a real file: a vDisk map lookup that hits (the read path, per block), a
/// drain-sized commit of 1,000 vDisk map rows, and the smallest commit (only the drain point), which is one
/// fsync of the WAL. The file holds 100,000 blocks over 10 vDisks, in the system temp directory (set TMPDIR
/// to measure another disk).
/// </summary>
[MemoryDiagnoser]
public class MetadataStoreBenchmarks
{
    private const int VDisks = 10;
    private const int BlocksPerVDisk = 10_000;
    private const int Lookups = 1 << 16;

    private string _dir = null!;
    private SqliteMetadataStore _store = null!;
    private (long VDisk, long Block)[] _lookups = null!;
    private MetadataBatch[] _thousand = null!;
    private MetadataBatch[] _drainedOnly = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("micro-metadata-").FullName;
        _store = SqliteMetadataStore.Open(Path.Combine(_dir, "metadata.db"), NullLogger.Instance, applianceIdIfNew: 1);
        for (int v = 1; v <= VDisks; v++)
        {
            var batch = new MetadataBatch();
            for (int b = 0; b < BlocksPerVDisk; b++)
                batch.Add(new MetadataOp.PutBlock(new BlockRecord(v, b, v * 1000 + b / 64, b % 64)));
            _store.Commit(batch);
        }

        var random = new Random(1);
        _lookups = new (long, long)[Lookups];
        for (int i = 0; i < Lookups; i++)
            _lookups[i] = (random.Next(1, VDisks + 1), random.Next(BlocksPerVDisk));

        // Drain-like batches: 1,000 existing blocks of one vDisk moved to new slots. Batches 2k and 2k+1 cover the
        // same blocks with different values, so every commit changes its rows: SQLite writes nothing (and does not
        // fsync) for a transaction that leaves every page as it was, which would measure nothing.
        _thousand = new MetadataBatch[16];
        for (int i = 0; i < _thousand.Length; i += 2)
        {
            int v = 1 + i / 2 % VDisks;
            int start = random.Next(BlocksPerVDisk - 1000);
            for (int k = i; k < i + 2; k++)
            {
                _thousand[k] = new MetadataBatch();
                for (int b = start; b < start + 1000; b++)
                    _thousand[k].Add(new MetadataOp.PutBlock(new BlockRecord(v, b, 900_000 + k, (b + k) % 64)));
            }
        }
        _drainedOnly =
        [
            new MetadataBatch().Add(new MetadataOp.SetDrainedSequence(12345)),
            new MetadataBatch().Add(new MetadataOp.SetDrainedSequence(12346)),
        ];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark]
    public long TryGetBlock_Hit()
    {
        (long vdisk, long block) = _lookups[_next++ & (Lookups - 1)];
        return _store.TryGetBlock(vdisk, block, out BlockRecord? record) ? record.EgroupId : -1;
    }

    [Benchmark]
    public void Commit_1000_PutBlock() => _store.Commit(_thousand[_next++ & (_thousand.Length - 1)]);

    [Benchmark]
    public void Commit_SetDrainedSequence_Only() => _store.Commit(_drainedOnly[_next++ & 1]);
}
