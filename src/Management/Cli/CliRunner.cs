using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace StorageAppliance.Management.Cli;

/// <summary>Parses and runs a command line so that a usage error exits 2 with one line on stderr.</summary>
public static class CliRunner
{
    public static async Task<int> InvokeAsync(RootCommand root, IReadOnlyList<string> args, CliEnvironment env, CancellationToken cancellationToken = default)
    {
        ParseResult parse = root.Parse(args);
        if (parse.Action is ParseErrorAction && parse.Errors.Count > 0)
        {
            // System.CommandLine would print help and exit 1; scripts want the reason on one line and exit 2.
            var reasons = new List<string>(parse.Errors.Count);
            foreach (ParseError error in parse.Errors)
            {
                string reason = string.Join(' ', error.Message.Split((char[])['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.');
                if (!reasons.Contains(reason))
                    reasons.Add(reason);
            }
            env.Error.WriteLine($"appliance: {string.Join("; ", reasons)} (see '{CommandPath(parse.CommandResult)} --help')");
            return CliExitCode.Invalid;
        }
        // ProcessTerminationTimeout = null: the appliance's generic host handles SIGINT/SIGTERM itself.
        var invocation = new InvocationConfiguration { Output = env.Out, Error = env.Error, ProcessTerminationTimeout = null };
        return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
    }

    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (SymbolResult? r = command; r is CommandResult c; r = c.Parent)
            names.Add(c.Parent is null ? "appliance" : c.Command.Name);
        names.Reverse();
        return string.Join(' ', names);
    }
}
