using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// iscsi:            portals, the login keys the target offers (RFC 7143 section 13), session limits
//   listen, portal_group_tag, max_recv_data_segment_length, max_burst_length, first_burst_length,
//   max_outstanding_r2t, immediate_data, initial_r2t, header_digest, data_digest, default_time2wait,
//   default_time2retain, max_connections, queue_depth, nop_in_interval, nop_in_timeout,
//   login_timeout, discovery_auth, connection_limit (TCP connections at once, default 1024),
//   connection_limit_per_client (per initiator address, default 64)
internal sealed partial class ConfigBinder
{
    // RFC 7143 13.12-13.14: lengths are 512 to 2^24-1 bytes.
    private const int MinDataLength = 512;
    private const int MaxDataLength = 16_777_215;

    private void BindIscsi(MappingReader root, IscsiConfig iscsi)
    {
        MappingReader? m = root.Mapping("iscsi");
        if (m is null)
            return;

        iscsi.Enabled = m.Bool("enabled", iscsi.Enabled);
        BindListen(m, iscsi);
        iscsi.PortalGroupTag = m.Int("portal_group_tag", iscsi.PortalGroupTag, 1, 65535);
        iscsi.MaxRecvDataSegmentLength = m.Bytes("max_recv_data_segment_length", iscsi.MaxRecvDataSegmentLength, MinDataLength, MaxDataLength);
        iscsi.MaxBurstLength = m.Bytes("max_burst_length", iscsi.MaxBurstLength, MinDataLength, MaxDataLength);
        iscsi.FirstBurstLength = m.Bytes("first_burst_length", iscsi.FirstBurstLength, MinDataLength, MaxDataLength);
        if (iscsi.FirstBurstLength > iscsi.MaxBurstLength)
        {
            string key = m.Has("first_burst_length") ? "first_burst_length" : "max_burst_length";
            ctx.Error(m.PositionOf(key), m.PathOf(key),
                $"first_burst_length {iscsi.FirstBurstLength} is larger than max_burst_length {iscsi.MaxBurstLength} (RFC 7143: FirstBurstLength MUST NOT exceed MaxBurstLength)");
        }
        iscsi.MaxOutstandingR2T = m.Int("max_outstanding_r2t", iscsi.MaxOutstandingR2T, 1, 65535);
        iscsi.ImmediateData = m.Bool("immediate_data", iscsi.ImmediateData);
        iscsi.InitialR2T = m.Bool("initial_r2t", iscsi.InitialR2T);
        iscsi.HeaderDigest = BindDigests(m, "header_digest") ?? iscsi.HeaderDigest;
        iscsi.DataDigest = BindDigests(m, "data_digest") ?? iscsi.DataDigest;
        iscsi.DefaultTime2Wait = m.Int("default_time2wait", iscsi.DefaultTime2Wait, 0, 3600);
        iscsi.DefaultTime2Retain = m.Int("default_time2retain", iscsi.DefaultTime2Retain, 0, 3600);
        iscsi.MaxConnections = m.Int("max_connections", iscsi.MaxConnections, 1, 65535);
        if (iscsi.MaxConnections > 1)
        {
            // Sessions carry one connection each; hosts get more paths from multipath (several sessions).
            ctx.Error(m.PositionOf("max_connections"), m.PathOf("max_connections"),
                $"{iscsi.MaxConnections} connections per session are not supported: this target offers one connection per session (use multipath for more paths)");
        }
        iscsi.QueueDepth = m.Int("queue_depth", iscsi.QueueDepth, 1, 4096);
        iscsi.NopInInterval = m.Duration("nop_in_interval", iscsi.NopInInterval);
        iscsi.NopInTimeout = m.Duration("nop_in_timeout", iscsi.NopInTimeout);
        iscsi.LoginTimeout = m.Duration("login_timeout", iscsi.LoginTimeout);
        BindConnectionLimits(m, "connection_limit", "connection_limit_per_client", (l, p) => (iscsi.ConnectionLimit, iscsi.ConnectionLimitPerClient) = (l, p), iscsi.ConnectionLimit, iscsi.ConnectionLimitPerClient);
        iscsi.DiscoveryAuth = BindAuth(m, "discovery_auth");
        m.Finish();
    }

    // The placed portals of iscsi.listen, for the NFS front end's overlap check.
    private readonly List<(ListenAddress Address, string Path, YamlNode Node)> _iscsiPortals = [];

    private void BindListen(MappingReader m, IscsiConfig iscsi)
    {
        if (BindListenList(m, iscsi.Enabled, _iscsiPortals) is { } listen)
            iscsi.Listen = listen;
    }

    // Reads a listen list (iscsi.listen, nfs.listen) into placed; null when the key is absent or unreadable.
    private List<ListenAddress>? BindListenList(MappingReader m, bool enabled, List<(ListenAddress Address, string Path, YamlNode Node)> placed)
    {
        if (!m.Has("listen"))
            return null;
        // An empty 'listen:' is an empty list: allowed only with enabled: false.
        var items = m.Value("listen") is null ? [] : m.List("listen", singleAllowed: true);
        if (items is null)
            return null;
        var result = new List<ListenAddress>(items.Count);
        foreach (var (node, path) in items)
        {
            string? text = ctx.ReadString(node, path);
            if (text is null)
                continue;
            if (!ListenAddress.TryParse(text, out ListenAddress? address, out string? error))
            {
                ctx.Error(node, path, error!);
                continue;
            }
            var clash = placed.Find(p => p.Address.Overlaps(address!));
            if (clash.Address is not null)
            {
                string reason = clash.Address == address
                    ? $"'{text}' is listed twice (also {clash.Path}, line {clash.Node.Start.Line})"
                    : $"'{text}' overlaps {clash.Path} '{((YamlScalarNode)clash.Node).Value}' (line {clash.Node.Start.Line}): a wildcard address already covers every address on port {address!.Port}";
                ctx.Error(node, path, reason);
                continue;
            }
            placed.Add((address!, path, node));
            result.Add(address!);
        }
        if (items.Count == 0 && enabled)
            ctx.Error(m.PositionOf("listen"), m.PathOf("listen"), "expected at least one ADDR:PORT (or set enabled: false)");
        return result;
    }

    private List<DigestType>? BindDigests(MappingReader m, string key)
    {
        var items = m.List(key, singleAllowed: true);
        if (items is null)
            return null;
        if (items.Count == 0)
        {
            ctx.Error(m.PositionOf(key), m.PathOf(key), "expected at least one of CRC32C, None");
            return null;
        }
        var result = new List<DigestType>(items.Count);
        foreach (var (node, path) in items)
        {
            string? text = ctx.ReadString(node, path);
            DigestType? digest = text?.ToUpperInvariant() switch
            {
                "CRC32C" => DigestType.Crc32C,
                "NONE" => DigestType.None,
                null => null,
                _ => Invalid(node, path, $"'{text}' is not a digest (use CRC32C or None)"),
            };
            if (digest is null)
                continue;
            if (result.Contains(digest.Value))
                ctx.Error(node, path, $"'{text}' is listed twice");
            else
                result.Add(digest.Value);
        }
        return result;
    }

    private DigestType? Invalid(YamlNode node, string path, string reason)
    {
        ctx.Error(node, path, reason);
        return null;
    }
}
