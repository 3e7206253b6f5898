using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// EXTENDED COPY (LID1) (SPC-4): 83h / 00h, bytes 10..13 PARAMETER LIST LENGTH
//
//   parameter list header (16 bytes)                     identification descriptor CSCD (E4h), 32 bytes
//   +-------+-----------------------------------------+  +-------+------------------------------------------+
//   |   0   | LIST IDENTIFIER                         |  |   0   | E4h                                      |
//   |   1   | STR (5) | LIST ID USAGE (4:3) | PRIORITY|  |   1   | LU ID TYPE | NUL | PERIPHERAL DEVICE TYPE|
//   | 2..3  | CSCD DESCRIPTOR LIST LENGTH             |  | 2..3  | RELATIVE INITIATOR PORT IDENTIFIER       |
//   | 8..11 | SEGMENT DESCRIPTOR LIST LENGTH          |  | 4..27 | designation descriptor (as in VPD 83h)   |
//   | 12..15| INLINE DATA LENGTH                      |  | 28..31| PAD | CAT, DISK BLOCK LENGTH (3)         |
//   +-------+-----------------------------------------+  +-------+------------------------------------------+
//   then the CSCD descriptors, the segment descriptors and the inline data.
//
//   block device to block device segment descriptor (02h), 28 bytes:
//   byte 1 DC (1) | CAT (0), 2..3 DESCRIPTOR LENGTH (0018h), 4..5 SOURCE CSCD DESCRIPTOR ID, 6..7 DESTINATION
//   CSCD DESCRIPTOR ID, 10..11 NUMBER OF BLOCKS, 12..19 SOURCE LBA, 20..27 DESTINATION LBA
//
// The copy manager resolves each identification descriptor by its NAA designator through the unit's
// LogicalUnitRegistry (every LU of the appliance, whatever target exports it), then copies segment by segment,
// vDisk to vDisk through IVDisk reads and writes: nothing crosses the network. Each chunk is read under a lease
// of the source's BlockRangeGate and written under one of the destination's, so the copy never tears a
// COMPARE AND WRITE. Errors found in the parameter list end the command with ILLEGAL REQUEST before anything
// is copied; errors met while copying end it with COPY ABORTED, the failed segment's index in the
// COMMAND-SPECIFIC INFORMATION field. RECEIVE COPY RESULTS reports what happened, by LIST IDENTIFIER.
public sealed partial class LogicalUnit
{
    internal const int MaxCscdDescriptors = 8;
    internal const int MaxSegmentDescriptors = 64;
    internal const int MaxDescriptorListLength = 4096;
    private const int CscdLength = 32;
    private const int BlockToBlockLength = 28;
    private const byte CscdIdentification = 0xE4;
    private const byte SegmentBlockToBlock = 0x02;
    private const int CopyChunkBytes = 1 << 20;

    /// <summary>Copy results kept for RECEIVE COPY RESULTS, by I_T nexus and LIST IDENTIFIER (bounded; oldest first out).</summary>
    private readonly ConcurrentDictionary<(long Nexus, byte List), CopyRecord> _copyResults = new();
    private readonly ConcurrentQueue<(long Nexus, byte List)> _copyResultOrder = new();
    private const int MaxCopyResults = 256;

    /// <summary>Where EXTENDED COPY finds the units its descriptors name (set when a target adds the unit).</summary>
    public LogicalUnitRegistry? CopyRegistry { get; set; }

    /// <summary>The state of one copy, for RECEIVE COPY RESULTS.</summary>
    internal sealed class CopyRecord
    {
        public volatile byte Status; // 0 in progress, 1 completed, 2 completed with errors
        public ushort SegmentsProcessed;
        public long BytesTransferred;
        public byte[]? Sense;
    }

    /// <summary>An identification descriptor resolved to a unit (null: not a unit of this appliance).</summary>
    private readonly record struct CopyTarget(LogicalUnit? Unit, int Offset);

    private ValueTask ExtendedCopy(ScsiTask task)
    {
        uint listLength = task.CdbUInt32(10);
        task.TransferLength = listLength;
        // SPC-4: a PARAMETER LIST LENGTH of zero copies nothing and is not an error.
        if (listLength == 0)
        {
            task.SetGood();
            return default;
        }
        var p = task.DataOut.Span;
        if (listLength < 16 || p.Length < listLength)
        {
            ParameterListLengthError(task);
            return default;
        }
        p = p[..(int)listLength];
        byte listId = p[0];
        int usage = (p[1] >> 3) & 0x03;
        if (usage == 0x01)
        {
            InvalidParameter(task, 1, 4); // LIST ID USAGE 01b is reserved
            return default;
        }
        int cscdLength = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        uint segmentLength = BinaryPrimitives.ReadUInt32BigEndian(p[8..]);
        uint inlineLength = BinaryPrimitives.ReadUInt32BigEndian(p[12..]);
        if (16UL + (ulong)cscdLength + segmentLength + inlineLength > listLength
            || (ulong)cscdLength + segmentLength > MaxDescriptorListLength
            || inlineLength != 0)
        {
            ParameterListLengthError(task);
            return default;
        }
        if (cscdLength / CscdLength > MaxCscdDescriptors)
        {
            task.SetCheckCondition(SenseCode.TooManyTargetDescriptors, DescriptorSense, null, SenseKeySpecific.ParameterField(2));
            return default;
        }

        var targets = new CopyTarget[cscdLength / CscdLength];
        for (int i = 0, at = 16; at < 16 + cscdLength; i++, at += CscdLength)
        {
            if (p[at] != CscdIdentification)
            {
                task.SetCheckCondition(SenseCode.UnsupportedTargetDescriptorTypeCode, DescriptorSense, null, SenseKeySpecific.ParameterField((ushort)at));
                return default;
            }
            if (at + CscdLength > 16 + cscdLength)
            {
                ParameterListLengthError(task);
                return default;
            }
            var d = p.Slice(at, CscdLength);
            // SPC-4: LU ID TYPE is ignored and NUL is obsolete; only direct access block devices are copy targets here.
            if ((d[1] & 0x1F) != 0x00)
            {
                InvalidParameter(task, at + 1, 4);
                return default;
            }
            var unit = ResolveCopyTarget(d[4..28]);
            int diskBlockLength = (d[29] << 16) | (d[30] << 8) | d[31];
            if (unit is not null && diskBlockLength != unit.BlockSize)
            {
                InvalidParameter(task, at + 29, 7);
                return default;
            }
            targets[i] = new CopyTarget(unit, at);
        }

        int segmentsStart = 16 + cscdLength;
        int segmentsEnd = segmentsStart + (int)segmentLength;
        int segments = 0;
        for (int at = segmentsStart; at < segmentsEnd; at += BlockToBlockLength, segments++)
        {
            if (segments == MaxSegmentDescriptors)
            {
                task.SetCheckCondition(SenseCode.TooManySegmentDescriptors, DescriptorSense, null, SenseKeySpecific.ParameterField(8));
                return default;
            }
            if (p[at] != SegmentBlockToBlock)
            {
                task.SetCheckCondition(SenseCode.UnsupportedSegmentDescriptorTypeCode, DescriptorSense, null, SenseKeySpecific.ParameterField((ushort)at));
                return default;
            }
            if (at + 4 > segmentsEnd || BinaryPrimitives.ReadUInt16BigEndian(p[(at + 2)..]) != BlockToBlockLength - 4
                || at + BlockToBlockLength > segmentsEnd)
            {
                ParameterListLengthError(task);
                return default;
            }
        }

        CopyRecord? record = null;
        if (usage != 0x03)
        {
            // LIST ID USAGE 00b/10b: the LIST IDENTIFIER names the copy for RECEIVE COPY RESULTS; one in progress
            // under the same identifier from the same nexus is an OPERATION IN PROGRESS.
            var key = (task.Nexus.Id, listId);
            if (_copyResults.TryGetValue(key, out var existing) && existing.Status == 0)
            {
                task.SetCheckCondition(SenseCode.OperationInProgress, DescriptorSense);
                return default;
            }
            record = new CopyRecord();
            _copyResults[key] = record;
            _copyResultOrder.Enqueue(key);
            while (_copyResultOrder.Count > MaxCopyResults && _copyResultOrder.TryDequeue(out var old))
                if (!old.Equals(key))
                    _copyResults.TryRemove(old, out _);
        }
        return CopySegments(task, targets, segmentsStart, segments, record);
    }

    /// <summary>The unit a designation descriptor names: this one or another of the appliance, by NAA designator.</summary>
    private LogicalUnit? ResolveCopyTarget(ReadOnlySpan<byte> designation)
    {
        int type = designation[1] & 0x0F;
        int length = designation[3];
        if (type != DesignatorNaa || length == 0 || length > 20)
            return null;
        var naa = designation.Slice(4, length);
        if (naa.SequenceEqual(Options.NaaDesignator))
            return this;
        return CopyRegistry?.Find(naa);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CopySegments(ScsiTask task, CopyTarget[] targets, int segmentsStart, int segments, CopyRecord? record)
    {
        int segment = 0;
        try
        {
            for (; segment < segments; segment++)
            {
                int at = segmentsStart + segment * BlockToBlockLength;
                var failure = await CopySegment(task, targets, at, record).ConfigureAwait(false);
                if (failure is SenseCode code)
                {
                    task.SetCheckCondition(code, DescriptorSense, null, SenseKeySpecific.ParameterField((ushort)at), (uint)segment);
                    return;
                }
                if (record is not null)
                    record.SegmentsProcessed = (ushort)(segment + 1);
            }
            task.SetGood();
        }
        finally
        {
            if (record is not null)
            {
                if (task.Status != ScsiStatus.Good)
                    record.Sense = task.Sense.ToArray();
                record.Status = task.Status == ScsiStatus.Good ? (byte)1 : (byte)2;
            }
        }
    }

    /// <summary>Chunks of one segment copied at the same time: reads of some overlap writes of others.</summary>
    private const int CopyLanes = 4;

    /// <summary>One segment being copied: the chunks are handed out to the lanes in order.</summary>
    private sealed class SegmentCopy(LogicalUnit source, LogicalUnit destination, ulong sourceLba, ulong destinationLba, long bytes, IoFlags flags, IoContext context, CopyRecord? record)
    {
        public readonly LogicalUnit Source = source;
        public readonly LogicalUnit Destination = destination;
        public readonly ulong SourceLba = sourceLba;
        public readonly ulong DestinationLba = destinationLba;
        public readonly long Bytes = bytes;
        public readonly IoFlags Flags = flags;
        public readonly IoContext Context = context;
        public readonly CopyRecord? Record = record;
        public long NextChunk = -1;
        public volatile bool Failed;
    }

    /// <summary>Copies one block-to-block segment; returns the COPY ABORTED sense code when it cannot.</summary>
    private async ValueTask<SenseCode?> CopySegment(ScsiTask task, CopyTarget[] targets, int at, CopyRecord? record)
    {
        var (dc, sourceIndex, destinationIndex, blocks, sourceLba, destinationLba) = ReadSegment(task.DataOut.Span.Slice(at, BlockToBlockLength));
        if (sourceIndex >= targets.Length || destinationIndex >= targets.Length
            || targets[sourceIndex].Unit is not LogicalUnit source || targets[destinationIndex].Unit is not LogicalUnit destination)
            return SenseCode.CopyTargetDeviceNotReachable;
        long bytes = (long)blocks * (dc ? destination.BlockSize : source.BlockSize);
        if (bytes % source.BlockSize != 0 || bytes % destination.BlockSize != 0)
            return SenseCode.CopyAborted;
        if (!source.InRange(sourceLba, (ulong)(bytes / source.BlockSize)) || !destination.InRange(destinationLba, (ulong)(bytes / destination.BlockSize)))
            return SenseCode.CopyAborted;
        if (bytes == 0)
            return null;
        // The copy acts for the nexus that sent it: the destination must be writable and neither unit reserved against it.
        if (destination.WriteProtected || destination.Stopped || source.Stopped
            || source.ConflictsForCopy(task.Nexus, write: false) || destination.ConflictsForCopy(task.Nexus, write: true))
            return SenseCode.CopyAborted;

        var copy = new SegmentCopy(source, destination, sourceLba, destinationLba, bytes, destination.WriteFlags(fua: false, dpo: false), task.Nexus.IoContext, record);
        long chunks = (bytes + CopyChunkBytes - 1) / CopyChunkBytes;
        if (chunks == 1)
            return await CopyChunks(copy).ConfigureAwait(false);
        // The vDisk may complete synchronously (a file read or write): the lanes run on the thread pool to overlap.
        var lanes = new Task<SenseCode?>[(int)Math.Min(CopyLanes, chunks)];
        for (int i = 0; i < lanes.Length; i++)
            lanes[i] = Task.Run(() => CopyChunks(copy));
        await Task.WhenAll(lanes).ConfigureAwait(false);
        foreach (var lane in lanes)
            if (lane.Result is SenseCode failure)
                return failure;
        return null;
    }

    /// <summary>One lane: takes the next chunk, reads it under a lease of the source's gate, writes it under one of the destination's.</summary>
    private static async Task<SenseCode?> CopyChunks(SegmentCopy copy)
    {
        var source = copy.Source;
        var destination = copy.Destination;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyChunkBytes);
        try
        {
            while (!copy.Failed)
            {
                long done = Interlocked.Increment(ref copy.NextChunk) * CopyChunkBytes;
                if (done >= copy.Bytes)
                    return null;
                int n = (int)Math.Min(CopyChunkBytes, copy.Bytes - done);
                ulong from = copy.SourceLba + (ulong)(done / source.BlockSize);
                ulong to = copy.DestinationLba + (ulong)(done / destination.BlockSize);
                // Within a deduplicating container whole blocks are copied as references to what is stored.
                long byReference = await CopyByReference(copy, from, to, n).ConfigureAwait(false);
                if (byReference > 0 && copy.Record is not null)
                    Interlocked.Add(ref copy.Record.BytesTransferred, byReference);
                if (byReference >= n)
                    continue;
                from += (ulong)(byReference / source.BlockSize);
                to += (ulong)(byReference / destination.BlockSize);
                n -= (int)byReference;
                var chunk = buffer.AsMemory(0, n);

                var lease = await source.AcquireRange(from, (ulong)(n / source.BlockSize), exclusive: false).ConfigureAwait(false);
                IoStatus status;
                try
                {
                    status = await source._vdisk.ReadAsync((long)from * source.BlockSize, chunk, copy.Context).ConfigureAwait(false);
                }
                finally
                {
                    source._gate.Release(lease);
                }
                if (status == IoStatus.Ok)
                {
                    lease = await destination.AcquireRange(to, (ulong)(n / destination.BlockSize), exclusive: false).ConfigureAwait(false);
                    try
                    {
                        status = await destination._vdisk.WriteAsync((long)to * destination.BlockSize, chunk, copy.Flags, copy.Context).ConfigureAwait(false);
                    }
                    finally
                    {
                        destination._gate.Release(lease);
                    }
                }
                if (status != IoStatus.Ok)
                {
                    copy.Failed = true;
                    return SenseCode.CopyAborted;
                }
                if (copy.Record is not null)
                    Interlocked.Add(ref copy.Record.BytesTransferred, n);
            }
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Bytes of the chunk done as a copy by reference (both ranges leased meanwhile), or 0.</summary>
    private static async ValueTask<long> CopyByReference(SegmentCopy copy, ulong from, ulong to, int n)
    {
        var source = copy.Source;
        var destination = copy.Destination;
        var sourceLease = await source.AcquireRange(from, (ulong)(n / source.BlockSize), exclusive: false).ConfigureAwait(false);
        try
        {
            var lease = await destination.AcquireRange(to, (ulong)(n / destination.BlockSize), exclusive: false).ConfigureAwait(false);
            try
            {
                return await destination._vdisk.CopyByReferenceAsync(source._vdisk, (long)from * source.BlockSize, (long)to * destination.BlockSize, n, copy.Context).ConfigureAwait(false);
            }
            finally
            {
                destination._gate.Release(lease);
            }
        }
        finally
        {
            source._gate.Release(sourceLease);
        }
    }

    private static (bool Dc, int Source, int Destination, uint Blocks, ulong SourceLba, ulong DestinationLba) ReadSegment(ReadOnlySpan<byte> d) =>
        ((d[1] & 0x02) != 0,
            BinaryPrimitives.ReadUInt16BigEndian(d[4..]),
            BinaryPrimitives.ReadUInt16BigEndian(d[6..]),
            BinaryPrimitives.ReadUInt16BigEndian(d[10..]),
            BinaryPrimitives.ReadUInt64BigEndian(d[12..]),
            BinaryPrimitives.ReadUInt64BigEndian(d[20..]));

    /// <summary>Whether the range lies within the unit (no task to report to: the copy manager's own check).</summary>
    private bool InRange(ulong lba, ulong blocks)
    {
        ulong count = BlockCount;
        return lba <= count && blocks <= count - lba;
    }

    /// <summary>
    /// Whether a reservation keeps the copy manager, acting for <paramref name="nexus"/>, from reading or writing
    /// this unit: the table every command goes through, for a read or a write.
    /// </summary>
    internal bool ConflictsForCopy(ITNexus nexus, bool write)
    {
        if (!_reservationActive)
            return false;
        lock (_prLock)
        {
            if (_spc2Holder != 0)
                return _spc2Holder != nexus.Id;
            if (_prType == 0)
                return false;
            var registration = FindRegistration(nexus);
            if (IsHolder(registration))
                return false;
            return _prType switch
            {
                PrWriteExclusive => write,
                PrExclusiveAccess => true,
                PrWriteExclusiveRegistrantsOnly or PrWriteExclusiveAllRegistrants => registration is null && write,
                _ => registration is null,
            };
        }
    }

    // ---------------------------------------------------------------- RECEIVE COPY RESULTS
    //
    // 84h, byte 1 SERVICE ACTION, byte 2 LIST IDENTIFIER, bytes 10..13 ALLOCATION LENGTH
    //   00h COPY STATUS: AVAILABLE DATA (4) = 8, HDD | COPY MANAGER STATUS, SEGMENTS PROCESSED (2),
    //       TRANSFER COUNT UNITS, TRANSFER COUNT (4)
    //   01h RECEIVE DATA: AVAILABLE DATA (4), held data (none is ever held here)
    //   03h OPERATING PARAMETERS: the copy manager's limits (below)
    //   04h FAILED SEGMENT DETAILS: AVAILABLE DATA (4), reserved to byte 55, COPY COMMAND STATUS, reserved,
    //       SENSE DATA LENGTH (2), sense data

    private void ReceiveCopyResults(ScsiTask task)
    {
        int serviceAction = task.CdbBuffer[1] & 0x1F;
        byte listId = task.CdbBuffer[2];
        uint allocation = task.CdbUInt32(10);
        if (serviceAction == 0x03)
        {
            CopyOperatingParameters(task);
        }
        else
        {
            // The LIST IDENTIFIER must name a copy this nexus started (and did not mark LIST ID USAGE 11b).
            if (!_copyResults.TryGetValue((task.Nexus.Id, listId), out var record))
            {
                task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2, 7));
                return;
            }
            switch (serviceAction)
            {
                case 0x00:
                {
                    var d = task.AllocateDataIn(12);
                    BinaryPrimitives.WriteUInt32BigEndian(d, 8);
                    d[4] = record.Status;
                    BinaryPrimitives.WriteUInt16BigEndian(d[5..], record.SegmentsProcessed);
                    long count = Interlocked.Read(ref record.BytesTransferred);
                    byte units = 0;
                    while (count > uint.MaxValue)
                    {
                        count >>= 10; // 01h kibibytes, 02h mebibytes, ...
                        units++;
                    }
                    d[7] = units;
                    BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)count);
                    break;
                }
                case 0x01:
                    task.AllocateDataIn(4);
                    break;
                default: // 04h FAILED SEGMENT DETAILS
                {
                    var sense = record.Status == 2 ? record.Sense ?? [] : [];
                    if (sense.Length == 0)
                    {
                        task.AllocateDataIn(4);
                        break;
                    }
                    var d = task.AllocateDataIn(60 + sense.Length);
                    BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(56 + sense.Length));
                    d[56] = (byte)ScsiStatus.CheckCondition;
                    BinaryPrimitives.WriteUInt16BigEndian(d[58..], (ushort)sense.Length);
                    sense.CopyTo(d[60..]);
                    break;
                }
            }
        }
        task.CompleteDataIn(allocation);
        task.SetGood();
    }

    private void CopyOperatingParameters(ScsiTask task)
    {
        ReadOnlySpan<byte> implemented = [SegmentBlockToBlock, CscdIdentification];
        var d = task.AllocateDataIn(44 + implemented.Length);
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(d.Length - 4));
        d[4] = 0x01; // SNLID: LIST ID USAGE 11b (no list identifier) is supported
        BinaryPrimitives.WriteUInt16BigEndian(d[8..], MaxCscdDescriptors); // MAXIMUM CSCD DESCRIPTOR COUNT
        BinaryPrimitives.WriteUInt16BigEndian(d[10..], MaxSegmentDescriptors); // MAXIMUM SEGMENT DESCRIPTOR COUNT
        BinaryPrimitives.WriteUInt32BigEndian(d[12..], MaxDescriptorListLength); // MAXIMUM DESCRIPTOR LIST LENGTH
        BinaryPrimitives.WriteUInt32BigEndian(d[16..], (uint)(ushort.MaxValue * BlockSize)); // MAXIMUM SEGMENT LENGTH
        // MAXIMUM INLINE DATA LENGTH, HELD DATA LIMIT, MAXIMUM STREAM DEVICE TRANSFER SIZE: zero (none).
        BinaryPrimitives.WriteUInt16BigEndian(d[34..], MaxCopyResults); // TOTAL CONCURRENT COPIES
        d[36] = byte.MaxValue; // MAXIMUM CONCURRENT COPIES
        d[37] = (byte)BlockShift; // DATA SEGMENT GRANULARITY (log2 bytes)
        d[43] = (byte)implemented.Length; // IMPLEMENTED DESCRIPTOR LIST LENGTH
        implemented.CopyTo(d[44..]);
    }

    /// <summary>A nexus is gone: so are the copy results it could have asked for.</summary>
    private void ForgetCopyResults(ITNexus nexus)
    {
        foreach (var key in _copyResults.Keys)
            if (key.Nexus == nexus.Id)
                _copyResults.TryRemove(key, out _);
    }
}
