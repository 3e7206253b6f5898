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

    /// <summary>The first <see cref="KeptBytes"/> bytes the server sent, for the tests that check a harness reaches its code.</summary>
    public byte[] Received => _kept.ToArray();

    private const int KeptBytes = 64 << 10;
    private readonly MemoryStream _kept = new();

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
            foreach (var segment in result.Buffer)
            {
                int room = KeptBytes - (int)_kept.Length;
                if (room <= 0)
                    break;
                _kept.Write(segment.Span[..Math.Min(room, segment.Length)]);
            }
            _toClient.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled)
                break;
        }
        await _toClient.Reader.CompleteAsync().ConfigureAwait(false);
    }
}
