using SharpFuzz;
using StorageAppliance.Fuzz.Support;

namespace StorageAppliance.Fuzz;

/// <summary>
/// The process afl-fuzz runs, and small tools around the corpus (tests/Fuzz/README.md):
/// <code>
///   run TARGET            the fuzz loop under afl-fuzz (SharpFuzz's fork server; once on stdin outside afl)
///   replay TARGET FILE..  each file through the target once; prints the exception of a failing one
///   seeds DIR             writes every target's hand-made seeds to DIR/TARGET/
///   list                  the target names
/// </code>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length >= 2 && args[0] == "run")
        {
            var target = FuzzTargets.Find(args[1]);
            var buffer = new MemoryStream();
            Fuzzer.Run(stream =>
            {
                buffer.SetLength(0);
                stream.CopyTo(buffer);
                target.Run(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            });
            return 0;
        }
        if (args.Length >= 3 && args[0] == "replay")
        {
            var target = FuzzTargets.Find(args[1]);
            int failed = 0;
            foreach (var file in args.Skip(2))
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    target.Run(File.ReadAllBytes(file));
                    Console.WriteLine($"ok     {file} ({clock.ElapsedMilliseconds} ms)");
                }
                catch (Exception e)
                {
                    failed++;
                    Console.WriteLine($"FAILED {file}\n{e}");
                }
            }
            return failed == 0 ? 0 : 1;
        }
        if (args.Length == 2 && args[0] == "seeds")
        {
            foreach (var target in FuzzTargets.All)
            {
                string dir = Path.Combine(args[1], target.Name);
                Directory.CreateDirectory(dir);
                foreach (var (name, bytes) in target.Seeds())
                    File.WriteAllBytes(Path.Combine(dir, name), bytes);
            }
            return 0;
        }
        if (args.Length == 1 && args[0] == "list")
        {
            foreach (var target in FuzzTargets.All)
                Console.WriteLine(target.Name);
            return 0;
        }
        Console.Error.WriteLine("usage: StorageAppliance.Fuzz run TARGET | replay TARGET FILE... | seeds DIR | list");
        return 2;
    }
}
