using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace StorageAppliance.Management.Admin;

/// <summary>The body of <c>PUT /v1/vdisks/{name}/size</c>.</summary>
public sealed record VDiskResizeRequest(long CapacityBytes, bool AllowShrink = false);

/// <summary>
/// The body of every refused request: <c>{"error":"NotFound","message":"..."}</c>. <see cref="Error"/>
/// is an <see cref="AdminError"/> name, or "Internal" for a failure of the appliance itself.
/// </summary>
public sealed record AdminErrorBody(string Error, string Message);

/// <summary>The body of <c>GET /v1/health</c>.</summary>
public sealed record AdminHealth(string Status);

// Source-generated (de)serializers for everything on the admin API, shared by the server and the CLI.
// Strict on input: ctor parameters without a default are required, null is refused where the type
// says non-null, and an unknown property is an error rather than silently ignored (a misspelt
// "allowShrink" must not shrink nothing, or worse, something).
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(VDiskCreateRequest))]
[JsonSerializable(typeof(VDiskResizeRequest))]
[JsonSerializable(typeof(VDiskInfo))]
[JsonSerializable(typeof(IReadOnlyList<VDiskInfo>))]
[JsonSerializable(typeof(AdminErrorBody))]
[JsonSerializable(typeof(AdminHealth))]
[JsonSerializable(typeof(VDiskQosRequest))]
[JsonSerializable(typeof(VDiskQos))]
[JsonSerializable(typeof(ApplianceStats))]
[JsonSerializable(typeof(CuratorScanRequest))]
[JsonSerializable(typeof(CuratorReportInfo))]
[JsonSerializable(typeof(CuratorStatusInfo))]
internal sealed partial class AdminJsonContext : JsonSerializerContext
{
    private static AdminJsonContext? s_wire;
    private static AdminJsonContext? s_indented;
    private static AdminJsonContext? s_tolerant;

    /// <summary>
    /// For writing: messages quote names ('disk0'), and the default encoder would send \u0027 to a
    /// curl user. The API's JSON never lands in HTML, so the relaxed escaping is safe here.
    /// </summary>
    public static AdminJsonContext Wire => s_wire ??= new AdminJsonContext(new JsonSerializerOptions(Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>For output people read (<c>vdisk list --json</c>).</summary>
    public static AdminJsonContext Indented => s_indented ??= new AdminJsonContext(new JsonSerializerOptions(Wire.Options) { WriteIndented = true });

    /// <summary>For reading responses: a newer appliance may add properties an older CLI does not know.</summary>
    public static AdminJsonContext Tolerant => s_tolerant ??= new AdminJsonContext(new JsonSerializerOptions(Default.Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip });
}
