using System.Globalization;

namespace StorageAppliance.Management.Config;

/// <summary>Durations as written in the config: 500ms, 30s, 5m, 1h, or a bare integer of seconds.</summary>
public static class Duration
{
    public static bool TryParse(string? text, out TimeSpan value, out string? error)
    {
        value = TimeSpan.Zero;
        error = null;
        string s = (text ?? "").Trim();
        int i = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
            i++;
        string unit = s[i..];
        long perUnitMs = unit switch
        {
            "ms" => 1,
            "" or "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => 0,
        };
        if (i == 0 || perUnitMs == 0)
        {
            error = $"'{text}' is not a duration (write a whole number with ms, s, m or h, e.g. 500ms, 30s, 5m, 1h; a bare number is seconds)";
            return false;
        }
        // A week is far beyond any timeout or interval here; the bound keeps the arithmetic exact.
        const long MaxMs = 7L * 24 * 3_600_000;
        if (!long.TryParse(s.AsSpan(0, i), NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > MaxMs / perUnitMs)
        {
            error = $"'{text}' is too long (at most 168h)";
            return false;
        }
        value = TimeSpan.FromMilliseconds(n * perUnitMs);
        return true;
    }
}
