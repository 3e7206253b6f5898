using System.Globalization;

namespace StorageAppliance.Common;

/// <summary>Parses and formats byte sizes as administrators write them: 4096, 512KiB, 8GiB, 1.5TiB, 100MB.</summary>
public static class ByteSize
{
    /// <summary>
    /// Parses a size. Binary suffixes (KiB, MiB, GiB, TiB, PiB, and the short K, M, G, T, P) are powers
    /// of 1024; decimal ones (KB, MB, GB, TB, PB) are powers of 1000; a bare number or a B suffix is bytes.
    /// </summary>
    public static bool TryParse(string? text, out long bytes, out string? error)
    {
        bytes = 0;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty size";
            return false;
        }
        string s = text.Trim();
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.' || s[i] == '_'))
            i++;
        string number = s[..i].Replace("_", "", StringComparison.Ordinal);
        string unit = s[i..].Trim();
        if (number.Length == 0 || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value))
        {
            error = $"'{text}' is not a size (examples: 4096, 512KiB, 8GiB, 2TiB)";
            return false;
        }
        decimal multiplier;
        switch (unit.ToUpperInvariant())
        {
            case "": case "B": multiplier = 1; break;
            case "K": case "KI": case "KIB": multiplier = 1L << 10; break;
            case "M": case "MI": case "MIB": multiplier = 1L << 20; break;
            case "G": case "GI": case "GIB": multiplier = 1L << 30; break;
            case "T": case "TI": case "TIB": multiplier = 1L << 40; break;
            case "P": case "PI": case "PIB": multiplier = 1L << 50; break;
            case "E": case "EI": case "EIB": multiplier = 1L << 60; break;
            case "KB": multiplier = 1_000m; break;
            case "MB": multiplier = 1_000_000m; break;
            case "GB": multiplier = 1_000_000_000m; break;
            case "TB": multiplier = 1_000_000_000_000m; break;
            case "PB": multiplier = 1_000_000_000_000_000m; break;
            case "EB": multiplier = 1_000_000_000_000_000_000m; break;
            default:
                error = $"'{text}' has an unknown unit '{unit}' (use B, KiB, MiB, GiB, TiB, PiB, EiB or KB, MB, GB, TB, PB, EB)";
                return false;
        }
        if (value > long.MaxValue / multiplier)
        {
            error = $"'{text}' is too large";
            return false;
        }
        decimal result = value * multiplier;
        if (result > long.MaxValue)
        {
            error = $"'{text}' is too large";
            return false;
        }
        if (result != decimal.Truncate(result))
        {
            error = $"'{text}' is not a whole number of bytes";
            return false;
        }
        bytes = (long)result;
        return true;
    }

    /// <summary>Formats with the largest binary unit that keeps at least one whole unit, e.g. 8 GiB, 1.5 MiB.</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double v = bytes;
        int u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }
        return u == 0 ? $"{bytes} B" : v.ToString(v % 1 == 0 ? "0" : "0.##", CultureInfo.InvariantCulture) + " " + units[u];
    }
}
