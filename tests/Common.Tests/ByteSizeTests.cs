using StorageAppliance.Common;

namespace StorageAppliance.Common.Tests;

public class ByteSizeTests
{
    [TestCase("0", 0L)]
    [TestCase("4096", 4096L)]
    [TestCase("4096B", 4096L)]
    [TestCase("4096 B", 4096L)]
    [TestCase("1_000_000", 1_000_000L)]
    [TestCase("512KiB", 512L * 1024)]
    [TestCase("512K", 512L * 1024)]
    [TestCase("512Ki", 512L * 1024)]
    [TestCase("512kib", 512L * 1024)]
    [TestCase("8GiB", 8L << 30)]
    [TestCase("8 GiB", 8L << 30)]
    [TestCase("  8 GiB  ", 8L << 30)]
    [TestCase("1.5TiB", 3L << 39)]
    [TestCase("2P", 2L << 50)]
    [TestCase("3MiB", 3L << 20)]
    [TestCase(".5K", 512L)]
    [TestCase("0.5KiB", 512L)]
    [TestCase("1.", 1L)]
    [TestCase("100MB", 100_000_000L)]
    [TestCase("100 mb", 100_000_000L)]
    [TestCase("1KB", 1_000L)]
    [TestCase("2GB", 2_000_000_000L)]
    [TestCase("3TB", 3_000_000_000_000L)]
    [TestCase("4PB", 4_000_000_000_000_000L)]
    [TestCase("7PiB", 7L << 50)]
    [TestCase("9223372036854775807", long.MaxValue)]
    public void TryParse_accepts(string text, long expected)
    {
        Assert.That(ByteSize.TryParse(text, out long bytes, out string? error), Is.True, error);
        Assert.That(bytes, Is.EqualTo(expected));
        Assert.That(error, Is.Null);
    }

    [TestCase(null, "empty size")]
    [TestCase("", "empty size")]
    [TestCase("   ", "empty size")]
    [TestCase("GiB", "is not a size")]
    [TestCase("-1", "is not a size")]
    [TestCase("-1KiB", "is not a size")]
    [TestCase(".", "is not a size")]
    [TestCase("_", "is not a size")]
    [TestCase("1.2.3", "is not a size")]
    [TestCase("8 XB", "unknown unit 'XB'")]
    [TestCase("8 GiBs", "unknown unit 'GiBs'")]
    [TestCase("12 34", "unknown unit '34'")]
    [TestCase("0x10", "unknown unit 'x10'")]
    [TestCase("0.3", "not a whole number of bytes")]
    [TestCase("1.0000001KiB", "not a whole number of bytes")]
    [TestCase("9223372036854775808", "too large")]
    [TestCase("8192PiB", "too large")]
    [TestCase("10000000PB", "too large")]
    public void TryParse_rejects_with_a_reason(string? text, string reason)
    {
        Assert.That(ByteSize.TryParse(text, out long bytes, out string? error), Is.False);
        Assert.That(bytes, Is.EqualTo(0));
        Assert.That(error, Does.Contain(reason));
    }

    [Test]
    public void TryParse_error_quotes_the_input()
    {
        ByteSize.TryParse("12 furlongs", out _, out string? error);
        Assert.That(error, Does.Contain("'12 furlongs'"));
    }

    [Test]
    public void TryParse_of_a_number_too_large_for_decimal_arithmetic_returns_false_instead_of_throwing()
    {
        // decimal.MaxValue is ~7.9e28; times 2^50 the multiplication overflows. A Try- method must not throw.
        bool parsed = true;
        string? error = null;
        Assert.That(() => parsed = ByteSize.TryParse("79228162514264337593543950335PiB", out _, out error), Throws.Nothing);
        Assert.That(parsed, Is.False);
        Assert.That(error, Does.Contain("too large"));
    }

    [TestCase(0L, "0 B")]
    [TestCase(1L, "1 B")]
    [TestCase(1023L, "1023 B")]
    [TestCase(1024L, "1 KiB")]
    [TestCase(1536L, "1.5 KiB")]
    [TestCase(512L * 1024, "512 KiB")]
    [TestCase(3L << 20, "3 MiB")]
    [TestCase((3L << 20) / 2, "1.5 MiB")]
    [TestCase(8L << 30, "8 GiB")]
    [TestCase(3L << 39, "1.5 TiB")]
    [TestCase(7L << 50, "7 PiB")]
    [TestCase(-2048L, "-2 KiB")]
    [TestCase(-5L, "-5 B")]
    public void Format_uses_the_largest_binary_unit(long bytes, string expected)
    {
        Assert.That(ByteSize.Format(bytes), Is.EqualTo(expected));
    }

    [Test]
    public void Format_rounds_to_two_decimals()
    {
        Assert.That(ByteSize.Format(1024 + 10), Is.EqualTo("1.01 KiB"));
        Assert.That(ByteSize.Format(1025), Is.EqualTo("1 KiB"));
    }

    [TestCase(4096L)]
    [TestCase(512L * 1024)]
    [TestCase(8L << 30)]
    [TestCase(3L << 39)]
    [TestCase(5L << 50)]
    public void Format_then_TryParse_round_trips_exact_sizes(long bytes)
    {
        Assert.That(ByteSize.TryParse(ByteSize.Format(bytes), out long back, out string? error), Is.True, error);
        Assert.That(back, Is.EqualTo(bytes));
    }

    [Test]
    public void Format_output_in_EiB_can_be_parsed_back()
    {
        // Format picks EiB for sizes of 1 EiB and more, but TryParse knows no EiB unit.
        string text = ByteSize.Format(2L << 60);
        Assert.That(text, Is.EqualTo("2 EiB"));
        Assert.That(ByteSize.TryParse(text, out long back, out string? error), Is.True, error);
        Assert.That(back, Is.EqualTo(2L << 60));
    }
}
