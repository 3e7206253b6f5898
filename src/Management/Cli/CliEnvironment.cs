using Spectre.Console;

namespace StorageAppliance.Management.Cli;

/// <summary>The process exit codes of the admin commands.</summary>
public static class CliExitCode
{
    public const int Ok = 0;

    /// <summary>The appliance failed (HTTP 500, an unreadable answer), or the user declined.</summary>
    public const int Failed = 1;

    /// <summary>Invalid arguments, or a request the appliance refused as Invalid.</summary>
    public const int Invalid = 2;

    public const int NotFound = 3;

    public const int Conflict = 4;

    public const int NoSpace = 5;

    /// <summary>Nothing answers on the admin socket, or the appliance is starting or stopping.</summary>
    public const int Unavailable = 6;

    public static int Of(Admin.AdminError error) => error switch
    {
        Admin.AdminError.Invalid => Invalid,
        Admin.AdminError.NotFound => NotFound,
        Admin.AdminError.Conflict => Conflict,
        Admin.AdminError.NoSpace => NoSpace,
        Admin.AdminError.Unavailable => Unavailable,
        _ => Failed,
    };
}

/// <summary>What a command reads and writes: the process's console, or a test's strings.</summary>
public sealed class CliEnvironment
{
    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    public required TextReader In { get; init; }

    /// <summary>True when a person can answer a question on <see cref="In"/>.</summary>
    public required bool InputIsTerminal { get; init; }

    public required Func<string, string?> GetVariable { get; init; }

    /// <summary>Tables go here; it writes to <see cref="Out"/>.</summary>
    public required IAnsiConsole Console { get; init; }

    public static CliEnvironment FromConsole()
    {
        IAnsiConsole console = AnsiConsole.Console;
        // Piped output has no width; Spectre would assume 80 columns and cut the table to fit.
        if (System.Console.IsOutputRedirected)
            console.Profile.Width = 512;
        return new()
        {
            Out = System.Console.Out,
            Error = System.Console.Error,
            In = System.Console.In,
            InputIsTerminal = !System.Console.IsInputRedirected,
            GetVariable = Environment.GetEnvironmentVariable,
            Console = console,
        };
    }
}
