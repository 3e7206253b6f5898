namespace StorageAppliance.Protocols.Scsi;

// TEST UNIT READY (SPC-4 6.47): byte 5 CONTROL only.
//
// GOOD when the medium is accessible. A unit in the stopped power condition answers NOT READY / LOGICAL
// UNIT NOT READY, INITIALIZING COMMAND REQUIRED (SBC-3, power conditions: START STOP UNIT with START=1 makes it ready).
public sealed partial class LogicalUnit
{
    private void TestUnitReady(ScsiTask task)
    {
        if (_stopped)
        {
            task.SetCheckCondition(SenseCode.NotReadyInitializingCommandRequired, DescriptorSense);
            return;
        }
        task.SetGood();
    }
}
