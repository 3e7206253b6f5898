namespace StorageAppliance.Metadata;

/// <summary>
/// Checks a batch before any of it is applied, so a malformed op is the caller's error (ArgumentException)
/// and every implementation rejects the same batches in the same way, with nothing applied.
/// </summary>
internal static class BatchValidator
{
    public static void Validate(MetadataBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        IReadOnlyList<MetadataOp> ops = batch.Ops;
        for (int i = 0; i < ops.Count; i++)
        {
            string? problem = Check(ops[i]);
            if (problem is not null)
                throw new ArgumentException($"metadata batch op #{i}: {problem}", nameof(batch));
        }
    }

    private static string? Check(MetadataOp? op) => op switch
    {
        null => "is null",
        MetadataOp.PutPool p => p.Pool is null ? "PutPool without a pool" : p.Pool.Name is null ? "pool name is null" : null,
        MetadataOp.PutDisk d => d.Disk is null ? "PutDisk without a disk" : d.Disk.Path is null ? "disk path is null" : null,
        MetadataOp.PutContainer c => c.Container is null ? "PutContainer without a container" : c.Container.Name is null ? "container name is null" : null,
        MetadataOp.PutVDisk v => v.VDisk is null ? "PutVDisk without a vDisk" : v.VDisk.Name is null ? "vDisk name is null" : null,
        MetadataOp.PutEgroup e => e.Egroup is null ? "PutEgroup without an extent group" : null,
        MetadataOp.PutExtent x => x.Extent is null ? "PutExtent without an extent" : null,
        MetadataOp.PutBlock b => b.Block is null ? "PutBlock without a block" : null,
        MetadataOp.PutDedupExtent x => x.Extent is null || x.Extent.ExtentId is not { Length: 24 } ? "PutDedupExtent without a 24-byte extent id" : null,
        MetadataOp.DeleteDedupExtent d => d.ExtentId is not { Length: 24 } ? "DeleteDedupExtent without a 24-byte extent id" : null,
        MetadataOp.PutExtentId p => p.ExtentId is null || p.ExtentId.Length == 0 ? "extent id is null or empty" : null,
        MetadataOp.DeleteExtentId d => d.ExtentId is null || d.ExtentId.Length == 0 ? "extent id is null or empty" : null,
        MetadataOp.PutValue p => p.Key is null ? "value key is null" : p.Value is null ? "value is null" : null,
        MetadataOp.DeleteValue d => d.Key is null ? "value key is null" : null,
        MetadataOp.DeleteVDisk or MetadataOp.DeleteEgroup or MetadataOp.DeleteExtent or MetadataOp.DeleteBlock
            or MetadataOp.SetDrainedSequence => null,
        _ => $"unknown op type {op.GetType().Name}",
    };
}
