using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// MODE SELECT (6) and (10) (SPC-4 6.9, 6.10)
//
//   MODE SELECT (6):  byte 1 PF (bit 4) | SP (bit 0), byte 4 PARAMETER LIST LENGTH
//   MODE SELECT (10): byte 1 PF | SP, bytes 7..8 PARAMETER LIST LENGTH
//
//   parameter list: mode parameter header (4 or 8 bytes, as in MODE SENSE), zero or one block descriptor,
//   then mode pages, each "PS | SPF | PAGE CODE, PAGE LENGTH, parameters".
//
// The whole list is validated before anything changes, so a command that fails changes no parameter; a change
// that took effect is announced to every other I_T nexus with MODE PARAMETERS CHANGED.
public sealed partial class LogicalUnit
{
    private void ModeSelect(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool six = cdb[0] == ScsiOpcode.ModeSelect6;
        bool pageFormat = (cdb[1] & 0x10) != 0;
        bool savePages = (cdb[1] & 0x01) != 0;
        int listLength = six ? cdb[4] : task.CdbUInt16(7);

        // SPC-4 6.9: "If the logical unit does not implement saved mode pages and the SP bit is set to one,
        // then the command shall be terminated with CHECK CONDITION status, with the sense key set to ILLEGAL
        // REQUEST, and the additional sense code set to INVALID FIELD IN CDB."
        if (savePages)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 0));
            return;
        }
        task.TransferLength = listLength;
        // "A parameter list length of zero specifies that the Data-Out Buffer shall be empty. This condition
        // shall not be considered as an error."
        if (listLength == 0)
        {
            task.SetGood();
            return;
        }
        var list = task.DataOut.Span[..Math.Min(listLength, task.DataOut.Length)];
        if (list.Length < listLength)
        {
            ParameterListLengthError(task);
            return;
        }

        int header = six ? 4 : 8;
        // "If the parameter list length results in the truncation of any mode parameter header, mode parameter
        // block descriptor(s), or mode page, then the command shall be terminated with ... PARAMETER LIST
        // LENGTH ERROR."
        if (list.Length < header)
        {
            ParameterListLengthError(task);
            return;
        }
        int mediumTypeAt = six ? 1 : 2;
        if (list[mediumTypeAt] != 0)
        {
            InvalidParameter(task, mediumTypeAt, 7);
            return;
        }
        // MODE DATA LENGTH and the device-specific parameter (WP, DPOFUA) are reserved for MODE SELECT and
        // ignored, since initiators commonly send back what MODE SENSE returned.
        bool longLba = !six && (list[4] & 0x01) != 0;
        int descriptorLength = six ? list[3] : BinaryPrimitives.ReadUInt16BigEndian(list[6..]);
        int descriptorLengthAt = six ? 3 : 6;
        if (descriptorLength != 0 && descriptorLength != (longLba ? 16 : 8))
        {
            InvalidParameter(task, descriptorLengthAt, 7);
            return;
        }
        if (list.Length < header + descriptorLength)
        {
            ParameterListLengthError(task);
            return;
        }
        if (descriptorLength != 0 && !CheckBlockDescriptor(task, list.Slice(header, descriptorLength), header, longLba))
            return;

        int pos = header + descriptorLength;
        if (!pageFormat && pos < list.Length)
        {
            // PF=0 would make the pages vendor specific; this unit only knows the SPC-4 page format.
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 4));
            return;
        }

        var requested = CurrentModeValues;
        Span<byte> current = stackalloc byte[20];
        Span<byte> changeable = stackalloc byte[20];
        while (pos < list.Length)
        {
            if (list.Length - pos < 2)
            {
                ParameterListLengthError(task);
                return;
            }
            byte first = list[pos];
            // SPC-4, mode page format: "The parameters saveable (PS) bit is ... reserved with the MODE SELECT command."
            if ((first & 0x80) != 0)
            {
                InvalidParameter(task, pos, 7);
                return;
            }
            // No page here has subpages, so the sub_page format (SPF=1) names a page this unit lacks.
            if ((first & 0x40) != 0)
            {
                InvalidParameter(task, pos, 6);
                return;
            }
            byte code = (byte)(first & 0x3F);
            int length = ModePageLength(code);
            if (length == 0)
            {
                InvalidParameter(task, pos, 5);
                return;
            }
            int pageLength = list[pos + 1] + 2;
            if (list.Length - pos < pageLength)
            {
                ParameterListLengthError(task);
                return;
            }
            if (pageLength != length)
            {
                InvalidParameter(task, pos + 1, 7);
                return;
            }
            var page = list.Slice(pos, length);
            WriteModePage(code, PageControl.Current, current[..length]);
            WriteModePage(code, PageControl.Changeable, changeable[..length]);
            // SPC-4 6.9: a value the device server does not allow to change "shall" end the command with
            // INVALID FIELD IN PARAMETER LIST.
            for (int i = 2; i < length; i++)
            {
                int differs = (page[i] ^ current[i]) & ~changeable[i];
                if (differs != 0)
                {
                    InvalidParameter(task, pos + i, System.Numerics.BitOperations.Log2((uint)differs));
                    return;
                }
            }
            switch (code)
            {
                case CachingModePage:
                    requested = requested with { WriteCacheEnabled = (page[2] & 0x04) != 0 };
                    break;
                case ControlModePage:
                    requested = requested with
                    {
                        DescriptorSense = (page[2] & 0x04) != 0,
                        SoftwareWriteProtect = (page[4] & 0x08) != 0,
                    };
                    break;
            }
            pos += length;
        }

        bool changed;
        lock (_modeLock)
        {
            changed = requested != CurrentModeValues;
            _writeCacheEnabled = requested.WriteCacheEnabled;
            _descriptorSense = requested.DescriptorSense;
            _softwareWriteProtect = requested.SoftwareWriteProtect;
        }
        if (changed)
        {
            ScsiLog.ModeParametersChanged(_log, _vdisk.Name, task.Nexus, requested.WriteCacheEnabled, requested.DescriptorSense, requested.SoftwareWriteProtect);
            // SPC-4 6.9: the device server "shall establish a unit attention condition ... for the initiator
            // port associated with every I_T nexus except the I_T nexus on which the MODE SELECT command was
            // received, with the additional sense code set to MODE PARAMETERS CHANGED".
            EstablishUnitAttentionForAll(SenseCode.ModeParametersChanged, except: task.Nexus);
        }
        task.SetGood();
    }

    /// <summary>
    /// A block descriptor may restate the unit's geometry but not change it: NUMBER OF LOGICAL BLOCKS zero or
    /// the current count (SBC-3, block descriptors: zero keeps the capacity), LOGICAL BLOCK LENGTH the current size.
    /// </summary>
    private bool CheckBlockDescriptor(ScsiTask task, ReadOnlySpan<byte> bd, int at, bool longLba)
    {
        ulong count = BlockCount;
        ulong blocks;
        uint blockLength;
        if (longLba)
        {
            blocks = BinaryPrimitives.ReadUInt64BigEndian(bd);
            blockLength = BinaryPrimitives.ReadUInt32BigEndian(bd[12..]);
        }
        else
        {
            blocks = BinaryPrimitives.ReadUInt32BigEndian(bd);
            if (blocks == uint.MaxValue && count >= uint.MaxValue)
                blocks = count;
            blockLength = (uint)((bd[5] << 16) | (bd[6] << 8) | bd[7]);
        }
        if (blocks != 0 && blocks != count)
        {
            InvalidParameter(task, at, 7);
            return false;
        }
        if (blockLength != (uint)BlockSize)
        {
            InvalidParameter(task, at + (longLba ? 12 : 5), 7);
            return false;
        }
        return true;
    }

    private void InvalidParameter(ScsiTask task, int byteOffset, int bit) =>
        task.SetCheckCondition(SenseCode.InvalidFieldInParameterList, DescriptorSense, null, SenseKeySpecific.ParameterField((ushort)byteOffset, (byte)bit));

    private void ParameterListLengthError(ScsiTask task) =>
        task.SetCheckCondition(SenseCode.ParameterListLengthError, DescriptorSense);
}
