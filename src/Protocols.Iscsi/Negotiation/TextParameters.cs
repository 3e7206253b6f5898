using System.Text;

namespace StorageAppliance.Protocols.Iscsi.Negotiation;

/// <summary>
/// The text format of Login and Text PDUs (RFC 7143 6.1): a sequence of "key=value" strings, each
/// ended by a NUL byte, UTF-8 encoded. Key names are at most 63 bytes of [A-Za-z0-9.-+@_]; values at most
/// 255 bytes, except the binary values of the authentication keys (CHAP_C, CHAP_R), which may be longer.
/// </summary>
public static class TextParameters
{
    public const int MaxKeyLength = 63;

    /// <summary>RFC 7143 6.1: "The maximum length of an individual value ... is 255 bytes".</summary>
    public const int MaxValueLength = 255;

    /// <summary>Binary values (CHAP challenges and responses) may be longer: up to 1024 bytes encoded as hex.</summary>
    public const int MaxLargeValueLength = 2 + 2 * 1024;

    /// <summary>
    /// Parses a complete text (all PDUs of a C-bit sequence joined). Keys keep their order; repeats are kept (a
    /// SendTargets answer repeats TargetName and TargetAddress), so a caller that forbids them checks with
    /// <see cref="FindRepeatedKey"/>. At most <paramref name="maxPairs"/> pairs are accepted.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> data, List<KeyValuePair<string, string>> output, out string? error, int maxPairs = int.MaxValue)
    {
        error = null;
        // RFC 7143 6.1: "Every key=value pair, including the last or only pair in a LTDS, MUST be followed by
        // one null (0x00) delimiter." A text that stops without it was cut short or is not iSCSI text.
        if (data.Length > 0 && data[^1] != 0)
        {
            error = "the last key=value pair is not ended by a null byte";
            return false;
        }
        // Extra NULs between pairs (some old initiators pad with several) carry nothing and are skipped.
        while (data.Length > 0)
        {
            int end = data.IndexOf((byte)0);
            var item = data[..end];
            data = data[(end + 1)..];
            if (item.Length == 0)
                continue;
            if (output.Count >= maxPairs)
            {
                error = $"more than {maxPairs} key=value pairs";
                return false;
            }
            int eq = item.IndexOf((byte)'=');
            if (eq <= 0)
            {
                error = $"malformed text item '{Encoding.UTF8.GetString(item[..Math.Min(item.Length, 64)])}' (no key=value)";
                return false;
            }
            var keyBytes = item[..eq];
            if (keyBytes.Length > MaxKeyLength)
            {
                error = $"key longer than {MaxKeyLength} bytes";
                return false;
            }
            for (int k = 0; k < keyBytes.Length; k++)
            {
                byte b = keyBytes[k];
                // RFC 7143 6.1 key-name characters; '#' appears in public extension keys "X#name" (13.5).
                bool extensionHash = k == 1 && b == (byte)'#' && keyBytes[0] == (byte)'X';
                if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'.' or (byte)'-' or (byte)'+' or (byte)'@' or (byte)'_' || extensionHash))
                {
                    error = $"key '{Encoding.UTF8.GetString(keyBytes)}' has an invalid character";
                    return false;
                }
            }
            string key = Encoding.ASCII.GetString(keyBytes);
            var valueBytes = item[(eq + 1)..];
            int limit = HasLargeValue(key) ? MaxLargeValueLength : MaxValueLength;
            if (valueBytes.Length > limit)
            {
                error = $"value of {key} is too long ({valueBytes.Length} bytes, at most {limit})";
                return false;
            }
            string value;
            try
            {
                value = StrictUtf8.GetString(valueBytes);
            }
            catch (DecoderFallbackException)
            {
                error = $"value of {key} is not valid UTF-8";
                return false;
            }
            output.Add(new KeyValuePair<string, string>(key, value));
        }
        return true;
    }

    /// <summary>The first key that appears more than once, or null.</summary>
    public static string? FindRepeatedKey(List<KeyValuePair<string, string>> pairs)
    {
        for (int i = 1; i < pairs.Count; i++)
            for (int j = 0; j < i; j++)
                if (string.Equals(pairs[i].Key, pairs[j].Key, StringComparison.Ordinal))
                    return pairs[i].Key;
        return null;
    }

    /// <summary>Keys whose values are binary strings that may exceed 255 bytes (CHAP_C and CHAP_R, RFC 7143 12.1.3).</summary>
    private static bool HasLargeValue(string key) => key.StartsWith("CHAP_", StringComparison.Ordinal);

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Appends "key=value\0".</summary>
    public static void Append(List<byte> text, string key, string value)
    {
        text.AddRange(Encoding.UTF8.GetBytes(key));
        text.Add((byte)'=');
        text.AddRange(Encoding.UTF8.GetBytes(value));
        text.Add(0);
    }

    /// <summary>True when <paramref name="key"/> is one of the public extension key prefixes (X- or X#).</summary>
    public static bool IsExtensionKey(string key) => key.StartsWith("X-", StringComparison.Ordinal) || key.StartsWith("X#", StringComparison.Ordinal);

    /// <summary>
    /// Parses a numerical value: decimal, hexadecimal "0x..", or base64 "0b.." (RFC 7143 6.1:
    /// "numerical-value" and "large-numerical-value").
    /// </summary>
    public static bool TryParseNumber(string value, out ulong number)
    {
        number = 0;
        if (value.Length == 0)
            return false;
        if (value.Length > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X'))
            return ulong.TryParse(value.AsSpan(2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out number);
        if (value.Length > 2 && value[0] == '0' && (value[1] == 'b' || value[1] == 'B'))
        {
            byte[] raw;
            try
            {
                raw = Convert.FromBase64String(value[2..]);
            }
            catch (FormatException)
            {
                return false;
            }
            if (raw.Length > 8)
                return false;
            foreach (byte b in raw)
                number = (number << 8) | b;
            return true;
        }
        foreach (char c in value)
            if (!char.IsAsciiDigit(c))
                return false;
        return ulong.TryParse(value, out number);
    }

    /// <summary>Decodes a binary value written as "0x" hex or "0b" base64 (RFC 7143 6.1 binary-value).</summary>
    public static bool TryParseBinary(string value, out byte[] bytes)
    {
        bytes = [];
        if (value.Length < 3 || value[0] != '0')
            return false;
        try
        {
            switch (value[1])
            {
                case 'x':
                case 'X':
                    string hex = value[2..];
                    if (hex.Length % 2 == 1)
                        hex = "0" + hex;
                    bytes = Convert.FromHexString(hex);
                    return true;
                case 'b':
                case 'B':
                    bytes = Convert.FromBase64String(value[2..]);
                    return true;
                default:
                    return false;
            }
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public static string FormatHex(ReadOnlySpan<byte> bytes) => "0x" + Convert.ToHexStringLower(bytes);
}
