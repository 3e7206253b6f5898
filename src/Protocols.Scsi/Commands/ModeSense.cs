using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// MODE SENSE (6) and (10) (SPC-4 6.11, 6.12); the mode parameter header (SPC-4) and block descriptors (SBC-3).
//
//   MODE SENSE (6):  byte 1 DBD (bit 3), byte 2 PC (7:6) | PAGE CODE (5:0), byte 3 SUBPAGE CODE, byte 4 ALLOCATION LENGTH
//   MODE SENSE (10): byte 1 LLBAA (bit 4) | DBD (bit 3), bytes 2-3 as above, bytes 7..8 ALLOCATION LENGTH
//
//   header (6):  MODE DATA LENGTH, MEDIUM TYPE, DEVICE-SPECIFIC PARAMETER (WP bit 7, DPOFUA bit 4), BLOCK DESCRIPTOR LENGTH
//   header (10): MODE DATA LENGTH (2), MEDIUM TYPE, DEVICE-SPECIFIC PARAMETER, LONGLBA (bit 0), reserved, BLOCK DESCRIPTOR LENGTH (2)
//   short block descriptor (8):  NUMBER OF LOGICAL BLOCKS (4), reserved, LOGICAL BLOCK LENGTH (3)
//   long LBA block descriptor (16): NUMBER OF LOGICAL BLOCKS (8), reserved (4), LOGICAL BLOCK LENGTH (4)
public sealed partial class LogicalUnit
{
    /// <summary>Largest MODE SENSE answer: 8-byte header, long block descriptor, every page.</summary>
    private const int MaxModeSenseLength = 8 + 16 + 20 + 12 + 12;

    private void ModeSense(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool six = cdb[0] == ScsiOpcode.ModeSense6;
        bool dbd = (cdb[1] & 0x08) != 0;
        bool llbaa = !six && (cdb[1] & 0x10) != 0;
        var pc = (PageControl)(cdb[2] >> 6);
        byte pageCode = (byte)(cdb[2] & 0x3F);
        byte subpage = cdb[3];
        uint allocation = six ? cdb[4] : task.CdbUInt16(7);

        // SPC-4 6.11: saved values (PC 11b) from a unit that implements no saving end the command with CHECK
        // CONDITION, ILLEGAL REQUEST, SAVING PARAMETERS NOT SUPPORTED.
        if (pc == PageControl.Saved)
        {
            task.SetCheckCondition(SenseCode.SavingParametersNotSupported, DescriptorSense, null, SenseKeySpecific.CdbField(2, 7));
            return;
        }
        if (pageCode != AllModePages && ModePageLength(pageCode) == 0)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2, 5));
            return;
        }
        // No page here has subpages: subpage 00h asks for the page itself, FFh for it "and all its subpages".
        if (subpage is not (0x00 or 0xFF))
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(3, 7));
            return;
        }

        Span<byte> d = stackalloc byte[MaxModeSenseLength];
        d.Clear();
        int header = six ? 4 : 8;
        int pos = header;
        byte deviceSpecific = (byte)(0x10 | (WriteProtected ? 0x80 : 0)); // DPOFUA: DPO and FUA are honoured
        int descriptorLength = dbd ? 0 : llbaa ? 16 : 8;
        if (descriptorLength != 0)
        {
            var bd = d.Slice(pos, descriptorLength);
            if (pc != PageControl.Changeable) // nothing in the block descriptor can be changed
            {
                ulong blocks = BlockCount;
                if (llbaa)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(bd, blocks);
                    BinaryPrimitives.WriteUInt32BigEndian(bd[12..], (uint)BlockSize);
                }
                else
                {
                    // SBC-3, block descriptors: more blocks than fit in 32 bits are reported as FFFFFFFFh.
                    BinaryPrimitives.WriteUInt32BigEndian(bd, blocks > uint.MaxValue ? uint.MaxValue : (uint)blocks);
                    bd[5] = (byte)(BlockSize >> 16);
                    bd[6] = (byte)(BlockSize >> 8);
                    bd[7] = (byte)BlockSize;
                }
            }
            pos += descriptorLength;
        }
        foreach (byte code in ModePagesSupported)
        {
            if (pageCode != AllModePages && pageCode != code)
                continue;
            int length = ModePageLength(code);
            WriteModePage(code, pc, d.Slice(pos, length));
            pos += length;
        }

        if (six)
        {
            d[0] = (byte)(pos - 1);
            d[2] = deviceSpecific;
            d[3] = (byte)descriptorLength;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)(pos - 2));
            d[3] = deviceSpecific;
            d[4] = (byte)(llbaa ? 0x01 : 0x00); // LONGLBA
            BinaryPrimitives.WriteUInt16BigEndian(d[6..], (ushort)descriptorLength);
        }
        d[..pos].CopyTo(task.AllocateDataIn(pos, clear: false));
        task.CompleteDataIn(allocation);
        task.SetGood();
    }
}
