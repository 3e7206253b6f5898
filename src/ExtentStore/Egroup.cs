using StorageAppliance.Common.Devices;
using StorageAppliance.Metadata;

namespace StorageAppliance.ExtentStore;

/// <summary>A slot of an extent group: where one non-deduplicated extent lives.</summary>
public readonly record struct SlotRef(long EgroupId, int Slot)
{
    public static readonly SlotRef None = new(0, -1);

    public bool IsNone => Slot < 0;
}

/// <summary>
/// An open extent group: its storage (a file, or a region of a file disk), which slots are taken, and its
/// slice descriptors (loaded on first use and kept in memory; written through on every change).
/// </summary>
internal sealed class Egroup
{
    private readonly object _lock = new();
    private byte[]? _descriptors;

    public Egroup(EgroupRecord record, PoolDisk disk, EgroupLayout layout, IStorageFile file, long baseOffset)
    {
        Record = record;
        Disk = disk;
        Layout = layout;
        File = file;
        Base = baseOffset;
        SlotUsed = new bool[layout.SlotCount];
        FreeSlots = layout.SlotCount;
    }

    public EgroupRecord Record { get; }

    public long Id => Record.Id;

    public PoolDisk Disk { get; }

    public EgroupLayout Layout { get; }

    public IStorageFile File { get; }

    public long Base { get; }

    public bool[] SlotUsed { get; }

    public int FreeSlots { get; set; }

    /// <summary>Its metadata row is committed (false between creation and the drain batch's commit).</summary>
    public bool Committed { get; set; }

    /// <summary>Written in the current drain batch: flushed before the batch commits.</summary>
    public bool Dirty { get; set; }

    public void MarkUsed(int slot)
    {
        if (!SlotUsed[slot])
        {
            SlotUsed[slot] = true;
            FreeSlots--;
        }
    }

    public void MarkFree(int slot)
    {
        if (SlotUsed[slot])
        {
            SlotUsed[slot] = false;
            FreeSlots++;
        }
    }

    public int FirstFreeSlot()
    {
        for (int i = 0; i < SlotUsed.Length; i++)
            if (!SlotUsed[i])
                return i;
        return -1;
    }

    private byte[] Descriptors()
    {
        var d = _descriptors;
        if (d is not null)
            return d;
        lock (_lock)
        {
            if (_descriptors is null)
            {
                var table = new byte[Layout.DescriptorTableSize];
                int n = File.Read(table, Base + EgroupLayout.HeaderSize);
                if (n < table.Length)
                    table.AsSpan(n).Clear();
                _descriptors = table;
            }
            return _descriptors;
        }
    }

    public ReadOnlySpan<byte> Descriptor(int slot, int slice)
    {
        long off = Layout.DescriptorOffset(slot, slice) - EgroupLayout.HeaderSize;
        return Descriptors().AsSpan((int)off, SliceDescriptor.Size);
    }

    public void SetDescriptor(int slot, int slice, SliceState state, uint crc)
    {
        long off = Layout.DescriptorOffset(slot, slice) - EgroupLayout.HeaderSize;
        SliceDescriptor.Write(Descriptors().AsSpan((int)off, SliceDescriptor.Size), state, crc);
    }

    /// <summary>Writes the in-memory descriptors of slices [first, first + count) of a slot to disk.</summary>
    public void WriteDescriptors(int slot, int first, int count)
    {
        long off = Layout.DescriptorOffset(slot, first) - EgroupLayout.HeaderSize;
        File.Write(Descriptors().AsSpan((int)off, count * SliceDescriptor.Size), Base + EgroupLayout.HeaderSize + off);
        Dirty = true;
    }

    public int ReadData(int slot, long offsetInSlot, Span<byte> destination) =>
        File.Read(destination, Base + Layout.SlotOffset(slot) + offsetInSlot);

    public void WriteData(int slot, long offsetInSlot, ReadOnlySpan<byte> data)
    {
        File.Write(data, Base + Layout.SlotOffset(slot) + offsetInSlot);
        Dirty = true;
    }

    public void PunchData(int slot, long offsetInSlot, long length)
    {
        File.PunchHole(Base + Layout.SlotOffset(slot) + offsetInSlot, length);
        Dirty = true;
    }
}
