namespace StorageAppliance.Director;

/// <summary>
/// Outcome of a request on the data path. A value, never an exception (STYLE.md 6).
/// <list type="table">
/// <listheader><term>code</term><description>meaning, and what iSCSI / NFS return for it</description></listheader>
/// <item><term>0 Ok</term><description>done</description></item>
/// <item><term>1 OutOfRange</term><description>beyond the end of the vDisk: LBA OUT OF RANGE / NFS3ERR_INVAL</description></item>
/// <item><term>2 MediumError</term><description>data could not be read or failed its checksum: MEDIUM ERROR, UNRECOVERED READ ERROR / NFS3ERR_IO</description></item>
/// <item><term>3 WriteError</term><description>a device failed a write: MEDIUM ERROR, WRITE ERROR / NFS3ERR_IO</description></item>
/// <item><term>4 NoSpace</term><description>the pool has no room for new data: DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT / NFS3ERR_NOSPC</description></item>
/// <item><term>5 ReadOnly</term><description>the vDisk is write protected: DATA PROTECT, WRITE PROTECTED / NFS3ERR_ROFS</description></item>
/// <item><term>6 Aborted</term><description>the request was cancelled (task management, shutdown)</description></item>
/// <item><term>7 Busy</term><description>admission refused for now; retry later: TASK SET FULL / NFS3ERR_JUKEBOX</description></item>
/// <item><term>8 NotReady</term><description>the vDisk is offline</description></item>
/// </list>
/// </summary>
public enum IoStatus : byte
{
    Ok = 0,
    OutOfRange = 1,
    MediumError = 2,
    WriteError = 3,
    NoSpace = 4,
    ReadOnly = 5,
    Aborted = 6,
    Busy = 7,
    NotReady = 8,
}
