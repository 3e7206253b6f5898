using Microsoft.Extensions.Logging;

namespace StorageAppliance.Fuzz.Support;

/// <summary>
/// A logger factory for connection-level targets. The servers catch every exception at the connection
/// boundary (STYLE.md 6) and log it, so a decoder bug there never escapes to the harness: this logger
/// remembers each logged exception that is not a documented malformed-input outcome, and the target
/// rethrows the first one as the defect.
/// </summary>
public sealed class FaultLoggerFactory : ILoggerFactory, ILogger
{
    private readonly Func<Exception, bool> _expected;
    private Exception? _first;

    /// <param name="expected">True for an exception that is the documented answer to malformed input.</param>
    public FaultLoggerFactory(Func<Exception, bool> expected)
    {
        _expected = expected;
    }

    /// <summary>Throws the first unexpected logged exception since the last call, and forgets it.</summary>
    public void ThrowIfFaulted(string where)
    {
        var e = Interlocked.Exchange(ref _first, null);
        if (e is not null)
            throw new FuzzDefectException($"{where} logged an unexpected {e.GetType().Name}: {e.Message}", e);
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (exception is not null && !_expected(exception))
            Interlocked.CompareExchange(ref _first, exception, null);
    }
}
