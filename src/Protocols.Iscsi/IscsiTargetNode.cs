using StorageAppliance.Protocols.Iscsi.Security;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

/// <summary>An iSCSI target node (RFC 7143 4.4): its name, the SCSI target behind it, and who may log in.</summary>
public sealed class IscsiTargetNode
{
    private readonly HashSet<string> _allowed;

    public IscsiTargetNode(string name, string? alias, ScsiTarget scsi, ChapCredentials? chap, ChapCredentials? mutualChap,
        IEnumerable<string>? allowedInitiators)
    {
        Name = name;
        Alias = alias;
        Scsi = scsi;
        Chap = chap;
        MutualChap = mutualChap;
        _allowed = new HashSet<string>(allowedInitiators ?? [], StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The iSCSI name (iqn., eui. or naa.).</summary>
    public string Name { get; }

    public string? Alias { get; }

    public ScsiTarget Scsi { get; }

    /// <summary>When set, initiators must authenticate with CHAP using these credentials.</summary>
    public ChapCredentials? Chap { get; }

    /// <summary>When set, the target can prove itself to initiators that ask (mutual CHAP).</summary>
    public ChapCredentials? MutualChap { get; }

    /// <summary>True when the allow-list is empty or names this initiator (iSCSI names compare case-insensitively).</summary>
    public bool IsInitiatorAllowed(string initiatorName) => _allowed.Count == 0 || _allowed.Contains(initiatorName);
}
