using System.Text;

namespace StorageAppliance.DataReduction.Tests;

internal static class TestData
{
    public static byte[] Random(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Text-like data: words from a small vocabulary, compressible about 3:1 by LZ4.</summary>
    public static byte[] Text(int length, int seed)
    {
        string[] words = ["the", "extent", "group", "vdisk", "block", "journal", "container", "write", "read", "metadata", "map", "checksum", "\n"];
        var r = new Random(seed);
        var sb = new StringBuilder(length + 16);
        while (sb.Length < length)
            sb.Append(words[r.Next(words.Length)]).Append(' ');
        return Encoding.ASCII.GetBytes(sb.ToString(0, length));
    }

    /// <summary>Like a VM image: runs of text, zeros and random bytes, each 4 KiB to 64 KiB.</summary>
    public static byte[] Mixed(int length, int seed)
    {
        var r = new Random(seed);
        var b = new byte[length];
        byte[] text = Text(64 << 10, seed);
        int pos = 0;
        while (pos < length)
        {
            int run = Math.Min(r.Next(4 << 10, 64 << 10), length - pos);
            switch (r.Next(3))
            {
                case 0:
                    text.AsSpan(0, run).CopyTo(b.AsSpan(pos));
                    break;
                case 1:
                    break; // zeros
                default:
                    r.NextBytes(b.AsSpan(pos, run));
                    break;
            }
            pos += run;
        }
        return b;
    }
}
