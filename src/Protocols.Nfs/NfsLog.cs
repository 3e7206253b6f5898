using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>Source-generated log messages of the NFS front end (event ids 5100-5199).</summary>
internal static partial class NfsLog
{
    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "NFS: serving NFSv3 on {Nfs}, MOUNT v3 on {Mount}; exports: {Exports}; portmapper: {Portmapper}")]
    public static partial void Started(ILogger logger, string nfs, string mount, string exports, string portmapper);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "NFS: {Client} mounted {Path}")]
    public static partial void Mounted(ILogger logger, string client, string path);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "NFS: refused mount of {Path} by {Client}: {Reason}")]
    public static partial void MountRefused(ILogger logger, string path, string client, string reason);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "NFS: could not create the data vDisk {Name} in container {Container}: {Reason}")]
    public static partial void DataCreateFailed(ILogger logger, string name, string container, string reason);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "NFS: could not delete the data vDisk {Name}: {Reason}")]
    public static partial void DataDeleteFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "NFS: {Procedure} on file {FileId:x} failed with {Status}")]
    public static partial void IoFailed(ILogger logger, string procedure, ulong fileId, string status);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Information, Message = "NFS: stopped; wrote pending attributes of {Count} files")]
    public static partial void Stopped(ILogger logger, int count);

    [LoggerMessage(EventId = 5107, Level = LogLevel.Warning, Message = "NFS: flushing attributes failed: {Reason}")]
    public static partial void FlushFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5108, Level = LogLevel.Information, Message = "NFS: namespace in {Path}; write verifier {Verifier:x16}")]
    public static partial void NamespaceOpened(ILogger logger, string path, ulong verifier);

    [LoggerMessage(EventId = 5109, Level = LogLevel.Error, Message = "NFS: file {FileId:x} was written but its data vDisk {Name} is missing: its data is lost; READ and WRITE of it fail with NFS3ERR_IO")]
    public static partial void DataLost(ILogger logger, ulong fileId, string name);

    [LoggerMessage(EventId = 5120, Level = LogLevel.Warning, Message = "NFS: {Procedure} could not be stored in the namespace: {Status} ({Reason}); the client is told so, nothing changed")]
    public static partial void NamespaceCommitFailed(ILogger logger, string procedure, string status, string reason);
}
