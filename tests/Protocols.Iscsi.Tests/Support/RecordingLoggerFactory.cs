using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.Iscsi.Tests.Support;

/// <summary>Keeps every log entry, so tests can check why a connection closed and that no handler threw.</summary>
public sealed class RecordingLoggerFactory : ILoggerFactory
{
    public sealed record Entry(int EventId, LogLevel Level, string Message, Exception? Exception);

    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => _entries.ToArray();

    /// <summary>Entries that carry an exception: a handler or the SCSI layer threw inside the target.</summary>
    public IReadOnlyList<Entry> Faults => _entries.Where(e => e.Exception is not null).ToArray();

    public IEnumerable<string> Messages(int eventId) => _entries.Where(e => e.EventId == eventId).Select(e => e.Message);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new Entry(eventId.Id, logLevel, formatter(state, exception), exception));
    }
}
