using System.Text;
using StorageAppliance.Protocols.Iscsi.Negotiation;

namespace StorageAppliance.Protocols.Iscsi.Tests.Negotiation;

/// <summary>The key=value text format of Login and Text PDUs (RFC 7143 6.1).</summary>
public class TextParametersTests
{
    private static List<KeyValuePair<string, string>> Parse(byte[] data)
    {
        var output = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(data, output, out string? error), Is.True, error);
        Assert.That(error, Is.Null);
        return output;
    }

    private static string ParseError(byte[] data)
    {
        var output = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(data, output, out string? error), Is.False);
        Assert.That(error, Is.Not.Null.And.Not.Empty);
        return error!;
    }

    private static byte[] Ascii(string s) => Encoding.UTF8.GetBytes(s);

    [Test]
    public void Pairs_keep_their_order()
    {
        var pairs = Parse(Ascii("InitiatorName=iqn.1994-05.com.example:h1\0SessionType=Normal\0HeaderDigest=CRC32C,None\0"));
        Assert.That(pairs, Is.EqualTo(new[]
        {
            KeyValuePair.Create("InitiatorName", "iqn.1994-05.com.example:h1"),
            KeyValuePair.Create("SessionType", "Normal"),
            KeyValuePair.Create("HeaderDigest", "CRC32C,None"),
        }));
    }

    [TestCase("A=1\0B=2")]
    [TestCase("A=1")]
    [TestCase("A=1\0B=")]
    [TestCase("A=1\0\0B")]
    public void Missing_final_nul_is_an_error(string text)
    {
        // RFC 7143 6.1: "Every key=value pair, including the last or only pair in a LTDS, MUST be followed by one
        // null (0x00) delimiter." The parser used to accept the last pair without it.
        Assert.That(ParseError(Ascii(text)), Does.Contain("null byte"));
    }

    [Test]
    public void Simple_values_longer_than_255_bytes_are_errors_but_chap_values_may_be_longer()
    {
        string v255 = new('v', 255);
        Assert.That(Parse(Ascii("InitiatorAlias=" + v255 + "\0"))[0].Value, Has.Length.EqualTo(255));
        Assert.That(ParseError(Ascii("InitiatorAlias=" + v255 + "v\0")), Does.Contain("too long"));
        Assert.That(ParseError(Ascii("X-com.example.Big=" + v255 + "v\0")), Does.Contain("too long"));
        Assert.That(Parse(Ascii("CHAP_R=0x" + new string('a', 512) + "\0"))[0].Value, Has.Length.EqualTo(514));
    }

    [Test]
    public void At_most_max_pairs_are_accepted()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 10; i++)
            text.Append("K").Append(i).Append("=1\0");
        var output = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(Ascii(text.ToString()), output, out _, maxPairs: 10), Is.True);
        output.Clear();
        Assert.That(TextParameters.TryParse(Ascii(text.ToString()), output, out string? error, maxPairs: 9), Is.False);
        Assert.That(error, Does.Contain("more than 9"));
    }

    [Test]
    public void Repeated_keys_are_found()
    {
        Assert.That(TextParameters.FindRepeatedKey(Parse(Ascii("A=1\0B=2\0C=3\0"))), Is.Null);
        Assert.That(TextParameters.FindRepeatedKey(Parse(Ascii("A=1\0B=2\0A=1\0"))), Is.EqualTo("A"));
    }

    [Test]
    public void Empty_items_and_nul_padding_are_skipped()
    {
        var pairs = Parse(Ascii("\0A=1\0\0\0B=2\0\0\0\0"));
        Assert.That(pairs.Select(p => p.Key), Is.EqualTo(new[] { "A", "B" }));
    }

    [Test]
    public void Empty_text_is_no_pairs()
    {
        Assert.That(Parse([]), Is.Empty);
        Assert.That(Parse([0, 0]), Is.Empty);
    }

    [Test]
    public void Empty_value_is_kept()
    {
        Assert.That(Parse(Ascii("SendTargets=\0")), Is.EqualTo(new[] { KeyValuePair.Create("SendTargets", "") }));
    }

    [Test]
    public void Value_may_contain_equals_signs()
    {
        Assert.That(Parse(Ascii("CHAP_R=0bAAAA==\0"))[0].Value, Is.EqualTo("0bAAAA=="));
    }

    [Test]
    public void Key_characters_allowed_by_rfc7143()
    {
        Assert.That(Parse(Ascii("X-com.example+Key@v_1=x\0"))[0].Key, Is.EqualTo("X-com.example+Key@v_1"));
    }

    [TestCase("NoEquals\0", "no key=value")]
    [TestCase("=value\0", "no key=value")]
    [TestCase("Bad Key=1\0", "invalid character")]
    [TestCase("Bad:Key=1\0", "invalid character")]
    [TestCase("Bad/Key=1\0", "invalid character")]
    [TestCase("Clé=1\0", "invalid character")]
    public void Malformed_items_are_errors(string text, string reason)
    {
        Assert.That(ParseError(Ascii(text)), Does.Contain(reason));
    }

    [Test]
    public void Key_of_63_bytes_is_accepted_and_64_is_not()
    {
        Assert.That(Parse(Ascii(new string('K', 63) + "=1\0"))[0].Key, Has.Length.EqualTo(63));
        Assert.That(ParseError(Ascii(new string('K', 64) + "=1\0")), Does.Contain("longer than 63"));
    }

    [Test]
    public void Value_up_to_the_large_binary_limit_is_accepted_and_longer_is_not()
    {
        // CHAP_C/CHAP_R may carry 1024 bytes as "0x" + 2048 hex digits.
        string largest = "0x" + new string('a', 2048);
        Assert.That(TextParameters.MaxLargeValueLength, Is.EqualTo(largest.Length));
        Assert.That(Parse(Ascii("CHAP_C=" + largest + "\0"))[0].Value, Is.EqualTo(largest));
        Assert.That(ParseError(Ascii("CHAP_C=" + largest + "a\0")), Does.Contain("too long"));
    }

    [Test]
    public void Value_that_is_not_utf8_is_an_error()
    {
        byte[] text = [(byte)'A', (byte)'=', 0xC3, 0x28, 0];
        Assert.That(ParseError(text), Does.Contain("not valid UTF-8"));
        Assert.That(ParseError([(byte)'A', (byte)'=', 0xFF, 0]), Does.Contain("UTF-8"));
    }

    [Test]
    public void Value_in_utf8_is_decoded()
    {
        Assert.That(Parse(Ascii("InitiatorAlias=hôte ☃\0"))[0].Value, Is.EqualTo("hôte ☃"));
    }

    [Test]
    public void One_malformed_item_fails_the_whole_text()
    {
        var output = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(Ascii("A=1\0bad\0C=3\0"), output, out _), Is.False);
    }

    [Test]
    public void Public_extension_key_with_hash_is_parsed()
    {
        // RFC 7143 13 (intro): public extension keys have the form X#IANA-registered-string, and
        // TextParameters.IsExtensionKey knows them; but the key character check refuses '#', so one such key
        // fails the whole login text instead of being answered NotUnderstood.
        var output = new List<KeyValuePair<string, string>>();
        bool parsed = TextParameters.TryParse(Ascii("X#Example=1\0MaxBurstLength=8192\0"), output, out string? error);
        Assert.That(parsed, Is.True, error);
        Assert.That(output.Select(p => p.Key), Is.EqualTo(new[] { "X#Example", "MaxBurstLength" }));
    }

    [Test]
    public void Append_writes_key_equals_value_nul()
    {
        var text = new List<byte>();
        TextParameters.Append(text, "MaxBurstLength", "262144");
        TextParameters.Append(text, "TargetAlias", "dîsk");
        Assert.That(text.ToArray(), Is.EqualTo(Ascii("MaxBurstLength=262144\0TargetAlias=dîsk\0")));
    }

    [TestCase("X-com.example.Foo", true)]
    [TestCase("X#Foo", true)]
    [TestCase("XFoo", false)]
    [TestCase("x-foo", false)]
    [TestCase("MaxBurstLength", false)]
    public void Extension_keys(string key, bool expected)
    {
        Assert.That(TextParameters.IsExtensionKey(key), Is.EqualTo(expected));
    }

    [TestCase("0", 0UL)]
    [TestCase("8192", 8192UL)]
    [TestCase("18446744073709551615", ulong.MaxValue)]
    [TestCase("0x2000", 8192UL)]
    [TestCase("0X2000", 8192UL)]
    [TestCase("0xffffffffffffffff", ulong.MaxValue)]
    [TestCase("0x1", 1UL)]
    [TestCase("0bIAA=", 8192UL)]
    [TestCase("0BIAA=", 8192UL)]
    [TestCase("0bAQIDBAUGBwg=", 0x0102030405060708UL)]
    public void Numbers_in_decimal_hex_and_base64(string text, ulong expected)
    {
        Assert.That(TextParameters.TryParseNumber(text, out ulong n), Is.True);
        Assert.That(n, Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase("-1")]
    [TestCase("+1")]
    [TestCase(" 1")]
    [TestCase("1 ")]
    [TestCase("1e3")]
    [TestCase("12a")]
    [TestCase("0x")]
    [TestCase("0xg1")]
    [TestCase("0x10000000000000000")]
    [TestCase("18446744073709551616")]
    [TestCase("0b")]
    [TestCase("0b!!!!")]
    [TestCase("0bAQIDBAUGBwgJ")]
    [TestCase("Yes")]
    public void Malformed_or_too_large_numbers_are_refused(string text)
    {
        Assert.That(TextParameters.TryParseNumber(text, out _), Is.False);
    }

    [TestCase("0x00ff10", new byte[] { 0x00, 0xff, 0x10 })]
    [TestCase("0XABcd", new byte[] { 0xab, 0xcd })]
    [TestCase("0xfff", new byte[] { 0x0f, 0xff })]
    [TestCase("0bAP8Q", new byte[] { 0x00, 0xff, 0x10 })]
    [TestCase("0BAP8Q", new byte[] { 0x00, 0xff, 0x10 })]
    public void Binary_values_in_hex_and_base64(string text, byte[] expected)
    {
        Assert.That(TextParameters.TryParseBinary(text, out byte[] bytes), Is.True);
        Assert.That(bytes, Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase("0x")]
    [TestCase("0b")]
    [TestCase("00ff")]
    [TestCase("1xff")]
    [TestCase("0yff")]
    [TestCase("0xgg")]
    [TestCase("0b@@@@")]
    public void Malformed_binary_values_are_refused(string text)
    {
        Assert.That(TextParameters.TryParseBinary(text, out _), Is.False);
    }

    [Test]
    public void Hex_format_round_trips()
    {
        byte[] bytes = [0x00, 0x01, 0xab, 0xff];
        string hex = TextParameters.FormatHex(bytes);
        Assert.That(hex, Is.EqualTo("0x0001abff"));
        Assert.That(TextParameters.TryParseBinary(hex, out byte[] back), Is.True);
        Assert.That(back, Is.EqualTo(bytes));
    }
}
