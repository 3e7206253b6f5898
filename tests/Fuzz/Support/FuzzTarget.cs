using System.Buffers;

namespace StorageAppliance.Fuzz.Support;

/// <summary>
/// One fuzz target: a decoder (or a whole connection) fed arbitrary bytes. The rule every target enforces
/// (issue 13): bad input gives a clear error value, never an unhandled exception, never unbounded
/// allocation or time. <see cref="Run"/> therefore returns normally for every input, well-formed or not,
/// and throws only for a defect: an exception other than the decoder's documented "malformed input"
/// outcome, a broken invariant (<see cref="FuzzDefectException"/>) or a hang (a bounded wait that ran out).
/// </summary>
public interface IFuzzTarget
{
    /// <summary>Name used on the command line and as the corpus folder (tests/Fuzz/Corpus/NAME).</summary>
    string Name { get; }

    void Run(ReadOnlySpan<byte> input);

    /// <summary>Hand-made seeds (name, bytes) written by "seeds": golden bytes as the protocol tests build them.</summary>
    IEnumerable<(string Name, byte[] Bytes)> Seeds();
}

/// <summary>An invariant a decoder must keep was broken: a crash as far as afl-fuzz is concerned.</summary>
public sealed class FuzzDefectException(string message, Exception? inner = null) : Exception(message, inner);

public static class FuzzTargets
{
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new Targets.IscsiPduTarget(),
        new Targets.IscsiKeysTarget(),
        new Targets.IscsiConnectionTarget(),
        new Targets.ScsiCdbTarget(),
        new Targets.RpcRecordTarget(),
        new Targets.RpcConnectionTarget(),
        new Targets.NfsCallsTarget(Targets.NfsCallsTarget.Kind.Nfs3),
        new Targets.NfsCallsTarget(Targets.NfsCallsTarget.Kind.Mount),
        new Targets.CanaryTarget(),
    ];

    public static IFuzzTarget Find(string name)
    {
        foreach (var t in All)
            if (t.Name == name)
                return t;
        throw new ArgumentException($"no fuzz target '{name}' (targets: {string.Join(", ", All.Select(t => t.Name))})");
    }
}

/// <summary>Helpers shared by the targets.</summary>
public static class FuzzInput
{
    /// <summary>Longest a connection-level target may take for one input before it counts as a hang.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The bytes as a sequence of several segments, cut where <paramref name="seed"/> says, so every reader
    /// also meets a header or field split across segments (as a socket delivers them).
    /// </summary>
    public static ReadOnlySequence<byte> Segmented(ReadOnlySpan<byte> bytes, byte seed)
    {
        if (bytes.Length == 0 || seed == 0)
            return new ReadOnlySequence<byte>(bytes.ToArray());
        int step = 1 + (seed % 61);
        Segment? first = null;
        Segment? last = null;
        for (int at = 0; at < bytes.Length; at += step)
        {
            var part = bytes.Slice(at, Math.Min(step, bytes.Length - at)).ToArray();
            if (first is null)
                first = last = new Segment(part, 0);
            else
                last = last!.Append(part);
            step = 1 + ((step * 7 + seed) % 61);
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    /// <summary>Waits for a task the target started; one that does not end in time is a hang (a defect).</summary>
    public static void Wait(Task task, string what)
    {
        if (!task.Wait(HangLimit))
            throw new FuzzDefectException($"{what} did not finish within {HangLimit.TotalSeconds:0} s (hang)");
        task.GetAwaiter().GetResult();
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes, long runningIndex)
        {
            Memory = bytes;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
