namespace StorageAppliance.Protocols.Scsi;

// REQUEST SENSE (SPC-4 6.39)
//
//   byte 1 DESC (bit 0): descriptor-format (72h) rather than fixed-format (70h) sense data
//   byte 4 ALLOCATION LENGTH
//
// With no CHECK CONDITION pending (this target uses autosense), the answer is a pending unit attention,
// which is then cleared (SAM-5 5.14), else the unit's "pollable" state: NOT READY / INITIALIZING COMMAND
// REQUIRED while stopped, otherwise NO SENSE.
public sealed partial class LogicalUnit
{
    private void RequestSense(ScsiTask task)
    {
        bool descriptor = (task.CdbBuffer[1] & 0x01) != 0;
        uint allocation = task.CdbBuffer[4];
        SenseCode code = TryTakeUnitAttention(task.Nexus, out var ua) ? ua
            : _stopped ? SenseCode.NotReadyInitializingCommandRequired
            : SenseCode.NoSense;
        Span<byte> sense = stackalloc byte[ScsiTask.MaxSenseLength];
        int length = SenseData.Write(sense, code, descriptor);
        sense[..length].CopyTo(task.AllocateDataIn(length, clear: false));
        task.CompleteDataIn(allocation);
        // The sense data is the answer here, not a condition: the command itself completes with GOOD.
        task.SetGood();
    }
}
