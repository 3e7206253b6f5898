namespace StorageAppliance.Protocols.Scsi;

// RESERVE (6) and RELEASE (6) (SPC-2; kept by SPC-4 only through the compatible reservation handling rules)
//
//   CDB: opcode, then bytes 1..4 reserved here (the obsolete third-party and extent forms are not supported), CONTROL
//
// RESERVE (6) reserves the whole unit for the I_T nexus that sent it; while it lasts every other nexus gets
// RESERVATION CONFLICT for all but a few commands (see AllowedUnderSpc2Reservation). The holder may repeat it;
// RELEASE (6) from the holder ends it, from anyone else does nothing and is GOOD. It also ends with the
// holder's I_T nexus (logout, connection loss) and with a LUN or target reset.
//
// With persistent reservation state present (CRH=1 in REPORT CAPABILITIES; SPC-4, "Exceptions to SPC-2 RESERVE
// and RELEASE behavior"): from the persistent reservation holder, or from a registered nexus under a
// registrants only or all registrants reservation, both are GOOD and change nothing; otherwise, since SPC-2
// makes RESERVE and RELEASE conflict while any registration exists, they end with RESERVATION CONFLICT.
public sealed partial class LogicalUnit
{
    private void Reserve6(ScsiTask task)
    {
        var nexus = task.Nexus;
        bool conflict;
        lock (_prLock)
        {
            if (_registrations.Count > 0 || _prType != 0)
            {
                conflict = !PersistentHolderOrRegistrant(nexus);
            }
            else if (_spc2Holder != 0 && _spc2Holder != nexus.Id)
            {
                conflict = true;
            }
            else
            {
                conflict = false;
                _spc2Holder = nexus.Id;
                UpdateReservationActive();
            }
        }
        if (conflict)
            task.SetStatus(ScsiStatus.ReservationConflict);
        else
            task.SetGood();
    }

    private void Release6(ScsiTask task)
    {
        var nexus = task.Nexus;
        bool conflict = false;
        lock (_prLock)
        {
            if (_registrations.Count > 0 || _prType != 0)
            {
                conflict = !PersistentHolderOrRegistrant(nexus);
            }
            else if (_spc2Holder == nexus.Id)
            {
                _spc2Holder = 0;
                UpdateReservationActive();
            }
        }
        if (conflict)
            task.SetStatus(ScsiStatus.ReservationConflict);
        else
            task.SetGood();
    }

    /// <summary>The CRH cases in which RESERVE and RELEASE succeed without effect. Under <see cref="_prLock"/>.</summary>
    private bool PersistentHolderOrRegistrant(ITNexus nexus)
    {
        var registration = FindRegistration(nexus);
        return IsHolder(registration) || (registration is not null && (IsRegistrantsOnly(_prType) || IsAllRegistrants(_prType)));
    }
}
