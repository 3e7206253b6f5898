using System.Threading.Tasks.Sources;

namespace StorageAppliance.Director.Qos;

/// <summary>
/// A request waiting for admission: a pooled, resettable value-task source, so queueing allocates
/// nothing once the pool is warm. The result is true when admitted, false when the vDisk went away.
/// </summary>
internal sealed class QosWaiter(QosScheduler owner) : IValueTaskSource<bool>
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    public QosQueue Queue = null!;
    public long Bytes;
    public bool Write;

    public short Version => _core.Version;

    public void Admit(bool admitted) => _core.SetResult(admitted);

    public bool GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Queue = null!;
            owner.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
