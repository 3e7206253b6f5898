namespace StorageAppliance.Protocols.Scsi;

// REQUEST SENSE (SPC-4 6.39)
public sealed partial class LogicalUnit
{
    private void RequestSense(ScsiTask task)
    {
        bool desc = (task.CdbBuffer[1] & 0x01) != 0;
        int alloc = task.CdbBuffer[4];
        // A pending unit attention is returned as the sense data and cleared (SPC-4 5.12).
        var code = TryTakeUnitAttention(task.Nexus, out var ua) ? ua : SenseCode.NoSense;
        Span<byte> tmp = stackalloc byte[ScsiTask.MaxSenseLength];
        int len = SenseData.Write(tmp, code, desc);
        var d = task.AllocateDataIn(len);
        tmp[..len].CopyTo(d);
        task.TruncateDataIn(Math.Min(alloc, len));
        task.SetGood();
    }
}
