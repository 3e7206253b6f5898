using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// REPORT TARGET PORT GROUPS (SPC-4): MAINTENANCE IN (A3h) / 0Ah
//
//   CDB: byte 1 PARAMETER DATA FORMAT (7:5) | SERVICE ACTION, bytes 6..9 ALLOCATION LENGTH
//   data: RETURN DATA LENGTH (4) [format 001b: FORMAT TYPE (6:4) in byte 4, IMPLICIT TRANSITION TIME, 2 reserved],
//   then per target port group:
//     PREF (7) | ASYMMETRIC ACCESS STATE (3:0); T_SUP O_SUP LBD_SUP U_SUP S_SUP AN_SUP AO_SUP; TARGET PORT GROUP (2);
//     reserved; STATUS CODE; vendor specific; TARGET PORT COUNT; then per port: obsolete (2), RELATIVE TARGET PORT ID (2)
//
// Implicit ALUA (TPGS 01b in standard INQUIRY data) with every path active/optimized: the same vDisk is served
// by every port with the same cost, so a multipath host may spread I/O over all of them. The groups and ports
// are the ones the unit has seen I_T nexuses through (VPD 83h reports the same identifiers per path).
public sealed partial class LogicalUnit
{
    private void ReportTargetPortGroups(ScsiTask task)
    {
        int format = task.CdbBuffer[1] >> 5;
        uint allocation = task.CdbUInt32(6);
        if (format > 1)
        {
            task.SetCheckCondition(SenseCode.InvalidFieldInCdb, DescriptorSense, null, SenseKeySpecific.CdbField(1, 7));
            return;
        }
        // group -> its relative target port identifiers, the asking nexus's port first seen
        var groups = new SortedDictionary<ushort, SortedSet<ushort>>();
        void Add(ITNexus n)
        {
            if (!groups.TryGetValue(n.TargetPortGroup, out var ports))
                groups[n.TargetPortGroup] = ports = new SortedSet<ushort>();
            ports.Add(n.RelativeTargetPortId);
        }
        Add(task.Nexus);
        foreach (var s in _nexusState.Values)
            Add(s.Nexus);

        int length = format == 1 ? 8 : 4;
        foreach (var g in groups.Values)
            length += 8 + 4 * g.Count;
        var d = task.AllocateDataIn(length);
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(length - 4));
        int pos = 4;
        if (format == 1)
        {
            d[4] = 0x10; // FORMAT TYPE 001b
            d[5] = 0; // IMPLICIT TRANSITION TIME: none (states never change)
            pos = 8;
        }
        foreach (var (group, ports) in groups)
        {
            d[pos] = 0x00; // PREF 0, ASYMMETRIC ACCESS STATE 0h: active/optimized
            d[pos + 1] = 0x01; // AO_SUP: the only state a port is ever in
            BinaryPrimitives.WriteUInt16BigEndian(d[(pos + 2)..], group);
            d[pos + 7] = (byte)ports.Count;
            pos += 8;
            foreach (ushort port in ports)
            {
                BinaryPrimitives.WriteUInt16BigEndian(d[(pos + 2)..], port);
                pos += 4;
            }
        }
        task.CompleteDataIn(allocation);
        task.SetGood();
    }
}
