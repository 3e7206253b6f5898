namespace StorageAppliance.Protocols.Nfs.Nfs3;

/// <summary>
/// nfsstat3 (RFC 1813 section 2.6): the outcome of every NFSv3 procedure, returned as a value.
/// </summary>
public enum Nfsstat3 : uint
{
    Ok = 0,
    Perm = 1,
    NoEnt = 2,
    Io = 5,
    NxIo = 6,
    Acces = 13,
    Exist = 17,
    XDev = 18,
    NoDev = 19,
    NotDir = 20,
    IsDir = 21,
    Inval = 22,
    FBig = 27,
    NoSpc = 28,
    RoFs = 30,
    MLink = 31,
    NameTooLong = 63,
    NotEmpty = 66,
    DQuot = 69,
    Stale = 70,
    Remote = 71,
    BadHandle = 10001,
    NotSync = 10002,
    BadCookie = 10003,
    NotSupp = 10004,
    TooSmall = 10005,
    ServerFault = 10006,
    BadType = 10007,
    Jukebox = 10008,
}

/// <summary>ftype3 (RFC 1813 section 2.6).</summary>
public enum Ftype3 : uint
{
    Reg = 1,
    Dir = 2,
    Blk = 3,
    Chr = 4,
    Lnk = 5,
    Sock = 6,
    Fifo = 7,
}

/// <summary>stable_how (RFC 1813 section 3.3.7).</summary>
public enum StableHow : uint
{
    Unstable = 0,
    DataSync = 1,
    FileSync = 2,
}

/// <summary>createmode3 (RFC 1813 section 3.3.8).</summary>
public enum CreateMode : uint
{
    Unchecked = 0,
    Guarded = 1,
    Exclusive = 2,
}

/// <summary>ACCESS bits (RFC 1813 section 3.3.4).</summary>
[Flags]
public enum AccessBits : uint
{
    Read = 0x01,
    Lookup = 0x02,
    Modify = 0x04,
    Extend = 0x08,
    Delete = 0x10,
    Execute = 0x20,
}

/// <summary>Numbers of the NFSv3 program (RFC 1813 section 3).</summary>
public static class Nfs3Constants
{
    public const uint Program = 100003;
    public const uint Version = 3;

    /// <summary>NFS3_FHSIZE: the largest file handle on the wire.</summary>
    public const int FhSize = 64;

    public const int MaxNameLength = 255;
    public const int MaxPathLength = 1024;

    /// <summary>fattr3 on the wire: 5 words, 2 hypers, specdata3, fsid, fileid, 3 nfstime3.</summary>
    public const int Fattr3Size = 84;

    public const int PostOpAttrSize = 4 + Fattr3Size;

    /// <summary>pre_op_attr: bool + wcc_attr (size, mtime, ctime).</summary>
    public const int PreOpAttrSize = 4 + 24;

    public const int WccDataSize = PreOpAttrSize + PostOpAttrSize;

    /// <summary>post_op_fh3 with our handle: bool + length + handle.</summary>
    public const int PostOpFhSize = 4 + 4 + FileHandle.Size;
}
