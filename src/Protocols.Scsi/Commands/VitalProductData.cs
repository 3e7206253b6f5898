using System.Buffers.Binary;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi;

// Vital product data pages returned by INQUIRY with EVPD=1 (SPC-4 and SBC-3 VPD parameters). Every page starts
//   byte 0 PERIPHERAL QUALIFIER | DEVICE TYPE, byte 1 PAGE CODE, bytes 2..3 PAGE LENGTH (n - 3)
//
//   00h Supported VPD Pages (SPC-4)           80h Unit Serial Number (SPC-4)
//   83h Device Identification (SPC-4)         B0h Block Limits (SBC-3)
//   B1h Block Device Characteristics (SBC-3)  B2h Logical Block Provisioning (SBC-3)
//
// Device identification designation descriptor (SPC-4, designation descriptor):
//   byte 0 PROTOCOL IDENTIFIER (7:4) | CODE SET (3:0), byte 1 PIV (7) | ASSOCIATION (5:4) | DESIGNATOR TYPE (3:0),
//   byte 3 DESIGNATOR LENGTH, then the designator.
public sealed partial class LogicalUnit
{
    internal const byte VpdSupportedPages = 0x00;
    internal const byte VpdUnitSerialNumber = 0x80;
    internal const byte VpdDeviceIdentification = 0x83;
    internal const byte VpdBlockLimits = 0xB0;
    internal const byte VpdBlockDeviceCharacteristics = 0xB1;
    internal const byte VpdLogicalBlockProvisioning = 0xB2;

    /// <summary>SPC-4: "The supported VPD page list shall ... be in ascending order."</summary>
    private static ReadOnlySpan<byte> VpdPagesSupported =>
        [VpdSupportedPages, VpdUnitSerialNumber, VpdDeviceIdentification, VpdBlockLimits, VpdBlockDeviceCharacteristics, VpdLogicalBlockProvisioning];

    private const byte ProtocolIscsi = 0x5;
    private const byte CodeSetBinary = 0x1;
    private const byte CodeSetAscii = 0x2;
    private const byte CodeSetUtf8 = 0x3;
    private const byte AssociationLogicalUnit = 0x00;
    private const byte AssociationTargetPort = 0x10;
    private const byte AssociationTargetDevice = 0x20;
    private const byte DesignatorT10VendorId = 0x1;
    private const byte DesignatorNaa = 0x3;
    private const byte DesignatorRelativeTargetPort = 0x4;
    private const byte DesignatorTargetPortGroup = 0x5;
    private const byte DesignatorScsiNameString = 0x8;

    /// <summary>Block Limits and Block Device Characteristics pages are 64 bytes in SBC-3 (PAGE LENGTH 3Ch).</summary>
    private const int BlockLimitsLength = 64;

    private void VitalProductData(ScsiTask task, byte pageCode, uint allocation)
    {
        switch (pageCode)
        {
            case VpdSupportedPages:
            {
                var d = Page(task, pageCode, VpdPagesSupported.Length);
                VpdPagesSupported.CopyTo(d[4..]);
                break;
            }
            case VpdUnitSerialNumber:
            {
                var d = Page(task, pageCode, Math.Min(Options.SerialNumber.Length, 252));
                WriteAscii(d[4..], Options.SerialNumber);
                break;
            }
            case VpdDeviceIdentification:
                DeviceIdentification(task);
                break;
            case VpdBlockLimits:
                BlockLimits(Page(task, pageCode, BlockLimitsLength - 4));
                break;
            case VpdBlockDeviceCharacteristics:
            {
                var d = Page(task, pageCode, BlockLimitsLength - 4);
                BinaryPrimitives.WriteUInt16BigEndian(d[4..], 0x0001); // MEDIUM ROTATION RATE: non-rotating medium
                // VBULS (SBC-4): a verify of an unmapped block compares against the zeros it reads back as.
                d[8] = (byte)(ThinProvisioningEnabled ? 0x01 : 0x00);
                break;
            }
            case VpdLogicalBlockProvisioning:
                LogicalBlockProvisioning(Page(task, pageCode, 4));
                break;
            default:
                // SPC-4 6.6: a VPD page that is not supported ends the command with INVALID FIELD IN CDB.
                task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(2, 7));
                return;
        }
        task.CompleteDataIn(allocation);
        task.SetGood();
    }

    /// <summary>Allocates a VPD page of <paramref name="pageLength"/> bytes after its 4-byte header, and fills the header.</summary>
    private static Span<byte> Page(ScsiTask task, byte pageCode, int pageLength)
    {
        var d = task.AllocateDataIn(4 + pageLength);
        d[0] = 0x00; // connected direct access block device
        d[1] = pageCode;
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], (ushort)pageLength);
        return d;
    }

    /// <summary>
    /// Device Identification (83h): how multipath software and hypervisors recognise this LU through every
    /// port, and which port they came in through.
    /// </summary>
    private void DeviceIdentification(ScsiTask task)
    {
        var nexus = task.Nexus;
        // PIV=1 and protocol identifier 5h (iSCSI) on the port and device names: they are iSCSI names.
        bool iscsi = nexus.IoContext.Protocol == IoProtocol.Iscsi;
        byte protocol = iscsi ? (byte)(ProtocolIscsi << 4) : (byte)0;
        byte piv = iscsi ? (byte)0x80 : (byte)0;
        string portName = Truncate(nexus.TargetPortName);
        string deviceName = Truncate(nexus.TargetDeviceName);
        var naa = Options.NaaDesignator;
        int vendorLength = 8 + Math.Min(Options.SerialNumber.Length, 64);

        int length = 4
            + 4 + naa.Length
            + 4 + vendorLength
            + 4 + NameStringLength(portName)
            + 4 + 4 // relative target port
            + 4 + 4 // target port group
            + 4 + NameStringLength(deviceName);
        var d = task.AllocateDataIn(length);
        d[1] = VpdDeviceIdentification;
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], (ushort)(length - 4));
        int pos = 4;

        // NAA IEEE Registered Extended (NAA 6, 16 bytes): the persistent LU name, the same through every port.
        pos += Designator(d[pos..], CodeSetBinary, AssociationLogicalUnit | DesignatorNaa, naa.Length);
        naa.CopyTo(d[(pos - naa.Length)..]);

        // T10 vendor ID based: T10 VENDOR IDENTIFICATION followed by the unit serial number.
        pos += Designator(d[pos..], CodeSetAscii, AssociationLogicalUnit | DesignatorT10VendorId, vendorLength);
        WriteAscii(d.Slice(pos - vendorLength, 8), Options.VendorId);
        WriteAscii(d.Slice(pos - vendorLength + 8, vendorLength - 8), Options.SerialNumber);

        // SCSI name string of the target port: "iqn...,t,0x0001".
        int portLength = NameStringLength(portName);
        pos += Designator(d[pos..], (byte)(protocol | CodeSetUtf8), (byte)(piv | AssociationTargetPort | DesignatorScsiNameString), portLength);
        WriteNameString(d.Slice(pos - portLength, portLength), portName);

        // Relative target port identifier (SPC-4).
        pos += Designator(d[pos..], (byte)(protocol | CodeSetBinary), (byte)(piv | AssociationTargetPort | DesignatorRelativeTargetPort), 4);
        BinaryPrimitives.WriteUInt16BigEndian(d[(pos - 2)..], nexus.RelativeTargetPortId);

        // Target port group (SPC-4).
        pos += Designator(d[pos..], CodeSetBinary, AssociationTargetPort | DesignatorTargetPortGroup, 4);
        BinaryPrimitives.WriteUInt16BigEndian(d[(pos - 2)..], nexus.TargetPortGroup);

        // SCSI name string of the target device: "iqn...".
        int deviceLength = NameStringLength(deviceName);
        pos += Designator(d[pos..], (byte)(protocol | CodeSetUtf8), (byte)(piv | AssociationTargetDevice | DesignatorScsiNameString), deviceLength);
        WriteNameString(d.Slice(pos - deviceLength, deviceLength), deviceName);

        static string Truncate(string name) => name.Length > 250 ? name[..250] : name;
    }

    /// <summary>Writes a designation descriptor header; returns the descriptor's whole length.</summary>
    private static int Designator(Span<byte> d, byte protocolAndCodeSet, byte pivAssociationType, int designatorLength)
    {
        d[0] = protocolAndCodeSet;
        d[1] = pivAssociationType;
        d[2] = 0;
        d[3] = (byte)designatorLength;
        return 4 + designatorLength;
    }

    /// <summary>
    /// Block Limits (B0h). The unmap limits are reported only when UNMAP is offered; SBC-3: otherwise MAXIMUM
    /// UNMAP LBA COUNT and MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT are zero.
    /// </summary>
    private void BlockLimits(Span<byte> d)
    {
        uint physicalBlocks = (uint)Math.Max(1, 4096 >> BlockShift);
        // WSNZ=0: WRITE SAME with NUMBER OF LOGICAL BLOCKS zero covers the rest of the medium (up to the maximum below).
        d[5] = MaxCompareAndWriteBlocks; // MAXIMUM COMPARE AND WRITE LENGTH
        BinaryPrimitives.WriteUInt16BigEndian(d[6..], (ushort)physicalBlocks); // OPTIMAL TRANSFER LENGTH GRANULARITY
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], MaxTransferBlocks); // MAXIMUM TRANSFER LENGTH
        if (ThinProvisioningEnabled)
        {
            BinaryPrimitives.WriteUInt32BigEndian(d[20..], MaxUnmapBlocks); // MAXIMUM UNMAP LBA COUNT
            BinaryPrimitives.WriteUInt32BigEndian(d[24..], MaxUnmapDescriptors); // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
            BinaryPrimitives.WriteUInt32BigEndian(d[28..], physicalBlocks); // OPTIMAL UNMAP GRANULARITY
        }
        BinaryPrimitives.WriteUInt64BigEndian(d[36..], MaxWriteSameBlocks); // MAXIMUM WRITE SAME LENGTH
        // SBC-4 atomic writes: MAXIMUM ATOMIC TRANSFER LENGTH; ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH
        // GRANULARITY zero (no constraint); no atomic boundaries (the last two fields zero).
        BinaryPrimitives.WriteUInt32BigEndian(d[44..], MaxAtomicTransferBlocks);
    }

    /// <summary>Logical Block Provisioning (B2h), SBC-3.</summary>
    private void LogicalBlockProvisioning(Span<byte> d)
    {
        if (!ThinProvisioningEnabled)
            return; // fully provisioned: PROVISIONING TYPE 000b, no unmap commands
        // LBPU: UNMAP; LBPWS / LBPWS10: WRITE SAME (16) / (10) with UNMAP=1; LBPRZ: unmapped blocks read zeros.
        d[5] = 0x80 | 0x40 | 0x20 | 0x04;
        d[6] = 0x02; // PROVISIONING TYPE: thin provisioned
    }
}
