using Microsoft.Extensions.Logging;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

/// <summary>Source-generated log messages of the SCSI layer (event ids 3000-3099).</summary>
internal static partial class ScsiLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "vDisk {Name}: {Operation} finished after its status was sent (IMMED) with {Status}")]
    public static partial void BackgroundOperationFailed(ILogger logger, string name, string operation, IoStatus status);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "vDisk {Name}: {Operation} finished after its status was sent (IMMED) with an exception")]
    public static partial void BackgroundOperationThrew(ILogger logger, string name, string operation, Exception exception);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "vDisk {Name}: mode parameters changed by {Nexus}: WCE={Wce} D_SENSE={DSense} SWP={Swp}")]
    public static partial void ModeParametersChanged(ILogger logger, string name, ITNexus nexus, bool wce, bool dSense, bool swp);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "vDisk {Name}: {Nexus} moved the logical unit to the {State} power condition")]
    public static partial void PowerConditionChanged(ILogger logger, string name, ITNexus nexus, string state);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Error, Message = "vDisk {Name}: the saved reservation state ({Length} bytes) is not readable; the unit starts without reservations")]
    public static partial void ReservationStateUnreadable(ILogger logger, string name, int length);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "vDisk {Name}: PREEMPT AND ABORT did not see every preempted task end: {Reason}")]
    public static partial void PreemptAbortIncomplete(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Information, Message = "vDisk {Name}: {Nexus} PERSISTENT RESERVE OUT {Action}: {Registrations} registrations, reservation type {Type:x}, generation {Generation}")]
    public static partial void ReservationChanged(ILogger logger, string name, ITNexus nexus, string action, int registrations, byte type, uint generation);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Error, Message = "vDisk {Name}: the reservation state (APTPL) could not be saved")]
    public static partial void ReservationStateNotSaved(ILogger logger, string name, Exception exception);
}
