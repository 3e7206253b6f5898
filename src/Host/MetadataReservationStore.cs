using StorageAppliance.Metadata;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Host;

/// <summary>
/// Persistent reservations made with APTPL=1, kept in the appliance's metadata store under
/// "reservations/&lt;NAA designator in hex&gt;" (the unit key), next to the run-time LUN exports ("exports/&lt;target&gt;").
/// </summary>
/// <remarks>
/// SPC-4 "Persisting reservations" and the APTPL bit of the PERSISTENT RESERVE OUT parameter list: when the
/// last valid APTPL received is one, the registrations and the reservation are kept across a power loss; when it
/// is zero, they are lost. A commit of the metadata store is durable when it returns
/// (SQLite, synchronous=FULL), which is what <see cref="IReservationStore.Save"/> promises the unit before it
/// answers GOOD. An empty state deletes the row: nothing to restore after the restart.
/// </remarks>
public sealed class MetadataReservationStore(IMetadataStore metadata) : IReservationStore
{
    private const string Prefix = "reservations/";

    public static string KeyOf(string unitKey) => Prefix + unitKey;

    public byte[]? Load(string unitKey) => metadata.GetValue(KeyOf(unitKey));

    public void Save(string unitKey, byte[] state)
    {
        var batch = new MetadataBatch();
        batch.Add(state.Length == 0
            ? new MetadataOp.DeleteValue(KeyOf(unitKey))
            : new MetadataOp.PutValue(KeyOf(unitKey), (byte[])state.Clone()));
        metadata.Commit(batch);
    }

    /// <summary>Forgets the state of a unit whose vDisk is deleted (a new vDisk never reuses its NAA id, but the row would stay).</summary>
    public void Forget(string unitKey) => metadata.Commit(new MetadataBatch().Add(new MetadataOp.DeleteValue(KeyOf(unitKey))));
}
