using StorageAppliance.DataReduction.Chunking;

namespace StorageAppliance.DataReduction.Tests.Chunking;

public class RabinFingerprintTests
{
    [Test]
    public void ThePolynomial_IsIrreducible()
    {
        // Rabin's test for a prime degree d: P is irreducible iff x^(2^d) ≡ x (mod P) and P has no factor x or x+1
        // (constant term 1, odd number of terms).
        const ulong p = RabinFingerprint.Polynomial;
        Assert.That(p >> RabinFingerprint.Degree, Is.EqualTo(1UL), "degree 53");
        Assert.That(p & 1, Is.EqualTo(1UL), "x divides it");
        Assert.That(ulong.PopCount(p) % 2, Is.EqualTo(1), "x + 1 divides it");
        ulong x = 2;
        for (int i = 0; i < RabinFingerprint.Degree; i++)
            x = RabinFingerprint.MultiplyMod(x, x);
        Assert.That(x, Is.EqualTo(2UL));
    }

    [Test]
    public void TheIrreducibilityCheck_RejectsAProductOfTwoFactors()
    {
        // (x^26 + x + 1)·(x^27 + x^2 + 1), carry-less: degree 53 with constant term 1, but reducible.
        ulong a = (1UL << 26) | 0b11, b = (1UL << 27) | 0b101, product = 0;
        for (int i = 0; i < 28; i++)
            if ((b >> i & 1) != 0)
                product ^= a << i;
        Assert.That(product >> 53, Is.EqualTo(1UL));
        Assert.That(IsIrreducible(product), Is.False);
        Assert.That(IsIrreducible(RabinFingerprint.Polynomial), Is.True);
    }

    [Test]
    public void TheRollingFingerprint_DependsOnlyOnTheWindow()
    {
        byte[] data = TestData.Random(4096, 1);
        const int w = RabinFingerprint.WindowSize;
        ulong fp = 0;
        for (int i = 0; i < data.Length; i++)
        {
            byte oldest = i >= w ? data[i - w] : (byte)0;
            fp = RabinFingerprint.Roll(fp, oldest, data[i]);
            if (i >= w - 1 && i % 97 == 0)
                Assert.That(fp, Is.EqualTo(RabinFingerprint.Of(data.AsSpan(i - w + 1, w))), $"at {i}");
        }
    }

    [Test]
    public void AppendingByte_MatchesPolynomialArithmetic()
    {
        // fp(a·b) = fp(a)·x^8 + b, computed the slow way.
        byte[] data = TestData.Random(100, 2);
        ulong slow = 0;
        foreach (byte b in data)
            slow = RabinFingerprint.MultiplyMod(slow, 256) ^ b;
        Assert.That(RabinFingerprint.Of(data), Is.EqualTo(slow));
    }

    private static bool IsIrreducible(ulong p)
    {
        if ((p & 1) == 0 || ulong.PopCount(p) % 2 == 0)
            return false;
        ulong x = 2;
        for (int i = 0; i < 53; i++)
            x = MulMod(x, x, p);
        return x == 2;
    }

    private static ulong MulMod(ulong a, ulong b, ulong p)
    {
        ulong r = 0;
        while (b != 0)
        {
            if ((b & 1) != 0)
                r ^= a;
            b >>= 1;
            a <<= 1;
            if ((a >> 53 & 1) != 0)
                a ^= p;
        }
        return r;
    }
}
