using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// READ CAPACITY (10) (SBC-3 5.15) and READ CAPACITY (16) (SBC-3 5.16)
//
//   (10) CDB: bytes 2..5 LOGICAL BLOCK ADDRESS, byte 8 PMI (bit 0)
//        data: RETURNED LOGICAL BLOCK ADDRESS (4), LOGICAL BLOCK LENGTH IN BYTES (4)
//   (16) CDB: SERVICE ACTION IN (16) / 10h, bytes 2..9 LOGICAL BLOCK ADDRESS, 10..13 ALLOCATION LENGTH, 14 PMI
//        data (32 bytes): RETURNED LOGICAL BLOCK ADDRESS (8), LOGICAL BLOCK LENGTH IN BYTES (4),
//        byte 12 P_TYPE | PROT_EN, byte 13 P_I_EXPONENT | LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT,
//        bytes 14..15 LBPME | LBPRZ | LOWEST ALIGNED LOGICAL BLOCK ADDRESS
public sealed partial class LogicalUnit
{
    /// <summary>log2 of the logical blocks per physical block (<see cref="LogicalUnitOptions.PhysicalBlockSize"/>).</summary>
    internal int PhysicalBlockExponent =>
        Options.PhysicalBlockSize > BlockSize ? System.Numerics.BitOperations.Log2((uint)Options.PhysicalBlockSize) - BlockShift : 0;

    private void ReadCapacity10(ScsiTask task)
    {
        if (!CheckPartialMediumIndicator(task, task.CdbUInt32(2) != 0, pmi: (task.CdbBuffer[8] & 0x01) != 0, lbaField: 2))
            return;
        ulong last = BlockCount == 0 ? 0 : BlockCount - 1;
        var d = task.AllocateDataIn(8);
        // SBC-3: "If the number of logical blocks exceeds the maximum value that is able to be specified in the
        // RETURNED LOGICAL BLOCK ADDRESS field, the device server shall set the ... field to FFFF_FFFFh."
        BinaryPrimitives.WriteUInt32BigEndian(d, last > uint.MaxValue ? uint.MaxValue : (uint)last);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], (uint)BlockSize);
        task.SetGood();
    }

    private void ReadCapacity16(ScsiTask task)
    {
        if (!CheckPartialMediumIndicator(task, task.CdbUInt64(2) != 0, pmi: (task.CdbBuffer[14] & 0x01) != 0, lbaField: 2))
            return;
        uint allocation = task.CdbUInt32(10);
        var d = task.AllocateDataIn(32);
        BinaryPrimitives.WriteUInt64BigEndian(d, BlockCount == 0 ? 0 : BlockCount - 1);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)BlockSize);
        // No protection information (P_TYPE, PROT_EN, P_I_EXPONENT zero). LOGICAL BLOCKS PER PHYSICAL BLOCK
        // EXPONENT as configured: 0 by default (the Block Limits page still asks for 4 KiB alignment through its
        // optimal granularities), 3 for a "512e" unit with 4 KiB physical blocks.
        d[13] = (byte)PhysicalBlockExponent;
        if (ThinProvisioningEnabled)
            d[14] = 0x80 | 0x40; // LBPME: provisioning management; LBPRZ: unmapped blocks read as zeros
        // SBC-3: an allocation length below 32 is not an error; the data is truncated.
        task.CompleteDataIn(allocation);
        task.SetGood();
    }

    /// <summary>
    /// SBC-3: "If the PMI bit is set to zero and the LOGICAL BLOCK ADDRESS field is not set to zero, the device
    /// server shall terminate the command with ... INVALID FIELD IN CDB." With PMI=1 the answer is the last
    /// LBA "after which a substantial delay in data transfer will be encountered": the last one, here.
    /// </summary>
    private bool CheckPartialMediumIndicator(ScsiTask task, bool lbaNonZero, bool pmi, int lbaField)
    {
        if (!pmi && lbaNonZero)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField((ushort)lbaField, 7));
            return false;
        }
        return true;
    }
}
