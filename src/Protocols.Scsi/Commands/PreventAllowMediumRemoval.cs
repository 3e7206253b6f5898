namespace StorageAppliance.Protocols.Scsi;

// PREVENT ALLOW MEDIUM REMOVAL (SBC-3)
//
//   byte 4 PREVENT (1:0): 00b medium removal allowed, 01b prevented, 1xb obsolete (refused here)
//
// The medium of this unit is not removable (RMB=0), but the state is kept as SBC-3 describes, and it is
// what START STOP UNIT with LOEJ=1 consults. Prevention is per I_T nexus; "the prevention of medium removal
// condition shall terminate" when every nexus that prevented removal allows it again, on I_T nexus loss
// (RemoveNexus), and on a logical unit reset or any target reset (Reset).
public sealed partial class LogicalUnit
{
    private void PreventAllowMediumRemoval(ScsiTask task)
    {
        int prevent = task.CdbBuffer[4] & 0x03;
        if (prevent > 1)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(4, 1));
            return;
        }
        var state = GetNexusState(task.Nexus);
        if (state is not null)
            state.PreventRemoval = prevent == 1;
        task.SetGood();
    }

    /// <summary>True while any I_T nexus prevents medium removal.</summary>
    public bool MediumRemovalPrevented
    {
        get
        {
            foreach (var s in _nexusState.Values)
                if (s.PreventRemoval)
                    return true;
            return false;
        }
    }
}
