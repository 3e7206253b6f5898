namespace StorageAppliance.Journal;

/// <summary>
/// Where appended entries are found before they are drained (a vDisk's overlay of undrained writes). The
/// journal calls <see cref="Add"/> inside its append, under its append lock, before the entry's sequence
/// number becomes visible as <see cref="Journal.LastSequence"/>: a drain round that runs up to a sequence
/// number therefore never misses an entry at or below it (indexed a moment later, it would be dropped
/// from the overlay as drained without ever reaching the extent store). Implementations must be quick and
/// must not call back into the journal.
/// </summary>
public interface IJournalIndex
{
    void Add(JournalEntry entry);
}
