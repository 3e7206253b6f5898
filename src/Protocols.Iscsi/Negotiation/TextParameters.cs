using System.Text;

namespace StorageAppliance.Protocols.Iscsi.Negotiation;

/// <summary>
/// The text format of Login and Text PDUs (RFC 7143 6.1): a sequence of "key=value" strings, each
/// ended by a NUL byte, UTF-8 encoded. Key names are at most 63 bytes of [A-Za-z0-9.-+@_]; simple values
/// at most 255 bytes (larger for CHAP binary values).
/// </summary>
public static class TextParameters
{
    public const int MaxKeyLength = 63;
    public const int MaxValueLength = 255;

    /// <summary>Binary values (CHAP challenges and responses) may be longer: up to 1024 bytes encoded as hex.</summary>
    public const int MaxLargeValueLength = 2 + 2 * 1024;

    /// <summary>Parses a complete text (all PDUs of a C-bit sequence joined). Keys keep their order.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, List<KeyValuePair<string, string>> output, out string? error)
    {
        error = null;
        // Some initiators omit the final NUL or pad with several; both are tolerated.
        while (data.Length > 0)
        {
            int end = data.IndexOf((byte)0);
            var item = end < 0 ? data : data[..end];
            data = end < 0 ? ReadOnlySpan<byte>.Empty : data[(end + 1)..];
            if (item.Length == 0)
                continue;
            int eq = item.IndexOf((byte)'=');
            if (eq <= 0)
            {
                error = $"malformed text item '{Encoding.UTF8.GetString(item)}' (no key=value)";
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
            if (valueBytes.Length > MaxLargeValueLength)
            {
                error = $"value of {key} is too long ({valueBytes.Length} bytes)";
                return false;
            }
            string value;
            try
            {
                value = new UTF8Encoding(false, true).GetString(valueBytes);
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
