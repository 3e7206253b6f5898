using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>
/// Our NFSv3 file handle: opaque to clients, 24 bytes (ESXi accepts at most 56), and built only from
/// values that survive a restart, so a handle stays valid until its object is deleted.
/// <code>
///  0       1       2       3       4               8                              16                             24
/// +-------+-------+-------+-------+---------------+------------------------------+------------------------------+
/// | 'S'   | ver 1 | reserved (0)  | export id     | file id (never reused)       | generation (random at create)|
/// +-------+-------+-------+-------+---------------+------------------------------+------------------------------+
/// </code>
/// A handle whose file id no longer exists, or whose generation differs, is NFS3ERR_STALE; one that
/// is not of this form at all is NFS3ERR_BADHANDLE, and so is one whose reserved bytes are not zero:
/// each object has exactly one spelling of its handle, so a client cannot make new names for it.
/// </summary>
public readonly struct FileHandle
{
    public const int Size = 24;
    private const byte Magic = (byte)'S';
    private const byte Version = 1;

    public FileHandle(uint exportId, ulong fileId, ulong generation)
    {
        ExportId = exportId;
        FileId = fileId;
        Generation = generation;
    }

    public uint ExportId { get; }

    public ulong FileId { get; }

    public ulong Generation { get; }

    public void Write(Span<byte> destination)
    {
        destination[0] = Magic;
        destination[1] = Version;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], ExportId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], FileId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], Generation);
    }

    public byte[] ToArray()
    {
        var b = new byte[Size];
        Write(b);
        return b;
    }

    public static bool TryParse(ReadOnlySpan<byte> handle, out FileHandle fh)
    {
        fh = default;
        if (handle.Length != Size || handle[0] != Magic || handle[1] != Version || handle[2] != 0 || handle[3] != 0)
            return false;
        fh = new FileHandle(BinaryPrimitives.ReadUInt32BigEndian(handle[4..]), BinaryPrimitives.ReadUInt64BigEndian(handle[8..]), BinaryPrimitives.ReadUInt64BigEndian(handle[16..]));
        return true;
    }
}
