using System.IO.Pipelines;

namespace StorageAppliance.Fuzz.Support;

/// <summary>
/// An in-memory connection for the connection-level targets: the whole input is written and the sending
/// side closed before the server starts reading (as a peer that sends everything, then half-closes), and
/// everything the server answers is read and dropped, so it never waits on back-pressure.
/// </summary>
public sealed class PipePair : IDuplexPipe
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();
    private readonly Task _drain;

    public PipePair(ReadOnlySpan<byte> input)
    {
        if (input.Length > 0)
        {
            input.CopyTo(_toServer.Writer.GetSpan(input.Length));
            _toServer.Writer.Advance(input.Length);
        }
        _toServer.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        _toServer.Writer.Complete();
        _drain = Task.Run(DrainAsync);
    }

    public PipeReader Input => _toServer.Reader;

    public PipeWriter Output => _toClient.Writer;

    /// <summary>Bytes the server sent.</summary>
    public long Sent { get; private set; }

    /// <summary>Stops the drain once the server's task has ended, whether or not it closed its output.</summary>
    public void Finish()
    {
        _toClient.Reader.CancelPendingRead();
        FuzzInput.Wait(_drain, "draining the server's output");
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            var result = await _toClient.Reader.ReadAsync().ConfigureAwait(false);
            Sent += result.Buffer.Length;
            _toClient.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled)
                break;
        }
        await _toClient.Reader.CompleteAsync().ConfigureAwait(false);
    }
}
