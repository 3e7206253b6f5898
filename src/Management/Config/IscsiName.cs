using System.Text;

namespace StorageAppliance.Management.Config;

/// <summary>
/// Checks iSCSI names (RFC 7143 4.2.7): <c>iqn.yyyy-mm.reversed.domain[:identifier]</c>,
/// <c>eui.</c> + 16 hex digits, <c>naa.</c> + 16 or 32 hex digits; at most 223 bytes of UTF-8.
/// Names are compared after the RFC 3722 stringprep profile folds case, so a configured name must
/// already be in lower case or it could never match what an initiator sends.
/// </summary>
public static class IscsiName
{
    /// <summary>RFC 7143 4.2.7.1: "iSCSI names ... MUST NOT be larger than 223 bytes".</summary>
    public const int MaxBytes = 223;

    public static bool IsValid(string? name, out string? error)
    {
        error = Check(name ?? "");
        return error is null;
    }

    private static string? Check(string name)
    {
        if (name.Length == 0)
            return "an iSCSI name cannot be empty";
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > MaxBytes)
            return $"'{Shorten(name)}' is {bytes} bytes; an iSCSI name is at most {MaxBytes} bytes (RFC 7143 4.2.7)";
        string lower = name.ToLowerInvariant();
        if (lower != name)
            return $"'{name}' must be lower case, as iSCSI names are compared after case folding (write '{lower}')";

        if (name.StartsWith("iqn.", StringComparison.Ordinal))
            return CheckIqn(name);
        if (name.StartsWith("eui.", StringComparison.Ordinal))
            return IsHex(name.AsSpan(4), 16) ? null : $"'{name}' is not a valid eui. name: it needs exactly 16 hex digits after 'eui.'";
        if (name.StartsWith("naa.", StringComparison.Ordinal))
            return IsHex(name.AsSpan(4), 16) || IsHex(name.AsSpan(4), 32) ? null : $"'{name}' is not a valid naa. name: it needs 16 or 32 hex digits after 'naa.'";
        return $"'{name}' is not an iSCSI name: it must start with iqn., eui. or naa. (e.g. iqn.2026-11.io.storageappliance:disk0)";
    }

    // iqn.yyyy-mm.reversed.domain[:identifier]  (RFC 7143 4.2.7.4)
    private static string? CheckIqn(string name)
    {
        const string Form = "iqn.yyyy-mm.reversed.domain[:identifier], e.g. iqn.2026-11.io.storageappliance:disk0";
        ReadOnlySpan<char> s = name.AsSpan(4);
        if (s.Length < 7 || !IsDigits(s[..4]) || s[4] != '-' || !IsDigits(s[5..7]))
            return $"'{name}' is not a valid iqn. name: a date yyyy-mm must follow 'iqn.' ({Form})";
        if (s.Length == 7 || s[7] != '.')
            return $"'{name}' has no naming authority after the date ({Form})";
        int month = (s[5] - '0') * 10 + (s[6] - '0');
        if (month is < 1 or > 12)
            return $"'{name}' has month {s.Slice(5, 2)}; the month in iqn.yyyy-mm is 01 to 12";
        s = s[8..];
        int colon = s.IndexOf(':');
        ReadOnlySpan<char> authority = colon < 0 ? s : s[..colon];
        if (authority.Length == 0)
            return $"'{name}' has no naming authority after the date ({Form})";
        foreach (Range r in authority.Split('.'))
        {
            ReadOnlySpan<char> label = authority[r];
            if (label.Length == 0)
                return $"'{name}' has an empty label in its naming authority '{authority}' ({Form})";
            foreach (char c in label)
            {
                if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
                    return $"'{name}' has '{c}' in its naming authority '{authority}'; a reversed domain name uses a-z, 0-9, '-' and '.'";
            }
        }
        if (colon < 0)
            return null;
        ReadOnlySpan<char> rest = s[(colon + 1)..];
        if (rest.Length == 0)
            return $"'{name}' ends with ':'; put an identifier after it or drop the ':'";
        foreach (char c in rest)
        {
            // RFC 3722 leaves ASCII letters, digits, '-', '.' and ':'; other ASCII is prohibited.
            bool ok = c > 0x7f ? !char.IsWhiteSpace(c) && !char.IsControl(c) : char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.' or ':';
            if (!ok)
                return $"'{name}' contains '{c}'; an iSCSI name may use only a-z, 0-9, '-', '.' and ':'";
        }
        return null;
    }

    private static bool IsDigits(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c))
                return false;
        }
        return true;
    }

    private static bool IsHex(ReadOnlySpan<char> s, int length)
    {
        if (s.Length != length)
            return false;
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigit(c))
                return false;
        }
        return true;
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..37] + "...";
}
