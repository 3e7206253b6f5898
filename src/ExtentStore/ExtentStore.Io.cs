using System.Buffers;
using StorageAppliance.Common;

namespace StorageAppliance.ExtentStore;

// Reading extents (every slice checksum-verified) and applying drained changes (slice read-modify-write).
public sealed partial class ExtentStore
{
    /// <summary>Decides whether a slice whose checksum does not match may be read anyway (see the engine's rule).</summary>
    public delegate bool MismatchTolerance(int slice);

    /// <summary>
    /// Reads [<paramref name="offsetInSlot"/>, +destination.Length) of a slot. Empty slices read as zeros;
    /// every other slice is read whole and its CRC32C checked. A mismatch is an error unless
    /// <paramref name="tolerate"/> says the slice is being (or was being, at a crash) rewritten by a drain
    /// whose changes the caller overlays.
    /// </summary>
    public ExtentReadResult Read(SlotRef slot, int offsetInSlot, Span<byte> destination, MismatchTolerance? tolerate, out int failedSlice)
    {
        failedSlice = -1;
        if (!_egroups.TryGetValue(slot.EgroupId, out var g))
            return ExtentReadResult.IoError;
        int first = offsetInSlot / SliceSize;
        int last = (offsetInSlot + destination.Length - 1) / SliceSize;
        byte[]? scratch = null;
        try
        {
            int i = first;
            while (i <= last)
            {
                var d = g.Descriptor(slot.Slot, i);
                var state = SliceDescriptor.State(d);
                int sliceStart = i * SliceSize;
                int from = Math.Max(offsetInSlot, sliceStart);
                int to = Math.Min(offsetInSlot + destination.Length, sliceStart + SliceSize);
                var part = destination.Slice(from - offsetInSlot, to - from);
                if (state == SliceState.Empty)
                {
                    part.Clear();
                    i++;
                    continue;
                }
                if (state == SliceState.Bad)
                {
                    failedSlice = i;
                    return ExtentReadResult.BadSlice;
                }

                // A run of whole data slices inside the destination is read with one call, straight into it.
                int run = 1;
                bool whole = from == sliceStart && to == sliceStart + SliceSize;
                if (whole)
                {
                    while (i + run <= last
                        && SliceDescriptor.State(g.Descriptor(slot.Slot, i + run)) == SliceState.Data
                        && (i + run + 1) * SliceSize <= offsetInSlot + destination.Length)
                        run++;
                    var target = destination.Slice(sliceStart - offsetInSlot, run * SliceSize);
                    if (g.ReadData(slot.Slot, sliceStart, target) < target.Length)
                        target[0..].Clear();
                    for (int k = 0; k < run; k++)
                    {
                        var slice = target.Slice(k * SliceSize, SliceSize);
                        if (Crc32C.Compute(slice) != SliceDescriptor.Crc(g.Descriptor(slot.Slot, i + k)) && !(tolerate?.Invoke(i + k) ?? false))
                        {
                            failedSlice = i + k;
                            return ExtentReadResult.ChecksumMismatch;
                        }
                    }
                    i += run;
                    continue;
                }

                scratch ??= ArrayPool<byte>.Shared.Rent(SliceSize);
                var s = scratch.AsSpan(0, SliceSize);
                if (g.ReadData(slot.Slot, sliceStart, s) < SliceSize)
                    s.Clear();
                if (Crc32C.Compute(s) != SliceDescriptor.Crc(d) && !(tolerate?.Invoke(i) ?? false))
                {
                    failedSlice = i;
                    return ExtentReadResult.ChecksumMismatch;
                }
                s.Slice(from - sliceStart, to - from).CopyTo(part);
                i++;
            }
            return ExtentReadResult.Ok;
        }
        catch (IOException e)
        {
            ExtentStoreLog.ReadFailed(_log, g.Disk.Path, g.Id, slot.Slot, e.Message);
            return ExtentReadResult.IoError;
        }
        finally
        {
            if (scratch is not null)
                ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Applies a block's changes, in sequence order, to its slot: slices wholly overwritten are replaced,
    /// partly written ones are read, merged and rewritten, wholly unmapped ones are emptied and their space
    /// released. Writes data, then descriptors; durability comes with <see cref="FlushDirty"/>. Returns
    /// true when the slot is left with no data at all (its extent can be freed).
    /// </summary>
    /// <exception cref="DiskFailedException">The slot's disk failed a write; the caller moves the block to another disk.</exception>
    public bool Apply(SlotRef slot, ReadOnlySpan<BlockChange> changes, MismatchTolerance? tolerate)
    {
        var g = _egroups[slot.EgroupId];
        int slicesPerSlot = g.Layout.SlicesPerSlot;
        var slices = new Dictionary<int, WorkingSlice>();
        try
        {
            foreach (var change in changes)
            {
                int firstSlice = change.Offset / SliceSize;
                int lastSlice = (change.Offset + change.Length - 1) / SliceSize;
                for (int i = firstSlice; i <= lastSlice; i++)
                {
                    int sliceStart = i * SliceSize;
                    int from = Math.Max(change.Offset, sliceStart);
                    int to = Math.Min(change.Offset + change.Length, sliceStart + SliceSize);
                    bool wholeSlice = from == sliceStart && to == sliceStart + SliceSize;
                    if (!slices.TryGetValue(i, out var ws))
                    {
                        ws = wholeSlice ? new WorkingSlice() : LoadSlice(g, slot.Slot, i, tolerate);
                        slices[i] = ws;
                    }
                    if (change.Unmap)
                    {
                        if (wholeSlice)
                        {
                            ws.Empty = true;
                            ws.Bad = false;
                        }
                        else
                        {
                            ws.EnsureBuffer().AsSpan(from - sliceStart, to - from).Clear();
                        }
                    }
                    else
                    {
                        change.Data.Span.Slice(from - change.Offset, to - from).CopyTo(ws.EnsureBuffer().AsSpan(from - sliceStart));
                        ws.Empty = false;
                        if (wholeSlice)
                            ws.Bad = false;
                    }
                }
            }

            var order = slices.Keys.ToArray();
            Array.Sort(order);
            int k = 0;
            while (k < order.Length)
            {
                int start = order[k];
                var first = slices[start];
                int end = k + 1;
                while (end < order.Length && order[end] == order[end - 1] + 1 && slices[order[end]].Empty == first.Empty)
                    end++;
                if (first.Empty)
                {
                    g.PunchData(slot.Slot, (long)start * SliceSize, (long)(end - k) * SliceSize);
                    for (int j = k; j < end; j++)
                        g.SetDescriptor(slot.Slot, order[j], SliceState.Empty, 0);
                }
                else
                {
                    var buffers = new ReadOnlyMemory<byte>[end - k];
                    for (int j = k; j < end; j++)
                    {
                        var ws = slices[order[j]];
                        var data = ws.EnsureBuffer().AsMemory(0, SliceSize);
                        buffers[j - k] = data;
                        g.SetDescriptor(slot.Slot, order[j], ws.Bad ? SliceState.Bad : SliceState.Data, Crc32C.Compute(data.Span));
                    }
                    g.File.Write(buffers, g.Base + g.Layout.SlotOffset(slot.Slot) + (long)start * SliceSize);
                    g.Dirty = true;
                }
                k = end;
            }
            if (order.Length > 0)
                g.WriteDescriptors(slot.Slot, order[0], order[^1] - order[0] + 1);
        }
        catch (IOException e) when (e is not DiskFailedException and not NoSpaceException)
        {
            throw Fault(g.Disk, e);
        }
        finally
        {
            foreach (var ws in slices.Values)
                ws.Return();
        }

        for (int i = 0; i < slicesPerSlot; i++)
            if (SliceDescriptor.State(g.Descriptor(slot.Slot, i)) != SliceState.Empty)
                return false;
        return true;
    }

    /// <summary>Copies a slot to another (moving a block off a failing disk): slices that cannot be read become bad.</summary>
    public void CopySlot(SlotRef from, SlotRef to, MismatchTolerance? tolerate)
    {
        var src = _egroups[from.EgroupId];
        var dst = _egroups[to.EgroupId];
        var buffer = ArrayPool<byte>.Shared.Rent(SliceSize);
        try
        {
            for (int i = 0; i < src.Layout.SlicesPerSlot; i++)
            {
                var state = SliceDescriptor.State(src.Descriptor(from.Slot, i));
                if (state == SliceState.Empty)
                    continue;
                var s = buffer.AsSpan(0, SliceSize);
                bool ok = state == SliceState.Data;
                try
                {
                    if (ok && src.ReadData(from.Slot, (long)i * SliceSize, s) < SliceSize)
                        s.Clear();
                }
                catch (IOException)
                {
                    ok = false;
                }
                if (ok && Crc32C.Compute(s) != SliceDescriptor.Crc(src.Descriptor(from.Slot, i)) && !(tolerate?.Invoke(i) ?? false))
                    ok = false;
                if (!ok)
                {
                    s.Clear();
                    ExtentStoreLog.SliceLost(_log, src.Disk.Path, src.Id, from.Slot, i);
                }
                dst.WriteData(to.Slot, (long)i * SliceSize, s);
                dst.SetDescriptor(to.Slot, i, ok ? SliceState.Data : SliceState.Bad, Crc32C.Compute(s));
            }
            dst.WriteDescriptors(to.Slot, 0, dst.Layout.SlicesPerSlot);
        }
        catch (IOException e) when (e is not DiskFailedException and not NoSpaceException)
        {
            throw Fault(dst.Disk, e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Whether a slice of a slot holds data (written, or lost: Bad still occupies its space) rather than being
    /// empty. A descriptor table that cannot be read counts as data: "allocated" is the safe answer.
    /// </summary>
    public bool SliceHasData(SlotRef slot, int slice)
    {
        if (!_egroups.TryGetValue(slot.EgroupId, out var g))
            return false;
        try
        {
            return SliceDescriptor.State(g.Descriptor(slot.Slot, slice)) != SliceState.Empty;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Bytes of a slot that hold data (written slices), for thin-provisioning reports.</summary>
    public long WrittenBytes(SlotRef slot)
    {
        if (!_egroups.TryGetValue(slot.EgroupId, out var g))
            return 0;
        long n = 0;
        try
        {
            for (int i = 0; i < g.Layout.SlicesPerSlot; i++)
                if (SliceDescriptor.State(g.Descriptor(slot.Slot, i)) != SliceState.Empty)
                    n += SliceSize;
        }
        catch (IOException)
        {
        }
        return n;
    }

    private WorkingSlice LoadSlice(Egroup g, int slot, int slice, MismatchTolerance? tolerate)
    {
        var ws = new WorkingSlice();
        var d = g.Descriptor(slot, slice);
        var state = SliceDescriptor.State(d);
        if (state == SliceState.Empty)
        {
            ws.Empty = true;
            return ws;
        }
        var buffer = ws.EnsureBuffer();
        if (g.ReadData(slot, (long)slice * SliceSize, buffer.AsSpan(0, SliceSize)) < SliceSize)
            buffer.AsSpan(0, SliceSize).Clear();
        ws.Empty = false;
        if (state == SliceState.Bad || (Crc32C.Compute(buffer.AsSpan(0, SliceSize)) != SliceDescriptor.Crc(d) && !(tolerate?.Invoke(slice) ?? false)))
        {
            // The rest of this slice was lost: merging into it keeps it marked bad until fully rewritten.
            ws.Bad = true;
            if (state == SliceState.Data)
                ExtentStoreLog.MergeIntoCorruptSlice(_log, g.Disk.Path, g.Id, slot, slice);
        }
        return ws;
    }

    private sealed class WorkingSlice
    {
        private byte[]? _buffer;

        /// <summary>The slice ends up with no data (unmapped whole).</summary>
        public bool Empty;

        public bool Bad;

        public byte[] EnsureBuffer()
        {
            if (_buffer is null)
            {
                _buffer = ArrayPool<byte>.Shared.Rent(SliceSize);
                _buffer.AsSpan(0, SliceSize).Clear();
            }
            else if (Empty)
            {
                _buffer.AsSpan(0, SliceSize).Clear();
            }
            return _buffer;
        }

        public void Return()
        {
            if (_buffer is not null)
                ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}
