using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// START STOP UNIT (SBC-3)
//
//   +------+-----------------------------------------------------------+
//   |  1   | reserved                                          | IMMED |
//   |  3   | reserved                      | POWER CONDITION MODIFIER  |
//   |  4   | POWER CONDITION   | reserved | NO_FLUSH | LOEJ | START    |
//   +------+-----------------------------------------------------------+
//
// POWER CONDITION 0h (START_VALID) processes START and LOEJ:
//   START=1            the unit leaves the stopped power condition (LOEJ=1 would load a medium: this one
//                      is fixed, so there is nothing to load);
//   START=0            the unit enters the stopped power condition after writing its cache unless NO_FLUSH
//                      (SBC-3: "logical units that contain cache shall write all cached logical blocks to
//                      the medium"); medium access commands then fail with NOT READY until a START;
//   START=0, LOEJ=1    would unload the medium: refused with MEDIUM REMOVAL PREVENTED while any nexus
//                      prevents removal; otherwise the fixed medium stays and the unit stops.
// The other supported values (ACTIVE 1h, IDLE 2h, STANDBY 3h, LU_CONTROL 7h, FORCE_IDLE_0 Ah,
// FORCE_STANDBY_0 Bh) ignore START and LOEJ ("If the POWER CONDITION field is supported and is set to a
// value other than 0h, then the START and LOEJ bits shall be ignored"). A virtual disk draws no power of its
// own, so idle and standby are indistinguishable from active: each of them leaves the stopped condition and
// nothing else changes. Reserved and obsolete values, and modifiers the table does not define, are invalid.
// IMMED=1: "the device server shall return status as soon as the CDB has been validated".
public sealed partial class LogicalUnit
{
    private ValueTask StartStopUnit(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool immed = (cdb[1] & 0x01) != 0;
        int modifier = cdb[3] & 0x0F;
        int condition = cdb[4] >> 4;
        bool noFlush = (cdb[4] & 0x04) != 0;
        bool loej = (cdb[4] & 0x02) != 0;
        bool start = (cdb[4] & 0x01) != 0;

        int maxModifier = condition switch
        {
            0x0 or 0x1 or 0x7 or 0xA or 0xB => 0,
            0x2 => 2, // IDLE_A, IDLE_B, IDLE_C
            0x3 => 1, // STANDBY_Z, STANDBY_Y
            _ => -1,
        };
        if (maxModifier < 0)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(4, 7));
            return default;
        }
        if (modifier > maxModifier)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(3, 3));
            return default;
        }

        if (condition != 0 || start)
        {
            if (condition != 0x7 && _stopped)
            {
                _stopped = false;
                ScsiLog.PowerConditionChanged(_log, _vdisk.Name, task.Nexus, "active");
            }
            task.SetGood();
            return default;
        }

        // SBC-3: with LOEJ=1 and START=0, if "the prevention of medium removal" is in effect the device server
        // "shall terminate the command with CHECK CONDITION status with the sense key set to ILLEGAL REQUEST and
        // the additional sense code set to MEDIUM REMOVAL PREVENTED".
        if (loej && MediumRemovalPrevented)
        {
            task.SetCheckCondition(SenseCode.MediumRemovalPrevented, DescriptorSense);
            return default;
        }

        if (noFlush)
        {
            EnterStopped(task.Nexus);
            task.SetGood();
            return default;
        }
        var flush = _vdisk.FlushAsync(task.Nexus.IoContext);
        if (immed)
        {
            EnterStopped(task.Nexus);
            ObserveInBackground(flush, "START STOP UNIT cache flush");
            task.SetGood();
            return default;
        }
        if (flush.IsCompletedSuccessfully)
        {
            StopAfterFlush(task, flush.Result);
            return default;
        }
        return AwaitStop(task, flush);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitStop(ScsiTask task, ValueTask<IoStatus> flush) => StopAfterFlush(task, await flush.ConfigureAwait(false));

    private void StopAfterFlush(ScsiTask task, IoStatus flushed)
    {
        if (flushed != IoStatus.Ok)
        {
            Complete(task, flushed);
            return;
        }
        EnterStopped(task.Nexus);
        task.SetGood();
    }

    private void EnterStopped(ITNexus by)
    {
        if (!Options.HonourStop)
        {
            ScsiLog.PowerConditionChanged(_log, _vdisk.Name, by, "stop requested; cache written, unit stays ready (shared LUN)");
            return;
        }
        if (!_stopped)
        {
            _stopped = true;
            ScsiLog.PowerConditionChanged(_log, _vdisk.Name, by, "stopped");
        }
    }
}
