using System.Collections.Concurrent;

namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// Where a logical unit keeps its persistent reservations when an initiator asks for them to survive power
/// loss (PERSISTENT RESERVE OUT with APTPL=1, SPC-4 "Persisting reservations"). The state is an opaque
/// blob the unit writes and reads back; the store only has to keep the last one per unit, durably.
/// </summary>
/// <remarks>
/// <see cref="Save"/> is called before the PERSISTENT RESERVE OUT that changed the state completes, one
/// call at a time per unit, so an initiator never sees GOOD for a change a restart could lose. An empty
/// blob means "nothing to keep" (APTPL was turned off, or every registration is gone).
/// </remarks>
public interface IReservationStore
{
    /// <summary>The last state saved for the unit, or null.</summary>
    byte[]? Load(string unitKey);

    /// <summary>Replaces the state of the unit durably.</summary>
    void Save(string unitKey, byte[] state);
}

/// <summary>A store in memory: for tests, and for units whose reservations need not survive the process.</summary>
public sealed class InMemoryReservationStore : IReservationStore
{
    private readonly ConcurrentDictionary<string, byte[]> _states = new(StringComparer.Ordinal);

    /// <summary>How many times <see cref="Save"/> was called (for tests).</summary>
    public int Saves { get; private set; }

    public byte[]? Load(string unitKey) => _states.TryGetValue(unitKey, out var s) ? (byte[])s.Clone() : null;

    public void Save(string unitKey, byte[] state)
    {
        _states[unitKey] = (byte[])state.Clone();
        Saves++;
    }
}
