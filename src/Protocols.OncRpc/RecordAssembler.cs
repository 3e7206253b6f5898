using System.Buffers;
using System.Buffers.Binary;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>What one step of <see cref="RecordAssembler.TryRead"/> came to.</summary>
public enum RecordProgress : byte
{
    /// <summary>All input consumed; the record is not complete yet.</summary>
    NeedMore,

    /// <summary>A whole record is out; input may hold more.</summary>
    Complete,

    /// <summary>The record needs a bigger buffer and the receive budget has no room now; input is left where it stopped.</summary>
    NeedBudget,
}

/// <summary>Grants the bytes a connection may hold in large record buffers (per connection and in total).</summary>
public interface IRecordBudget
{
    bool TryReserve(int bytes);

    void Release(int bytes);
}

/// <summary>
/// Reassembles records from a byte stream one read at a time (RFC 5531 section 11: "A record is
/// composed of one or more record fragments. A record fragment is a four-byte header followed by 0 to
/// (2**31) - 1 bytes of fragment data."). Its state (where in a fragment header or fragment body it
/// stands, the payload so far) lives across reads, so every input byte is looked at once: a record
/// sent a byte at a time, or as endless zero-length fragments, costs time linear in its length. The
/// record grows in a pooled buffer only as its bytes actually arrive, so a header that promises 4 MiB
/// and sends nothing holds no memory; large buffers are charged to an <see cref="IRecordBudget"/>.
/// <code>
///  +-+-------------------------------+-------------------+
///  |L| fragment length (31 bits)     | fragment bytes    |  ... until a fragment with L = 1
///  +-+-------------------------------+-------------------+
/// </code>
/// Broken framing (a record over the size limit, more fragments than allowed) throws
/// <see cref="InvalidDataException"/>: the connection cannot find the next record boundary after it.
/// </summary>
public sealed class RecordAssembler : IDisposable
{
    private readonly int _maxRecord;
    private readonly int _maxFragments;
    private readonly IRecordBudget? _budget;
    private byte[] _buffer = Array.Empty<byte>();
    private int _charged;
    private int _length;
    private int _fragments;
    private uint _header;
    private int _headerBytes;
    private int _remaining;
    private bool _inBody;
    private bool _last;

    public RecordAssembler(int maxRecord, int maxFragments, IRecordBudget? budget = null)
    {
        _maxRecord = maxRecord;
        _maxFragments = maxFragments;
        _budget = budget;
    }

    /// <summary>True from the first byte of a record until it is complete.</summary>
    public bool InRecord => _headerBytes > 0 || _fragments > 0;

    /// <summary>Bytes of the record buffer held now (0 between records).</summary>
    public int BufferedBytes => _buffer.Length;

    /// <summary>Bytes of the receive budget the partial record holds (0 while its buffer is small).</summary>
    public int ChargedBytes => _charged;

    /// <summary>Fragments of the current record seen so far.</summary>
    public int Fragments => _fragments;

    /// <summary>
    /// Consumes bytes from <paramref name="input"/> (advancing it) until a record is complete, the input
    /// runs out, or the budget refuses a bigger buffer. On <see cref="RecordProgress.Complete"/> the caller
    /// owns <paramref name="record"/> (give it back with <see cref="RecordBuffers.Return"/>) and
    /// <paramref name="charge"/> bytes of the budget (give them back with <see cref="IRecordBudget.Release"/>).
    /// </summary>
    public RecordProgress TryRead(ref ReadOnlySequence<byte> input, out byte[] record, out int length, out int charge)
    {
        record = Array.Empty<byte>();
        length = 0;
        charge = 0;
        while (true)
        {
            if (!_inBody)
            {
                if (!TryReadHeader(ref input))
                    return RecordProgress.NeedMore;
                continue;
            }
            if (_remaining > 0)
            {
                if (input.IsEmpty)
                    return RecordProgress.NeedMore;
                int n = (int)Math.Min(_remaining, input.Length);
                if (!Ensure(_length + n))
                    return RecordProgress.NeedBudget;
                input.Slice(0, n).CopyTo(_buffer.AsSpan(_length));
                input = input.Slice(n);
                _length += n;
                _remaining -= n;
                if (_remaining > 0)
                    return RecordProgress.NeedMore;
            }
            _inBody = false;
            if (!_last)
                continue;
            // Even an empty record gets a buffer of its own so the caller's ownership rule has no exception.
            if (!Ensure(Math.Max(_length, 1)))
                return RecordProgress.NeedBudget;
            record = _buffer;
            length = _length;
            charge = _charged;
            _buffer = Array.Empty<byte>();
            _charged = 0;
            _length = 0;
            _fragments = 0;
            return RecordProgress.Complete;
        }
    }

    private bool TryReadHeader(ref ReadOnlySequence<byte> input)
    {
        if (_headerBytes == 0 && input.FirstSpan.Length >= 4)
        {
            _header = BinaryPrimitives.ReadUInt32BigEndian(input.FirstSpan);
            _headerBytes = 4;
            input = input.Slice(4);
        }
        else
        {
            while (_headerBytes < 4)
            {
                if (input.IsEmpty)
                    return false;
                _header = (_header << 8) | input.FirstSpan[0];
                _headerBytes++;
                input = input.Slice(1);
            }
        }
        uint length = _header & ~RecordMarking.LastFragment;
        _last = (_header & RecordMarking.LastFragment) != 0;
        _header = 0;
        _headerBytes = 0;
        _fragments++;
        // Zero-length fragments are legal but carry nothing: bound how many one record may have, or a
        // client keeps a connection busy forever with a record that never grows.
        if (_fragments > _maxFragments)
            throw new InvalidDataException($"RPC record has more than {_maxFragments} fragments");
        if (_length + (long)length > _maxRecord)
            throw new InvalidDataException($"RPC record of at least {_length + (long)length} bytes exceeds the limit of {_maxRecord}");
        _remaining = (int)length;
        _inBody = true;
        return true;
    }

    // Grows the buffer to hold `needed` bytes: doubling, so copies stay linear in the record's length.
    private bool Ensure(int needed)
    {
        if (needed <= _buffer.Length)
            return true;
        int capacity = RecordBuffers.CapacityFor(Math.Max(needed, Math.Min(_buffer.Length * 2, _maxRecord)));
        int charge = RecordBuffers.ChargeFor(capacity);
        if (charge > _charged)
        {
            if (_budget is not null && !_budget.TryReserve(charge - _charged))
                return false;
        }
        var grown = RecordBuffers.Rent(capacity);
        _buffer.AsSpan(0, _length).CopyTo(grown);
        RecordBuffers.Return(_buffer);
        _buffer = grown;
        if (charge < _charged)
            _budget?.Release(_charged - charge);
        _charged = charge;
        return true;
    }

    /// <summary>Gives back the buffer and budget of an unfinished record (the connection ended).</summary>
    public void Dispose()
    {
        RecordBuffers.Return(_buffer);
        _buffer = Array.Empty<byte>();
        if (_charged > 0)
            _budget?.Release(_charged);
        _charged = 0;
        _length = 0;
        _fragments = 0;
        _headerBytes = 0;
        _inBody = false;
    }
}
