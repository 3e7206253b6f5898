namespace StorageAppliance.Protocols.Scsi;

/// <summary>A sense key with its additional sense code and qualifier (SPC-4 table D.1).</summary>
public readonly record struct SenseCode(SenseKey Key, byte Asc, byte Ascq)
{
    public static readonly SenseCode NoSense = new(SenseKey.NoSense, 0x00, 0x00);

    // ILLEGAL REQUEST
    public static readonly SenseCode InvalidOpcode = new(SenseKey.IllegalRequest, 0x20, 0x00);
    public static readonly SenseCode LbaOutOfRange = new(SenseKey.IllegalRequest, 0x21, 0x00);
    public static readonly SenseCode InvalidFieldInCdb = new(SenseKey.IllegalRequest, 0x24, 0x00);
    public static readonly SenseCode LogicalUnitNotSupported = new(SenseKey.IllegalRequest, 0x25, 0x00);
    public static readonly SenseCode InvalidFieldInParameterList = new(SenseKey.IllegalRequest, 0x26, 0x00);
    public static readonly SenseCode ParameterListLengthError = new(SenseKey.IllegalRequest, 0x1A, 0x00);
    public static readonly SenseCode SavingParametersNotSupported = new(SenseKey.IllegalRequest, 0x39, 0x00);
    public static readonly SenseCode InvalidFieldInInformationUnit = new(SenseKey.IllegalRequest, 0x0E, 0x03);
    public static readonly SenseCode MediumRemovalPrevented = new(SenseKey.IllegalRequest, 0x53, 0x02);
    public static readonly SenseCode InvalidCommandOperationCode = InvalidOpcode;
    public static readonly SenseCode InvalidReleaseOfPersistentReservation = new(SenseKey.IllegalRequest, 0x26, 0x04);
    public static readonly SenseCode InsufficientRegistrationResources = new(SenseKey.IllegalRequest, 0x55, 0x04);
    public static readonly SenseCode TooManyTargetDescriptors = new(SenseKey.IllegalRequest, 0x26, 0x06);
    public static readonly SenseCode UnsupportedTargetDescriptorTypeCode = new(SenseKey.IllegalRequest, 0x26, 0x07);
    public static readonly SenseCode TooManySegmentDescriptors = new(SenseKey.IllegalRequest, 0x26, 0x08);
    public static readonly SenseCode UnsupportedSegmentDescriptorTypeCode = new(SenseKey.IllegalRequest, 0x26, 0x09);
    public static readonly SenseCode OperationInProgress = new(SenseKey.IllegalRequest, 0x00, 0x16);

    // UNIT ATTENTION
    public static readonly SenseCode PowerOnResetOrBusDeviceReset = new(SenseKey.UnitAttention, 0x29, 0x00);
    public static readonly SenseCode PowerOnOccurred = new(SenseKey.UnitAttention, 0x29, 0x01);
    public static readonly SenseCode BusDeviceResetFunctionOccurred = new(SenseKey.UnitAttention, 0x29, 0x03);
    public static readonly SenseCode ItNexusLossOccurred = new(SenseKey.UnitAttention, 0x29, 0x07);
    public static readonly SenseCode ModeParametersChanged = new(SenseKey.UnitAttention, 0x2A, 0x01);
    public static readonly SenseCode CapacityDataHasChanged = new(SenseKey.UnitAttention, 0x2A, 0x09);
    public static readonly SenseCode ReportedLunsDataHasChanged = new(SenseKey.UnitAttention, 0x3F, 0x0E);
    public static readonly SenseCode CommandsClearedByAnotherInitiator = new(SenseKey.UnitAttention, 0x2F, 0x00);
    public static readonly SenseCode ReservationsPreempted = new(SenseKey.UnitAttention, 0x2A, 0x03);
    public static readonly SenseCode ReservationsReleased = new(SenseKey.UnitAttention, 0x2A, 0x04);
    public static readonly SenseCode RegistrationsPreempted = new(SenseKey.UnitAttention, 0x2A, 0x05);

    // NOT READY
    public static readonly SenseCode NotReadyInitializingCommandRequired = new(SenseKey.NotReady, 0x04, 0x02);
    public static readonly SenseCode MediumNotPresent = new(SenseKey.NotReady, 0x3A, 0x00);
    public static readonly SenseCode LogicalUnitNotReadyManualIntervention = new(SenseKey.NotReady, 0x04, 0x03);

    // MEDIUM ERROR
    public static readonly SenseCode UnrecoveredReadError = new(SenseKey.MediumError, 0x11, 0x00);
    public static readonly SenseCode WriteError = new(SenseKey.MediumError, 0x0C, 0x00);

    // DATA PROTECT
    public static readonly SenseCode WriteProtected = new(SenseKey.DataProtect, 0x27, 0x00);
    public static readonly SenseCode SoftwareWriteProtected = new(SenseKey.DataProtect, 0x27, 0x02);
    public static readonly SenseCode SpaceAllocationFailedWriteProtect = new(SenseKey.DataProtect, 0x27, 0x07);

    // MISCOMPARE
    public static readonly SenseCode MiscompareDuringVerify = new(SenseKey.Miscompare, 0x1D, 0x00);

    // COPY ABORTED (EXTENDED COPY): the copy failed while segments were processed
    public static readonly SenseCode CopyAborted = new(SenseKey.CopyAborted, 0x00, 0x00);
    public static readonly SenseCode CopyTargetDeviceNotReachable = new(SenseKey.CopyAborted, 0x0D, 0x02);
    public static readonly SenseCode UnreachableCopyTarget = new(SenseKey.CopyAborted, 0x08, 0x04);

    // ABORTED COMMAND
    public static readonly SenseCode ProtocolServiceCrcError = new(SenseKey.AbortedCommand, 0x47, 0x05);
    public static readonly SenseCode InitiatorDetectedErrorMessage = new(SenseKey.AbortedCommand, 0x48, 0x00);
    public static readonly SenseCode CommandPhaseError = new(SenseKey.AbortedCommand, 0x4A, 0x00);
    public static readonly SenseCode DataPhaseError = new(SenseKey.AbortedCommand, 0x4B, 0x00);
    public static readonly SenseCode InternalTargetFailure = new(SenseKey.HardwareError, 0x44, 0x00);

    public override string ToString() => $"{Key}/{Asc:x2}/{Ascq:x2}";
}
