using System.Buffers;
using StorageAppliance.DataReduction;
using StorageAppliance.DataReduction.Chunking;
using StorageAppliance.DataReduction.Compression;
using StorageAppliance.ExtentStore;
using StorageAppliance.Metadata;
using Extents = StorageAppliance.ExtentStore.ExtentStore;

namespace StorageAppliance.VDisk;

/// <summary>
/// A container's data reduction settings (issue 7; seed 003's "Max de-duplication extent size" and "Data contraction
/// policy"): content-defined chunk sizes, the compression of each extent, and whether reduction happens as the
/// journal drains or later, by the Curator.
/// </summary>
public sealed record DataReductionSpec(bool Dedup, ChunkingOptions Chunking, CompressionKind Compression, int CompressionLevel, bool Inline, TimeSpan PostProcessDelay)
{
    public static DataReductionSpec Off { get; } = new(false, ChunkingOptions.Default, CompressionKind.None, ZstdCodec.DefaultLevel, true, TimeSpan.FromSeconds(60));
}

/// <summary>
/// The content-addressed extents of one container (seed 003's deduplicated extents): each distinct chunk is kept
/// once, named by its <see cref="ExtentId"/> (size + SHA-1), compressed when that saves enough, and counted by the
/// vDisk blocks that list it. Chunks are packed one after another into "pack" slots of the container's extent
/// groups; every pack write starts on a fresh 4 KiB slice, so a torn write can never damage a chunk already
/// committed, and every read is checked against the slices' CRC32C like any other extent read.
/// </summary>
/// <remarks>
/// Threads: the drainer thread does every change (storing, counting, the Curator's passes); readers on any thread
/// look chunks up and read them. <see cref="_lock"/> guards the index; <see cref="ReadGate"/> keeps a pack slot from
/// being reused while a reader may still be reading an old location of a moved or collected chunk.
/// Durability: index changes are written to the metadata at the engine's checkpoint (<see cref="WriteDirty"/>), in
/// the same transaction as the vDisk map rows that refer to them; a crash before it leaves the committed state,
/// whose packs still hold every chunk it names (packs are freed only by a committed batch).
/// </remarks>
internal sealed class DedupStore
{
    /// <summary>A pack's slot record in the extent group map: owner 0, block -1.</summary>
    public const long PackBlock = -1;

    internal sealed class Chunk
    {
        public SlotRef Pack = SlotRef.None;
        public int Offset;
        public int StoredLength;
        public ExtentEncoding Encoding;
        public CompressionKind Codec;
        public long RefCount;
    }

    internal sealed class PackInfo
    {
        /// <summary>Bytes of chunks with references.</summary>
        public long LiveBytes;

        /// <summary>Chunks in the index that live here, referenced or not.</summary>
        public int Chunks;
    }

    private readonly Extents _extents;
    private readonly long _containerId;
    private readonly int _slotSize;
    private readonly object _lock = new();
    private readonly Dictionary<ExtentId, Chunk> _chunks = new();
    private readonly Dictionary<SlotRef, PackInfo> _packs = new();
    private readonly HashSet<ExtentId> _dirty = new();
    private readonly RabinChunker _chunker;
    private readonly ExtentEncoder _encoder; // drainer thread only
    private readonly byte[] _compressed;
    private readonly byte[] _staging;
    private SlotRef _open = SlotRef.None;
    private int _openPos;
    private int _stagingStart;
    private int _stagingLength;

    // Undo of the store in progress, should its pack write fail.
    private readonly List<(ExtentId Id, bool Added)> _undo = new();

    public DedupStore(Extents extents, long containerId, int slotSize, DataReductionSpec spec)
    {
        _extents = extents;
        _containerId = containerId;
        _slotSize = slotSize;
        Spec = spec;
        var chunking = spec.Chunking.Max > slotSize
            ? new ChunkingOptions(Math.Max(1024, slotSize / 16), slotSize / 4, slotSize)
            : spec.Chunking;
        _chunker = new RabinChunker(chunking);
        _encoder = new ExtentEncoder(CompressionCodecs.Create(spec.Compression, spec.CompressionLevel));
        _compressed = new byte[chunking.Max];
        _staging = new byte[slotSize];
    }

    public DataReductionSpec Spec { get; }

    public ReaderWriterLockSlim ReadGate { get; } = new(LockRecursionPolicy.NoRecursion);

    // ---------------------------------------------------------------- load

    /// <summary>Takes a committed extent record at start; pack slots (owner 0, block -1) are known from their extents.</summary>
    public void Load(DedupExtentRecord r)
    {
        if (!ExtentId.TryRead(r.ExtentId, out var id))
            return;
        var c = new Chunk
        {
            Pack = r.Slot < 0 ? SlotRef.None : new SlotRef(r.EgroupId, r.Slot),
            Offset = r.Offset,
            StoredLength = r.StoredLength,
            Encoding = (ExtentEncoding)r.Encoding.Encoding,
            Codec = (CompressionKind)r.Encoding.Codec,
            RefCount = r.RefCount,
        };
        _chunks[id] = c;
        if (!c.Pack.IsNone)
        {
            var p = PackOf(c.Pack);
            p.Chunks++;
            if (c.RefCount > 0)
                p.LiveBytes += c.StoredLength;
        }
    }

    /// <summary>A pack slot with no chunk at all (its chunks were never committed): known, so the Curator frees it.</summary>
    public void LoadPack(SlotRef pack) => PackOf(pack);

    private PackInfo PackOf(SlotRef pack)
    {
        if (!_packs.TryGetValue(pack, out var p))
            _packs[pack] = p = new PackInfo();
        return p;
    }

    // ---------------------------------------------------------------- store (drainer thread)

    /// <summary>
    /// Chunks <paramref name="content"/> (a whole vDisk block), stores the chunks not yet known, counts a reference to
    /// each, and returns their ids in order; none when the block is all zeros. With a non-zero
    /// <paramref name="privateTo"/> (a vDisk whose dedup is off, in a compressing container) the ids are salted with
    /// that vDisk and block, so its chunks are compressed but never shared.
    /// </summary>
    /// <exception cref="IOException">No room for a pack, or its disk failed: nothing changed.</exception>
    public ExtentId[] Store(ReadOnlySpan<byte> content, long privateTo, long block, MetadataBatch batch) =>
        Store(content, ChunkAndHash(content, privateTo, block), batch);

    /// <summary>
    /// The chunks of a block's content and their ids, none when it is all zeros: the costly part of a store (Rabin
    /// and SHA-1), with no state, so the drainer runs it for several blocks at once on the thread pool.
    /// </summary>
    public ExtentId[] ChunkAndHash(ReadOnlySpan<byte> content, long privateTo, long block)
    {
        if (!content.ContainsAnyExcept((byte)0))
            return [];
        var ids = new List<ExtentId>(content.Length / _chunker.Options.Average + 2);
        using var salted = privateTo == 0 ? null : System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA1);
        int pos = 0;
        while (pos < content.Length)
        {
            int n = _chunker.NextChunkLength(content[pos..]);
            var data = content.Slice(pos, n);
            ids.Add(salted is null ? ExtentId.Compute(data) : SaltedId(salted, data, privateTo, block, pos));
            pos += n;
        }
        return ids.ToArray();
    }

    /// <summary>Stores the chunks <paramref name="ids"/> (from <see cref="ChunkAndHash"/>) of <paramref name="content"/> not yet known, and counts a reference to each.</summary>
    /// <exception cref="IOException">No room for a pack, or its disk failed: nothing changed.</exception>
    public ExtentId[] Store(ReadOnlySpan<byte> content, ExtentId[] ids, MetadataBatch batch)
    {
        _undo.Clear();
        try
        {
            int pos = 0;
            foreach (var id in ids)
            {
                AddReference(id, content.Slice(pos, id.Size), batch);
                pos += id.Size;
            }
            FlushStaging();
        }
        catch (IOException)
        {
            Undo();
            throw;
        }
        return ids;
    }

    private static ExtentId SaltedId(System.Security.Cryptography.IncrementalHash salted, ReadOnlySpan<byte> data, long vdisk, long block, int offset)
    {
        Span<byte> salt = stackalloc byte[20];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(salt, vdisk);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(salt[8..], block);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(salt[16..], offset);
        salted.AppendData(salt);
        salted.AppendData(data);
        Span<byte> hash = stackalloc byte[ExtentId.HashSize];
        salted.GetHashAndReset(hash);
        return ExtentId.FromHash(hash, data.Length);
    }

    private void AddReference(ExtentId id, ReadOnlySpan<byte> data, MetadataBatch batch)
    {
        lock (_lock)
        {
            if (_chunks.TryGetValue(id, out var known))
            {
                if (known.RefCount++ == 0 && !known.Pack.IsNone)
                    _packs[known.Pack].LiveBytes += known.StoredLength;
                _dirty.Add(id);
                _undo.Add((id, false));
                return;
            }
        }

        var encoded = _encoder.Encode(data, _compressed);
        var chunk = new Chunk { Encoding = encoded.Encoding, Codec = encoded.Codec, StoredLength = encoded.StoredLength, RefCount = 1 };
        if (encoded.Encoding != ExtentEncoding.Zero)
        {
            var stored = encoded.Encoding == ExtentEncoding.Compressed ? _compressed.AsSpan(0, encoded.StoredLength) : data;
            if (_open.IsNone || _openPos + stored.Length > _slotSize)
                OpenPack(batch);
            stored.CopyTo(_staging.AsSpan(_openPos - _stagingStart));
            chunk.Pack = _open;
            chunk.Offset = _openPos;
            _openPos += stored.Length;
            _stagingLength = _openPos - _stagingStart;
        }
        lock (_lock)
        {
            _chunks[id] = chunk;
            if (!chunk.Pack.IsNone)
            {
                var p = _packs[chunk.Pack];
                p.Chunks++;
                p.LiveBytes += chunk.StoredLength;
            }
            _dirty.Add(id);
        }
        _undo.Add((id, true));
    }

    private void OpenPack(MetadataBatch batch)
    {
        FlushStaging();
        var slot = _extents.AllocateSlot(_containerId, 0, PackBlock, batch, reserved: false);
        lock (_lock)
            _packs[slot] = new PackInfo();
        _open = slot;
        _openPos = 0;
        _stagingStart = 0;
        _stagingLength = 0;
    }

    /// <summary>Writes the staged chunks to the open pack, padded to whole slices; the next chunk starts a new slice.</summary>
    private void FlushStaging()
    {
        if (_stagingLength == 0)
            return;
        int padded = (_stagingLength + Extents.SliceSize - 1) / Extents.SliceSize * Extents.SliceSize;
        _staging.AsSpan(_stagingLength, padded - _stagingLength).Clear();
        var change = new BlockChange(_stagingStart, padded, _staging.AsMemory(0, padded), false);
        try
        {
            _extents.Apply(_open, [change], null);
        }
        catch (IOException)
        {
            // The pack's disk failed: start a new pack elsewhere next time.
            _open = SlotRef.None;
            _stagingLength = 0;
            throw;
        }
        _openPos = _stagingStart + padded;
        _stagingStart = _openPos;
        _stagingLength = 0;
        if (_openPos >= _slotSize)
            _open = SlotRef.None;
    }

    private void Undo()
    {
        lock (_lock)
        {
            for (int i = _undo.Count - 1; i >= 0; i--)
            {
                var (id, added) = _undo[i];
                if (!_chunks.TryGetValue(id, out var c))
                    continue;
                if (added)
                {
                    _chunks.Remove(id);
                    if (!c.Pack.IsNone && _packs.TryGetValue(c.Pack, out var p))
                    {
                        p.Chunks--;
                        p.LiveBytes -= c.StoredLength;
                    }
                }
                else if (--c.RefCount == 0 && !c.Pack.IsNone)
                {
                    _packs[c.Pack].LiveBytes -= c.StoredLength;
                }
            }
        }
        _undo.Clear();
        _stagingLength = 0;
        _stagingStart = _openPos;
    }

    /// <summary>Drops one reference to each of <paramref name="ids"/> (a block no longer lists them).</summary>
    public void Release(ReadOnlySpan<ExtentId> ids)
    {
        lock (_lock)
        {
            foreach (var id in ids)
            {
                if (!_chunks.TryGetValue(id, out var c) || c.RefCount == 0)
                    continue;
                if (--c.RefCount == 0 && !c.Pack.IsNone)
                    _packs[c.Pack].LiveBytes -= c.StoredLength;
                _dirty.Add(id);
            }
        }
    }

    /// <summary>Adds one reference to each of <paramref name="ids"/>, all known (a block copied by reference).</summary>
    public bool TryAddReferences(ReadOnlySpan<ExtentId> ids)
    {
        lock (_lock)
        {
            foreach (var id in ids)
                if (!_chunks.ContainsKey(id))
                    return false;
            foreach (var id in ids)
            {
                var c = _chunks[id];
                if (c.RefCount++ == 0 && !c.Pack.IsNone)
                    _packs[c.Pack].LiveBytes += c.StoredLength;
                _dirty.Add(id);
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- read (any thread)

    /// <summary>
    /// Reads [<paramref name="from"/>, from + destination.Length) of a block made of <paramref name="ids"/>. The caller
    /// holds the block's stripe (its chunk list cannot change). Returns the failure and the block offset it was at.
    /// </summary>
    public ExtentReadResult ReadBlock(ReadOnlySpan<ExtentId> ids, int from, Span<byte> destination, out int failedAt)
    {
        failedAt = -1;
        int end = from + destination.Length;
        int chunkStart = 0;
        ReadGate.EnterReadLock();
        try
        {
            foreach (var id in ids)
            {
                int chunkEnd = chunkStart + id.Size;
                if (chunkEnd > from && chunkStart < end)
                {
                    int a = Math.Max(from, chunkStart);
                    int b = Math.Min(end, chunkEnd);
                    var result = ReadChunk(id, a - chunkStart, destination.Slice(a - from, b - a));
                    if (result != ExtentReadResult.Ok)
                    {
                        failedAt = chunkStart;
                        return result;
                    }
                }
                chunkStart = chunkEnd;
                if (chunkStart >= end)
                    break;
            }
        }
        finally
        {
            ReadGate.ExitReadLock();
        }
        // A block's chunks cover it from its start; past their end (never, as stored) reads as zeros.
        if (chunkStart < end)
            destination[Math.Max(0, chunkStart - from)..].Clear();
        return ExtentReadResult.Ok;
    }

    [ThreadStatic]
    private static ICompressionCodec?[]? t_decoders;

    private static ICompressionCodec Decoder(CompressionKind kind)
    {
        var decoders = t_decoders ??= new ICompressionCodec?[3];
        return decoders[(int)kind] ??= CompressionCodecs.Create(kind);
    }

    /// <summary>Reads part of one chunk: its stored bytes, checked by slice CRCs, then decoded.</summary>
    private ExtentReadResult ReadChunk(ExtentId id, int offsetInChunk, Span<byte> destination)
    {
        Chunk? c;
        SlotRef pack;
        int offset, stored;
        ExtentEncoding encoding;
        CompressionKind codec;
        lock (_lock)
        {
            if (!_chunks.TryGetValue(id, out c))
                return ExtentReadResult.IoError;
            (pack, offset, stored, encoding, codec) = (c.Pack, c.Offset, c.StoredLength, c.Encoding, c.Codec);
        }
        if (encoding == ExtentEncoding.Zero)
        {
            destination.Clear();
            return ExtentReadResult.Ok;
        }
        if (encoding == ExtentEncoding.Raw)
            return _extents.Read(pack, offset + offsetInChunk, destination, null, out _);

        byte[] packed = ArrayPool<byte>.Shared.Rent(stored);
        byte[]? whole = null;
        try
        {
            var r = _extents.Read(pack, offset, packed.AsSpan(0, stored), null, out _);
            if (r != ExtentReadResult.Ok)
                return r;
            bool all = offsetInChunk == 0 && destination.Length == id.Size;
            Span<byte> target = all ? destination : (whole = ArrayPool<byte>.Shared.Rent(id.Size)).AsSpan(0, id.Size);
            if (Decoder(codec).Decompress(packed.AsSpan(0, stored), target, id.Size) != CodecStatus.Ok)
                return ExtentReadResult.ChecksumMismatch;
            if (!all)
                target.Slice(offsetInChunk, destination.Length).CopyTo(destination);
            return ExtentReadResult.Ok;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(packed);
            if (whole is not null)
                ArrayPool<byte>.Shared.Return(whole);
        }
    }

    /// <summary>
    /// Reads and decodes a whole chunk (slice CRCs checked) and, for a shared chunk, checks its SHA-1 against its id
    /// (a private chunk's id is salted, so its hash cannot be recomputed from the data alone). The Curator's scrub.
    /// </summary>
    public ExtentReadResult Verify(ExtentId id, Span<byte> scratch, bool checkHash)
    {
        var target = scratch[..id.Size];
        ExtentReadResult r;
        ReadGate.EnterReadLock();
        try
        {
            r = ReadChunk(id, 0, target);
        }
        finally
        {
            ReadGate.ExitReadLock();
        }
        if (r != ExtentReadResult.Ok)
            return r;
        return !checkHash || ExtentId.Compute(target) == id ? ExtentReadResult.Ok : ExtentReadResult.ChecksumMismatch;
    }

    // ---------------------------------------------------------------- checkpoint and Curator (drainer thread)

    /// <summary>Adds the changed extents to the checkpoint batch: their rows, or their deletion once collected.</summary>
    public void WriteDirty(MetadataBatch batch)
    {
        lock (_lock)
        {
            foreach (var id in _dirty)
            {
                var key = new byte[ExtentId.SerializedSize];
                id.WriteTo(key);
                if (_chunks.TryGetValue(id, out var c))
                {
                    batch.Add(new MetadataOp.PutDedupExtent(new DedupExtentRecord(_containerId, key, c.Pack.IsNone ? 0 : c.Pack.EgroupId, c.Pack.Slot,
                        c.Offset, c.StoredLength, new DedupEncoding((byte)c.Encoding, (byte)c.Codec), c.RefCount)));
                }
                else
                {
                    batch.Add(new MetadataOp.DeleteDedupExtent(_containerId, key));
                }
            }
            _dirty.Clear();
        }
    }

    public int DirtyCount
    {
        get
        {
            lock (_lock)
                return _dirty.Count;
        }
    }

    /// <summary>
    /// Garbage collection: forgets chunks no block refers to, and frees packs left with no chunk (their slots become
    /// free once the batch commits). Returns (chunks collected, bytes they took, packs freed).
    /// </summary>
    public (int Chunks, long Bytes, int Packs) Collect(MetadataBatch batch)
    {
        int chunks = 0, packs = 0;
        long bytes = 0;
        lock (_lock)
        {
            foreach (var (id, c) in _chunks)
            {
                if (c.RefCount > 0)
                    continue;
                _chunks.Remove(id);
                _dirty.Add(id);
                chunks++;
                bytes += c.StoredLength;
                if (!c.Pack.IsNone && _packs.TryGetValue(c.Pack, out var p))
                    p.Chunks--;
            }
            foreach (var (slot, p) in _packs)
            {
                if (p.Chunks > 0)
                    continue;
                if (slot == _open)
                    _open = SlotRef.None; // nothing is staged between stores
                _packs.Remove(slot);
                _extents.FreeSlot(slot, batch);
                packs++;
            }
        }
        return (chunks, bytes, packs);
    }

    /// <summary>
    /// Compaction: the live chunks of packs filled under <paramref name="threshold"/> are copied (as stored, no
    /// re-encoding) into the open pack, then those packs are freed. A chunk that cannot be read stays where it is
    /// (the scrub reports it). Returns (packs compacted, bytes moved).
    /// </summary>
    public (int Packs, long Moved) Compact(double threshold, MetadataBatch batch, int maxPacks)
    {
        List<SlotRef> sparse;
        lock (_lock)
            sparse = _packs.Where(kv => kv.Key != _open && kv.Value.Chunks > 0 && kv.Value.LiveBytes < threshold * _slotSize)
                .OrderBy(kv => kv.Value.LiveBytes).Take(maxPacks).Select(kv => kv.Key).ToList();
        if (sparse.Count == 0)
            return (0, 0);
        var sparseSet = sparse.ToHashSet();
        List<(ExtentId Id, Chunk Chunk)> live;
        lock (_lock)
            live = _chunks.Where(kv => kv.Value.RefCount > 0 && sparseSet.Contains(kv.Value.Pack)).Select(kv => (kv.Key, kv.Value)).ToList();

        var moves = new List<(ExtentId Id, SlotRef Pack, int Offset)>();
        var stuck = new HashSet<SlotRef>();
        long moved = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(_slotSize);
        try
        {
            foreach (var (id, c) in live)
            {
                var span = buffer.AsSpan(0, c.StoredLength);
                if (_extents.Read(c.Pack, c.Offset, span, null, out _) != ExtentReadResult.Ok)
                {
                    stuck.Add(c.Pack);
                    continue;
                }
                if (_open.IsNone || _openPos + c.StoredLength > _slotSize)
                    OpenPack(batch);
                span.CopyTo(_staging.AsSpan(_openPos - _stagingStart));
                moves.Add((id, _open, _openPos));
                _openPos += c.StoredLength;
                _stagingLength = _openPos - _stagingStart;
                lock (_lock)
                    _packs[_open].Chunks++;
                moved += c.StoredLength;
            }
            FlushStaging();
        }
        catch (IOException)
        {
            // Nothing moved: the copies' packs do not hold them after all.
            lock (_lock)
                foreach (var (_, pack, _) in moves)
                    if (_packs.TryGetValue(pack, out var p))
                        p.Chunks--;
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        // Only now that the copies are written do readers turn to them; the old packs stay readable until the
        // batch that frees them commits (under the read gate).
        int compacted = 0;
        lock (_lock)
        {
            foreach (var (id, pack, offset) in moves)
            {
                var c = _chunks[id];
                var old = _packs[c.Pack];
                old.Chunks--;
                old.LiveBytes -= c.StoredLength;
                c.Pack = pack;
                c.Offset = offset;
                _packs[pack].LiveBytes += c.StoredLength;
                _dirty.Add(id);
            }
            foreach (var slot in sparse)
            {
                if (stuck.Contains(slot))
                    continue;
                // Chunks without references left in it are forgotten with it.
                foreach (var (id, c) in _chunks.Where(kv => kv.Value.Pack == slot).ToList())
                {
                    _chunks.Remove(id);
                    _dirty.Add(id);
                }
                _packs.Remove(slot);
                _extents.FreeSlot(slot, batch);
                compacted++;
            }
        }
        return (compacted, moved);
    }

    /// <summary>Every chunk with its reference count, as of now (the Curator's audit).</summary>
    public List<(ExtentId Id, long RefCount)> References()
    {
        lock (_lock)
            return _chunks.Select(kv => (kv.Key, kv.Value.RefCount)).ToList();
    }

    /// <summary>Sets a chunk's reference count to what the vDisk map says (the Curator's audit); false if unknown.</summary>
    public bool SetReferences(ExtentId id, long count)
    {
        lock (_lock)
        {
            if (!_chunks.TryGetValue(id, out var c))
                return false;
            if (c.RefCount == count)
                return true;
            if (!c.Pack.IsNone)
            {
                if (c.RefCount > 0 && count == 0)
                    _packs[c.Pack].LiveBytes -= c.StoredLength;
                else if (c.RefCount == 0 && count > 0)
                    _packs[c.Pack].LiveBytes += c.StoredLength;
            }
            c.RefCount = count;
            _dirty.Add(id);
            return true;
        }
    }

    /// <summary>(stored bytes of referenced chunks, referenced chunks, pack slots).</summary>
    public (long LiveStored, int LiveChunks, int Packs) Space()
    {
        lock (_lock)
        {
            long live = 0;
            int chunks = 0;
            foreach (var c in _chunks.Values)
            {
                if (c.RefCount > 0)
                {
                    live += c.StoredLength;
                    chunks++;
                }
            }
            return (live, chunks, _packs.Count);
        }
    }

    /// <summary>The stored length and reference count of a chunk, for per-vDisk shares in statistics.</summary>
    public bool TryGetInfo(ExtentId id, out int storedLength, out long refCount)
    {
        lock (_lock)
        {
            if (_chunks.TryGetValue(id, out var c))
            {
                storedLength = c.StoredLength;
                refCount = c.RefCount;
                return true;
            }
        }
        storedLength = 0;
        refCount = 0;
        return false;
    }

    // ---------------------------------------------------------------- the vDisk map's form of a chunk list

    public static byte[] Serialize(ReadOnlySpan<ExtentId> ids)
    {
        var bytes = new byte[ids.Length * ExtentId.SerializedSize];
        for (int i = 0; i < ids.Length; i++)
            ids[i].WriteTo(bytes.AsSpan(i * ExtentId.SerializedSize));
        return bytes;
    }

    public static ExtentId[] Deserialize(ReadOnlySpan<byte> bytes)
    {
        var ids = new ExtentId[bytes.Length / ExtentId.SerializedSize];
        for (int i = 0; i < ids.Length; i++)
            ExtentId.TryRead(bytes.Slice(i * ExtentId.SerializedSize), out ids[i]);
        return ids;
    }
}
