using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace StorageAppliance.VDisk;

/// <summary>
/// The appliance's identity and the ids of its vDisks, kept in data_dir/catalog.json so that they never
/// change across restarts: a LUN's NAA identifier and serial number derive from them, and a hypervisor
/// recognises its datastore by them. Written atomically (temp file, fsync, rename).
/// </summary>
/// <remarks>The storage engine's metadata store replaces this file when it lands.</remarks>
public sealed class VDiskCatalog
{
    private readonly string _path;
    private readonly object _lock = new();
    private readonly CatalogFile _file;

    private VDiskCatalog(string path, CatalogFile file)
    {
        _path = path;
        _file = file;
    }

    /// <summary>A random 64-bit id made when the data folder was first used.</summary>
    public long ApplianceId => _file.ApplianceId;

    public static VDiskCatalog Open(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        string path = Path.Combine(dataDir, "catalog.json");
        CatalogFile file;
        if (File.Exists(path))
        {
            try
            {
                file = JsonSerializer.Deserialize(File.ReadAllText(path), CatalogJson.Default.CatalogFile)
                    ?? throw new InvalidDataException("empty");
            }
            catch (Exception e) when (e is JsonException or InvalidDataException)
            {
                throw new InvalidDataException($"{path} is damaged ({e.Message}); restore it from a backup: it holds the ids hypervisors know the disks by", e);
            }
        }
        else
        {
            file = new CatalogFile { ApplianceId = NewId() };
        }
        var catalog = new VDiskCatalog(path, file);
        if (!File.Exists(path))
            catalog.Save();
        return catalog;
    }

    /// <summary>The id of the named vDisk, allocating and persisting one the first time.</summary>
    public long GetOrCreateId(string vdiskName)
    {
        lock (_lock)
        {
            if (_file.VDisks.TryGetValue(vdiskName, out long id))
                return id;
            do
                id = NewId();
            while (_file.VDisks.ContainsValue(id));
            _file.VDisks[vdiskName] = id;
            Save();
            return id;
        }
    }

    private void Save()
    {
        string tmp = _path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(fs, _file, CatalogJson.Default.CatalogFile);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, _path, overwrite: true);
    }

    private static long NewId()
    {
        long id;
        do
            id = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8)) & long.MaxValue;
        while (id == 0);
        return id;
    }

    /// <summary>
    /// The 16-byte NAA IEEE Registered Extended designator (NAA 6, SPC-4 7.8.6.6.4) of a vDisk. Without
    /// an IEEE-assigned OUI, the company id field is a locally administered CID (first octet xxxx1010b,
    /// as IEEE reserves for local use) taken from the appliance id; the vendor-specific fields carry the
    /// rest of the appliance id and the vDisk id, so the designator is unique and stable.
    /// </summary>
    public byte[] NaaDesignator(long vdiskId) => NaaIdentifier.For(ApplianceId, vdiskId);

    /// <summary>Reads an existing catalog (from before the storage engine) without creating one; null when absent.</summary>
    public static VDiskCatalog? TryOpenExisting(string dataDir) =>
        File.Exists(Path.Combine(dataDir, "catalog.json")) ? Open(dataDir) : null;

    /// <summary>The vDisk ids the catalog holds, by name.</summary>
    public IReadOnlyDictionary<string, long> VDiskIds => _file.VDisks;

    internal sealed class CatalogFile
    {
        public long ApplianceId { get; set; }

        public Dictionary<string, long> VDisks { get; set; } = new(StringComparer.Ordinal);
    }
}

/// <summary>The persistent NAA identifier of a vDisk's logical unit.</summary>
public static class NaaIdentifier
{
    /// <summary>
    /// The 16-byte NAA IEEE Registered Extended designator (NAA 6, SPC-4 7.8.6.6.4) of a vDisk. Without
    /// an IEEE-assigned OUI, the company id field is a locally administered CID (first octet xxxx1010b,
    /// as IEEE reserves for local use) taken from the appliance id; the vendor-specific fields carry the
    /// rest of the appliance id and the vDisk id, so the designator is unique and stable.
    /// </summary>
    public static byte[] For(long applianceId, long vdiskId)
    {
        ulong a = (ulong)applianceId;
        uint cid = (uint)(((a >> 40) & 0xF0FFFF) | 0x0A0000);
        ulong vendor36 = a & 0xF_FFFF_FFFFUL;
        var d = new byte[16];
        d[0] = (byte)(0x60 | (cid >> 20));
        d[1] = (byte)(cid >> 12);
        d[2] = (byte)(cid >> 4);
        d[3] = (byte)(((cid & 0xF) << 4) | (uint)(vendor36 >> 32));
        d[4] = (byte)(vendor36 >> 24);
        d[5] = (byte)(vendor36 >> 16);
        d[6] = (byte)(vendor36 >> 8);
        d[7] = (byte)vendor36;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(d.AsSpan(8), vdiskId);
        return d;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(VDiskCatalog.CatalogFile))]
internal partial class CatalogJson : JsonSerializerContext
{
}
