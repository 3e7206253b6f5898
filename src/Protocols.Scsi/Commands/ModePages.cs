using System.Buffers.Binary;

namespace StorageAppliance.Protocols.Scsi;

// Mode parameters (SPC-4 and SBC-3 mode parameters clauses): the pages this unit keeps, shared by every I_T nexus.
//
//   Caching (08h, SBC-3), 20 bytes                   Control (0Ah, SPC-4), 12 bytes
//   +----+--------------------------------------+   +------+-------------------------------------------+
//   | 0  | PS | SPF | PAGE CODE (08h)           |   |  0   | PS | SPF | PAGE CODE (0Ah)               |
//   | 1  | PAGE LENGTH (12h)                    |   |  1   | PAGE LENGTH (0Ah)                         |
//   | 2  | IC ABPF CAP DISC SIZE WCE MF RCD     |   |  2   | TST | TMF_ONLY DPICZ D_SENSE GLTSD RLEC   |
//   | 3  | READ / WRITE RETENTION PRIORITY      |   |  3   | QUEUE ALGORITHM MODIFIER | NUAR | QERR    |
//   |4-11| pre-fetch lengths                    |   |  4   | VS RAC UA_INTLCK_CTRL SWP                 |
//   | 12 | FSW LBCSS DRA ... NV_DIS             |   |  5   | ATO TAS ATMPE RWWP | AUTOLOAD MODE        |
//   |13-19| cache segments                      |   | 8-9  | BUSY TIMEOUT PERIOD                       |
//   +----+--------------------------------------+   |10-11 | EXTENDED SELF-TEST COMPLETION TIME        |
//                                                   +------+-------------------------------------------+
//   Informational Exceptions Control (1Ch, SPC-4), 12 bytes:
//     byte 2 PERF EBF EWASC DEXCPT TEST EBACKERR LOGERR, byte 3 MRIE, 4-7 INTERVAL TIMER, 8-11 REPORT COUNT
//
// Changeable: WCE (honoured: with WCE=0 every write carries ForceUnitAccess), D_SENSE (descriptor-format
// sense), SWP (software write protect). Nothing is saveable, so PS is zero in every page.
public sealed partial class LogicalUnit
{
    internal const byte CachingModePage = 0x08;
    internal const byte ControlModePage = 0x0A;
    internal const byte InformationalExceptionsModePage = 0x1C;
    internal const byte AllModePages = 0x3F;

    /// <summary>The PC field of MODE SENSE (SPC-4 6.11, table 100).</summary>
    internal enum PageControl : byte
    {
        Current = 0,
        Changeable = 1,
        Default = 2,
        Saved = 3,
    }

    /// <summary>Page codes in the order "return all pages" lists them (ascending).</summary>
    private static ReadOnlySpan<byte> ModePagesSupported => [CachingModePage, ControlModePage, InformationalExceptionsModePage];

    /// <summary>Length of a whole page including its 2-byte header, or 0 for a page this unit lacks.</summary>
    internal static int ModePageLength(byte pageCode) => pageCode switch
    {
        CachingModePage => 20,
        ControlModePage => 12,
        InformationalExceptionsModePage => 12,
        _ => 0,
    };

    /// <summary>The mode parameter values a MODE SELECT can change, as one snapshot.</summary>
    private readonly record struct ModeValues(bool WriteCacheEnabled, bool DescriptorSense, bool SoftwareWriteProtect);

    private ModeValues CurrentModeValues => new(_writeCacheEnabled, _descriptorSense, _softwareWriteProtect);

    private ModeValues DefaultModeValues => new(Options.WriteCacheEnabled, false, false);

    /// <summary>Writes one page (header included) into <paramref name="page"/>, which is exactly its length.</summary>
    private void WriteModePage(byte pageCode, PageControl pc, Span<byte> page)
    {
        page.Clear();
        page[0] = pageCode; // PS = 0: not saveable; SPF = 0
        page[1] = (byte)(page.Length - 2);
        var values = pc == PageControl.Default ? DefaultModeValues : CurrentModeValues;
        switch (pageCode)
        {
            case CachingModePage:
                if (pc == PageControl.Changeable)
                {
                    page[2] = 0x04; // WCE
                    break;
                }
                if (values.WriteCacheEnabled)
                    page[2] |= 0x04;
                // RCD = 0: reads may be served from the cache below the vDisk; no pre-fetch tuning fields.
                break;
            case ControlModePage:
                if (pc == PageControl.Changeable)
                {
                    page[2] = 0x04; // D_SENSE
                    page[4] = 0x08; // SWP
                    break;
                }
                if (values.DescriptorSense)
                    page[2] |= 0x04;
                // QUEUE ALGORITHM MODIFIER 1h: commands of a nexus may be processed in any order (they are,
                // concurrently); QERR 00b; TST 000b (one task set shared by all nexuses).
                page[3] = 0x10;
                if (values.SoftwareWriteProtect)
                    page[4] |= 0x08;
                BinaryPrimitives.WriteUInt16BigEndian(page[8..], 0xFFFF); // BUSY TIMEOUT PERIOD: unlimited
                break;
            case InformationalExceptionsModePage:
                if (pc == PageControl.Changeable)
                    break;
                page[2] = 0x08; // DEXCPT: no informational exception reporting; MRIE 0h
                break;
        }
    }
}
