using StorageAppliance.Common.Devices;

namespace StorageAppliance.VDisk.Tests;

/// <summary>Blocks writes (or, if asked, flushes instead) to files whose path contains a text until opened again.</summary>
internal sealed class GateFileSystem(IStorageFileSystem inner) : IStorageFileSystem
{
    private readonly ManualResetEventSlim _open = new(true);
    private volatile string? _closedFor;
    private volatile bool _flushes;

    public ManualResetEventSlim Entered { get; } = new(false);

    /// <summary>Closes the gate for writes to matching files, or for their flushes alone.</summary>
    public void Close(string pathContains, bool flushes = false)
    {
        Entered.Reset();
        _open.Reset();
        _flushes = flushes;
        _closedFor = pathContains;
    }

    public void Open()
    {
        _closedFor = null;
        _open.Set();
    }

    private void Pass(string path, bool flush = false)
    {
        if (flush != _flushes)
            return;
        if (_closedFor is { } text && path.Contains(text, StringComparison.Ordinal))
        {
            Entered.Set();
            _open.Wait(TimeSpan.FromSeconds(30));
        }
    }

    public IStorageFile Open(string path, bool create) => new GatedFile(this, inner.Open(path, create));

    public bool Exists(string path) => inner.Exists(path);

    public void Delete(string path) => inner.Delete(path);

    public void Rename(string from, string to) => inner.Rename(from, to);

    public IReadOnlyList<string> List(string directory, string pattern) => inner.List(directory, pattern);

    public void CreateDirectory(string path) => inner.CreateDirectory(path);

    public void SyncDirectory(string path) => inner.SyncDirectory(path);

    public long FreeSpace(string path) => inner.FreeSpace(path);

    private sealed class GatedFile(GateFileSystem fs, IStorageFile file) : IStorageFile
    {
        public string Path => file.Path;

        public long Length => file.Length;

        public int Read(Span<byte> buffer, long offset) => file.Read(buffer, offset);

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            fs.Pass(Path);
            file.Write(data, offset);
        }

        public void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset)
        {
            fs.Pass(Path);
            file.Write(buffers, offset);
        }

        public void Flush()
        {
            fs.Pass(Path, flush: true);
            file.Flush();
        }

        public void SetLength(long length) => file.SetLength(length);

        public void PunchHole(long offset, long length) => file.PunchHole(offset, length);

        public void Dispose() => file.Dispose();
    }
}
