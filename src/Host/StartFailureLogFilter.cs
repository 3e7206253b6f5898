using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace StorageAppliance.Host;

/// <summary>
/// Keeps the generic host's "Hosting failed to start" record (with its .NET stack trace) off the console
/// when the failure is one the runner explains itself in one line (a port in use, an unreadable disk): an
/// operator who mistyped a port needs the sentence, not the frames. Every other record, and that record
/// for any other exception (a bug, whose trace is wanted), passes unchanged.
/// </summary>
internal sealed class StartFailureLogFilter(ILoggerProvider inner) : ILoggerProvider, ISupportExternalScope
{
    // Microsoft.Extensions.Hosting.Internal.Host logs HostedServiceStartupFaulted with this id before it throws.
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";
    private const int HostedServiceStartupFaulted = 11;

    /// <summary>The exceptions <see cref="ApplianceRunner"/> reports as "cannot start: reason" (exit 1).</summary>
    public static bool IsExplained(Exception e) => e is IOException or UnauthorizedAccessException or InvalidDataException;

    /// <summary>Wraps the console provider that AddSimpleConsole registered.</summary>
    public static void Install(IServiceCollection services)
    {
        ServiceDescriptor? console = services.FirstOrDefault(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider));
        if (console is null)
            return;
        services.Remove(console);
        services.TryAddSingleton<ConsoleLoggerProvider>();
        services.AddSingleton<ILoggerProvider>(sp => new StartFailureLogFilter(sp.GetRequiredService<ConsoleLoggerProvider>()));
    }

    public ILogger CreateLogger(string categoryName)
    {
        ILogger logger = inner.CreateLogger(categoryName);
        return categoryName == HostCategory ? new Filtered(logger) : logger;
    }

    public void SetScopeProvider(IExternalScopeProvider scopeProvider)
    {
        if (inner is ISupportExternalScope scoped)
            scoped.SetScopeProvider(scopeProvider);
    }

    public void Dispose() => inner.Dispose();

    private sealed class Filtered(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // A cancelled start (Ctrl-C while starting) is reported in one line too.
            if (eventId.Id == HostedServiceStartupFaulted && exception is not null && (IsExplained(exception) || exception is OperationCanceledException))
                return;
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
