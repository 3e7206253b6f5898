using StorageAppliance.Fuzz.Support;

namespace StorageAppliance.Fuzz.Targets;

/// <summary>
/// Not a decoder: a planted bug that proves the fuzzing pipeline finds and reports crashes
/// (<see cref="AflSmokeTests.AflFindsAPlantedBug"/>). Its corpus never reaches the bug, so replay passes.
/// fuzz.sh instruments <see cref="CanaryBug"/> alone of the harness assembly, so afl sees its compares
/// (only code that runs inside the fuzz loop may carry probes: they need afl's shared memory).
/// </summary>
public sealed class CanaryTarget : IFuzzTarget
{
    public const string TargetName = "canary";

    public string Name => TargetName;

    public void Run(ReadOnlySpan<byte> input) => CanaryBug.Check(input);

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("one-byte-off", "FUZ!"u8.ToArray());
        yield return ("other", "xyzw"u8.ToArray());
    }

    public sealed class PlantedBugException() : Exception("the canary's planted bug");
}

/// <summary>The planted bug itself, in a type of its own so the instrumentation can pick it out.</summary>
public static class CanaryBug
{
    public static void Check(ReadOnlySpan<byte> input)
    {
        if (input.Length >= 4 && input[0] == (byte)'F' && input[1] == (byte)'U' && input[2] == (byte)'Z' && input[3] == (byte)'Z')
            throw new CanaryTarget.PlantedBugException();
    }
}
