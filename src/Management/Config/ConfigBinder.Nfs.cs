using System.Net;
using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// nfs:                               absent: NFS is off; present: on unless enabled: false
//   enabled: true
//   listen: ["127.0.0.1:2049"]       like iscsi.listen; no overlap with an iSCSI portal
//   mount_port: 20048                MOUNT protocol port on the same addresses; 0 picks a free one
//   portmapper: auto                 auto | embedded | system | off
//   connection_limit: 1024           NFS + MOUNT connections at once; more are closed at accept
//   connection_limit_per_client: 64  per client address, at most connection_limit
//   idle_timeout: 5m                 close a connection with no call in progress this long; 0 never
//   record_timeout: 30s              a call must arrive whole (and a reply be taken) within this
// exports:
//   - path: /vmstore                 required, unique, absolute, normalized, not nested
//     container: default             required
//     read_only: false
//     clients: [10.0.0.0/8]          addresses or CIDRs; empty or absent means any
//     root_squash: false             ESXi needs no_root_squash
//     anon_uid: 65534
//     anon_gid: 65534
internal sealed partial class ConfigBinder
{
    // RFC 1813 5.1 (MOUNT): MNTPATHLEN, the longest path a client sends.
    private const int MaxExportPathBytes = 1024;

    // uid_t and gid_t are 32 bits; 4294967295 is (uid_t)-1, "no id" to chown(2).
    private const long MaxId = 4_294_967_294;

    private readonly List<(ListenAddress Address, string Path, YamlNode Node)> _nfsListen = [];

    private void BindNfs(MappingReader root, NfsConfig nfs, IscsiConfig iscsi)
    {
        if (!root.Has("nfs"))
            return;
        MappingReader? m = root.Mapping("nfs");
        if (m is null)
        {
            // 'nfs:' written with nothing under it: the administrator asked for NFS with the defaults.
            nfs.Enabled = root.Value("nfs") is null;
            return;
        }

        nfs.Enabled = m.Bool("enabled", true);
        if (BindListenList(m, nfs.Enabled, _nfsListen) is { } listen)
            nfs.Listen = listen;
        else if (!m.Has("listen"))
            _nfsListen.Add((nfs.Listen[0], m.PathOf("listen"), m.Node));
        nfs.MountPort = m.Int("mount_port", nfs.MountPort, 0, 65535);

        if (m.String("portmapper") is { } portmapper)
        {
            PortmapperMode? mode = portmapper.Trim().ToLowerInvariant() switch
            {
                "auto" => PortmapperMode.Auto,
                "embedded" => PortmapperMode.Embedded,
                "system" => PortmapperMode.System,
                "off" => PortmapperMode.Off,
                _ => null,
            };
            if (mode is null)
                ctx.Error(m.PositionOf("portmapper"), m.PathOf("portmapper"), $"'{portmapper}' is not a portmapper mode (use auto, embedded, system or off)");
            else
                nfs.Portmapper = mode.Value;
        }

        BindConnectionLimits(m, "connection_limit", "connection_limit_per_client", (l, p) => (nfs.ConnectionLimit, nfs.ConnectionLimitPerClient) = (l, p), nfs.ConnectionLimit, nfs.ConnectionLimitPerClient);
        nfs.IdleTimeout = m.Duration("idle_timeout", nfs.IdleTimeout);
        if (nfs.IdleTimeout > TimeSpan.Zero && nfs.IdleTimeout < TimeSpan.FromSeconds(1))
            ctx.Error(m.PositionOf("idle_timeout"), m.PathOf("idle_timeout"), $"{nfs.IdleTimeout.TotalMilliseconds} ms is too short: use 0 (never) or at least 1s; NFS clients keep quiet connections open on purpose, so minutes are usual");
        nfs.RecordTimeout = m.Duration("record_timeout", nfs.RecordTimeout);
        if (nfs.RecordTimeout < TimeSpan.FromSeconds(1))
            ctx.Error(m.PositionOf("record_timeout"), m.PathOf("record_timeout"), $"{nfs.RecordTimeout.TotalMilliseconds} ms is too short: a call must be given at least 1s to arrive");

        if (nfs.Enabled)
            CheckNfsPorts(m, nfs, iscsi);
        m.Finish();
    }

    // The NFS and MOUNT listeners must be bindable next to the iSCSI portals and each other.
    private void CheckNfsPorts(MappingReader m, NfsConfig nfs, IscsiConfig iscsi)
    {
        List<ListenAddress> portals = iscsi.Enabled ? iscsi.Listen : [];
        foreach (var (address, path, node) in _nfsListen)
        {
            if (portals.Find(p => p.Overlaps(address)) is { } portal)
            {
                ctx.Error(node, path, $"'{address}' is also an iSCSI portal ({DescribePortal(portal)}); NFS needs its own port");
                return;
            }
        }
        if (nfs.MountPort == 0)
            return;
        foreach (var (address, path, _) in _nfsListen)
        {
            var mount = new ListenAddress(address.Address, nfs.MountPort);
            string? clash = _nfsListen.Exists(l => l.Address.Overlaps(mount)) ? $"the NFS port of {path}"
                : portals.Find(p => p.Overlaps(mount)) is { } portal ? $"an iSCSI portal ({DescribePortal(portal)})"
                : null;
            if (clash is not null)
            {
                ctx.Error(m.PositionOf("mount_port"), m.PathOf("mount_port"),
                    $"MOUNT would listen on {mount}, which is {clash}; choose another port, or 0 for any free one");
                return;
            }
        }
    }

    // connection_limit and connection_limit_per_client of the nfs: and iscsi: sections.
    private void BindConnectionLimits(MappingReader m, string totalKey, string perClientKey, Action<int, int> set, int total, int perClient)
    {
        total = m.Int(totalKey, total, 1, 1_000_000);
        perClient = m.Int(perClientKey, perClient, 1, 1_000_000);
        if (perClient > total)
        {
            string key = m.Has(perClientKey) ? perClientKey : totalKey;
            ctx.Error(m.PositionOf(key), m.PathOf(key), $"{perClientKey} {perClient} is larger than {totalKey} {total}");
        }
        set(total, perClient);
    }

    private string DescribePortal(ListenAddress portal) =>
        _iscsiPortals.Find(p => p.Address == portal) is { Address: not null } placed
            ? $"{placed.Path}, line {placed.Node.Start.Line}"
            : "the default iscsi.listen";

    private void BindExports(MappingReader root, List<ExportConfig> exports)
    {
        var items = root.List("exports");
        if (items is null)
            return;
        var paths = new List<(string Path, YamlNode Node)>();
        foreach (var (node, itemPath) in items)
        {
            MappingReader? m = ctx.AsMapping(node, itemPath);
            if (m is null)
                continue;
            var export = new ExportConfig();

            if (m.RequiredString("path", "every export needs a path clients mount, e.g. path: /vmstore") is { } path
                && CheckExportPath(m.PositionOf("path"), m.PathOf("path"), path))
            {
                YamlNode pathNode = m.PositionOf("path");
                var (firstPath, firstNode) = paths.Find(p => p.Path == path);
                var (outerPath, outerNode) = paths.Find(p => IsExportInside(path, p.Path) || IsExportInside(p.Path, path));
                if (firstNode is not null)
                    ctx.Error(pathNode, m.PathOf("path"), $"duplicate export path '{path}' (first defined at line {firstNode.Start.Line})");
                else if (outerNode is not null)
                    ctx.Error(pathNode, m.PathOf("path"), $"export '{path}' and export '{outerPath}' (line {outerNode.Start.Line}) lie one inside the other; nested exports are not supported");
                else
                    export.Path = path;
                paths.Add((path, pathNode));
            }

            if (m.RequiredString("container", "every export names the container it shows") is { } container)
            {
                export.Container = container;
                _containerRefs.Add((container, m.PositionOf("container"), m.PathOf("container")));
            }

            export.ReadOnly = m.Bool("read_only", export.ReadOnly);
            BindClients(m, export);
            export.RootSquash = m.Bool("root_squash", export.RootSquash);
            export.AnonUid = Id(m, "anon_uid", export.AnonUid);
            export.AnonGid = Id(m, "anon_gid", export.AnonGid);
            m.Finish();
            exports.Add(export);
        }
    }

    private bool CheckExportPath(YamlNode node, string path, string text)
    {
        string? reason = null;
        if (text.Length == 0)
            reason = "an empty path is not an export path (write one such as /vmstore)";
        else if (!text.StartsWith('/'))
            reason = $"'{text}' is not an absolute path: write it from the root, e.g. /{text.TrimStart('.', '/')}";
        else if (System.Text.Encoding.UTF8.GetByteCount(text) > MaxExportPathBytes)
            reason = $"the path is {System.Text.Encoding.UTF8.GetByteCount(text)} bytes; a mount path is at most {MaxExportPathBytes} (RFC 1813 MNTPATHLEN)";
        else if (text.Any(char.IsControl))
            reason = $"'{text.ReplaceLineEndings(" ")}' contains a control character";
        else if (text.Length > 1 && text.EndsWith('/'))
            reason = $"'{text}' ends with '/': write {text.TrimEnd('/')}";
        else if (text.Length > 1 && text[1..].Split('/') is var parts)
        {
            if (Array.IndexOf(parts, "") >= 0)
                reason = $"'{text}' has an empty part ('//')";
            else if (Array.IndexOf(parts, "..") >= 0)
                reason = $"'{text}' contains '..': an export path names its place directly";
            else if (Array.IndexOf(parts, ".") >= 0)
                reason = $"'{text}' contains '.': an export path names its place directly";
        }
        if (reason is null)
            return true;
        ctx.Error(node, path, reason);
        return false;
    }

    // Both paths valid export paths; true when inner is strictly below outer.
    private static bool IsExportInside(string inner, string outer) =>
        outer == "/" ? inner != "/" : inner.StartsWith(outer + "/", StringComparison.Ordinal);

    private void BindClients(MappingReader m, ExportConfig export)
    {
        var items = m.List("clients", singleAllowed: true);
        if (items is null)
            return;
        var seen = new Dictionary<IPNetwork, YamlNode>();
        foreach (var (node, path) in items)
        {
            if (ctx.ReadString(node, path) is not { } text)
                continue;
            if (!ClientNetwork.TryParse(text, out IPNetwork network, out string? error))
            {
                ctx.Error(node, path, error!);
                continue;
            }
            if (seen.TryGetValue(network, out YamlNode? first))
            {
                ctx.Error(node, path, $"'{text}' is listed twice (line {first.Start.Line})");
                continue;
            }
            seen.Add(network, node);
            export.Clients.Add(network);
        }
    }

    private uint Id(MappingReader m, string key, uint current) =>
        m.Value(key) is { } node && ctx.ReadInteger(node, m.PathOf(key), 0, MaxId) is { } id ? (uint)id : current;
}
