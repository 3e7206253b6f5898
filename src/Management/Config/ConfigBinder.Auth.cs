using YamlDotNet.RepresentationModel;

namespace StorageAppliance.Management.Config;

// auth:                       (a target's auth, or iscsi.discovery_auth)
//   chap: {username: ..., secret: ...}          the initiator proves itself to the target
//   mutual_chap: {username: ..., secret: ...}   and the target to the initiator
internal sealed partial class ConfigBinder
{
    // RFC 7143 12.1.3: CHAP secrets of at least 96 bits; CHAP_S carries at most 255 bytes here.
    private const int MinSecretLength = 12;
    private const int MaxSecretLength = 255;

    private AuthConfig? BindAuth(MappingReader parent, string key)
    {
        if (!parent.Has(key))
            return null;
        MappingReader? m = parent.Mapping(key);
        if (m is null)
        {
            // Written but empty: the administrator meant some authentication, so don't silently allow none.
            if (parent.Value(key) is null)
                parent.Missing(key, $"{key} is empty: set chap (and optionally mutual_chap), or remove {key} for no authentication");
            return null;
        }

        var (chap, _) = BindChap(m, "chap");
        var (mutual, mutualSecretNode) = BindChap(m, "mutual_chap");
        if (!m.Has("chap"))
        {
            if (m.Has("mutual_chap"))
                ctx.Error(m.KeyNode("mutual_chap")!, m.PathOf("mutual_chap"), "mutual_chap needs chap: the target proves itself only to an initiator that has authenticated with chap");
            else
                m.Missing("chap", $"{key} needs chap (username and secret), or remove {key} for no authentication");
        }
        if (chap is not null && mutual is not null && chap.Secret == mutual.Secret)
        {
            ctx.Error(mutualSecretNode!, m.PathOf("mutual_chap") + ".secret",
                "must differ from chap.secret: a secret that authenticates the initiator must not also authenticate the target (RFC 7143 12.1.3)");
        }
        m.Finish();
        return chap is null ? null : new AuthConfig { Chap = chap, MutualChap = mutual };
    }

    private (ChapCredentials? Credentials, YamlNode? SecretNode) BindChap(MappingReader parent, string key)
    {
        MappingReader? m = parent.Mapping(key);
        if (m is null)
        {
            if (parent.Has(key) && parent.Value(key) is null)
                parent.Missing(key, "expected username and secret");
            return (null, null);
        }

        string? username = m.RequiredString("username");
        if (username is { Length: 0 or > 255 })
        {
            ctx.Error(m.PositionOf("username"), m.PathOf("username"), "a CHAP name is 1 to 255 characters");
            username = null;
        }

        string? secret = m.RequiredString("secret");
        if (secret is { Length: < MinSecretLength or > MaxSecretLength })
        {
            // Never echo the secret itself: these messages end up in logs.
            ctx.Error(m.PositionOf("secret"), m.PathOf("secret"),
                $"the secret is {secret.Length} characters; a CHAP secret is {MinSecretLength} to {MaxSecretLength} characters (RFC 7143 12.1.3 requires at least 96 bits)");
            secret = null;
        }
        m.Finish();
        return username is null || secret is null
            ? (null, null)
            : (new ChapCredentials { Username = username, Secret = secret }, m.PositionOf("secret"));
    }
}
