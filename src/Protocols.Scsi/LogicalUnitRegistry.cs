using System.Collections.Concurrent;

namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// The logical units of the appliance by their NAA designator (VPD page 83h), across every target: how the copy
/// manager of EXTENDED COPY finds the units a copy names in its identification descriptors, so a copy between
/// two LUNs of the appliance, through the same target or not, moves data vDisk to vDisk with no network in between.
/// </summary>
public sealed class LogicalUnitRegistry
{
    private readonly ConcurrentDictionary<string, LogicalUnit> _byNaa = new(StringComparer.Ordinal);

    /// <summary>The registry <see cref="ScsiTarget"/>s share unless given another one.</summary>
    public static LogicalUnitRegistry Default { get; } = new();

    public int Count => _byNaa.Count;

    /// <summary>Makes a unit findable by its designator (adding the same unit again, through another target, changes nothing).</summary>
    public void Add(LogicalUnit unit)
    {
        _byNaa[Key(unit.Options.NaaDesignator)] = unit;
        unit.CopyRegistry ??= this;
    }

    public bool Remove(LogicalUnit unit) =>
        _byNaa.TryRemove(new KeyValuePair<string, LogicalUnit>(Key(unit.Options.NaaDesignator), unit));

    /// <summary>The unit whose NAA designator is <paramref name="naa"/>, or null.</summary>
    public LogicalUnit? Find(ReadOnlySpan<byte> naa) => _byNaa.TryGetValue(Key(naa), out var unit) ? unit : null;

    private static string Key(ReadOnlySpan<byte> naa) => Convert.ToHexStringLower(naa);
}
