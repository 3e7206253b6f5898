using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using StorageAppliance.Management.Admin;

namespace StorageAppliance.Management.Tests.Admin;

// Every route, error mapping and malformed input of the admin API, over a real Kestrel Unix socket.
public class AdminApiTests
{
    private AdminServer _server = null!;

    private HttpClient Http => _server.Http;

    private FakeApplianceAdmin Admin => _server.Admin;

    [SetUp]
    public async Task StartAsync() => _server = await AdminServer.StartAsync();

    [TearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> BodyAsync(HttpResponseMessage response)
    {
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string error)
    {
        JsonElement body = await BodyAsync(response);
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(status), body.ToString());
            Assert.That(body.GetProperty("error").GetString(), Is.EqualTo(error), body.ToString());
            Assert.That(body.GetProperty("message").GetString(), Is.Not.Empty);
        });
        return body;
    }

    private static string Message(JsonElement error) => error.GetProperty("message").GetString()!;

    // --- routes -------------------------------------------------------------------------------

    [Test]
    public async Task Health_IsOk()
    {
        using HttpResponseMessage r = await Http.GetAsync("/v1/health");

        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await BodyAsync(r)).GetProperty("status").GetString(), Is.EqualTo("ok"));
    }

    [Test]
    public async Task List_ReturnsEveryVDiskWithCamelCaseFields()
    {
        using HttpResponseMessage r = await Http.GetAsync("/v1/vdisks");

        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        JsonElement disk = (await BodyAsync(r)).EnumerateArray().Single();
        Assert.Multiple(() =>
        {
            Assert.That(disk.GetProperty("id").GetInt64(), Is.EqualTo(1));
            Assert.That(disk.GetProperty("name").GetString(), Is.EqualTo("disk0"));
            Assert.That(disk.GetProperty("container").GetString(), Is.EqualTo("default"));
            Assert.That(disk.GetProperty("capacityBytes").GetInt64(), Is.EqualTo(8L << 30));
            Assert.That(disk.GetProperty("usedBytes").GetInt64(), Is.EqualTo(4096));
            Assert.That(disk.GetProperty("allocatedBytes").GetInt64(), Is.EqualTo(1L << 20));
            Assert.That(disk.GetProperty("logicalBlockSize").GetInt32(), Is.EqualTo(512));
            Assert.That(disk.GetProperty("thin").GetBoolean(), Is.True);
            Assert.That(disk.GetProperty("fromConfig").GetBoolean(), Is.True);
            Assert.That(disk.GetProperty("exports")[0].GetString(), Is.EqualTo($"{FakeApplianceAdmin.Target}/0"));
        });
    }

    [Test]
    public async Task Create_Returns201WithLocationAndTheNewVDisk()
    {
        string json = $$"""{"name":"web01","container":"default","capacityBytes":10737418240,"logicalBlockSize":4096,"thin":false,"target":"{{FakeApplianceAdmin.Target}}","lun":3}""";

        using HttpResponseMessage r = await Http.PostAsync("/v1/vdisks", Json(json));

        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(r.Headers.Location?.OriginalString, Is.EqualTo("/v1/vdisks/web01"));
        JsonElement body = await BodyAsync(r);
        Assert.That((body.GetProperty("name").GetString(), body.GetProperty("id").GetInt64(), body.GetProperty("allocatedBytes").GetInt64()),
            Is.EqualTo(("web01", 2L, 10L << 30)));
        Assert.That(Admin.LastCreate, Is.EqualTo(new VDiskCreateRequest("web01", 10L << 30, "default", 4096, false, FakeApplianceAdmin.Target, 3)));
    }

    [Test]
    public async Task Create_WithOnlyTheRequiredFields_TakesTheRecordDefaults()
    {
        using HttpResponseMessage r = await Http.PostAsync("/v1/vdisks", Json($$"""{"name":"a","capacityBytes":1048576,"target":"{{FakeApplianceAdmin.Target}}"}"""));

        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.Created), await r.Content.ReadAsStringAsync());
        Assert.That(Admin.LastCreate, Is.EqualTo(new VDiskCreateRequest("a", 1 << 20, Target: FakeApplianceAdmin.Target)), "no container, no LUN: the appliance picks");
    }

    [TestCase("nfs-0000000000000001", "reserved for the vDisks of NFS files")]
    [TestCase("NFS-x", "reserved for the vDisks of NFS files")]
    [TestCase("a/b", "is not a valid vDisk name")]
    [TestCase("..", "is not a valid vDisk name")]
    [TestCase("", "a vDisk needs a name")]
    public async Task Create_WithANameAgainstTheRule_IsRefusedBeforeTheAppliance(string name, string reason)
    {
        using HttpResponseMessage r = await Http.PostAsync("/v1/vdisks", Json($$"""{"name":"{{name}}","container":"default","capacityBytes":1048576}"""));

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.BadRequest, "Invalid")), Does.Contain(reason));
        Assert.That(Admin.LastCreate, Is.Null, "the API refused it; the appliance was not asked");
    }

    [Test]
    public async Task Resize_PassesSizeAndShrinkAndReturnsTheVDisk()
    {
        using HttpResponseMessage r = await Http.PutAsync("/v1/vdisks/disk0/size", Json("""{"capacityBytes":4294967296,"allowShrink":true}"""));

        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await BodyAsync(r)).GetProperty("capacityBytes").GetInt64(), Is.EqualTo(4L << 30));
        Assert.That(Admin.LastResize, Is.EqualTo(("disk0", 4L << 30, true)));
    }

    [Test]
    public async Task Resize_WithoutAllowShrink_DoesNotAllowIt()
    {
        using HttpResponseMessage r = await Http.PutAsync("/v1/vdisks/disk0/size", Json("""{"capacityBytes":1073741824}"""));

        JsonElement e = await ErrorAsync(r, HttpStatusCode.BadRequest, "Invalid");
        Assert.That(Message(e), Does.Contain("needs allowShrink"));
        Assert.That(Admin.LastResize?.AllowShrink, Is.False);
    }

    [Test]
    public async Task Delete_Returns204AndTheVDiskIsGone()
    {
        (await Http.PostAsync("/v1/vdisks", Json("""{"name":"tmp","container":"default","capacityBytes":1048576}"""))).Dispose();

        using HttpResponseMessage r = await Http.DeleteAsync("/v1/vdisks/tmp");

        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(await r.Content.ReadAsStringAsync(), Is.Empty);
        Assert.That(Admin.Deleted, Is.EqualTo(new[] { "tmp" }));
        Assert.That(Admin.ListVDisks().Select(v => v.Name), Is.EqualTo(new[] { "disk0" }));
    }

    [Test]
    public async Task RouteNames_AreUnescaped()
    {
        (await Http.PostAsync("/v1/vdisks", Json("""{"name":"db.v2_x-1","container":"default","capacityBytes":1048576}"""))).Dispose();

        using HttpResponseMessage r = await Http.DeleteAsync("/v1/vdisks/db%2Ev2_x-1");

        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(Admin.Deleted, Is.EqualTo(new[] { "db.v2_x-1" }));
    }

    // --- AdminException mapping ---------------------------------------------------------------

    [Test]
    public async Task NotFound_Is404()
    {
        using HttpResponseMessage r = await Http.DeleteAsync("/v1/vdisks/nope");

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.NotFound, "NotFound")), Is.EqualTo("no vDisk is named 'nope'"));
        // Quotes stay readable for curl users (no \u0027).
        Assert.That(await r.Content.ReadAsStringAsync(), Is.EqualTo("""{"error":"NotFound","message":"no vDisk is named 'nope'"}"""));
    }

    [Test]
    public async Task Conflict_Is409()
    {
        using HttpResponseMessage r = await Http.PostAsync("/v1/vdisks", Json("""{"name":"disk0","container":"default","capacityBytes":1048576}"""));

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.Conflict, "Conflict")), Is.EqualTo("a vDisk named 'disk0' exists"));
    }

    [Test]
    public async Task DeletingAConfigDefinedVDisk_Is409()
    {
        using HttpResponseMessage r = await Http.DeleteAsync("/v1/vdisks/disk0");

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.Conflict, "Conflict")), Does.Contain("defined in the config file"));
    }

    [Test]
    public async Task Invalid_Is400()
    {
        using HttpResponseMessage r = await Http.PostAsync("/v1/vdisks", Json("""{"name":"bad name","container":"default","capacityBytes":1048576}"""));

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.BadRequest, "Invalid")), Is.EqualTo($"'bad name' is not a valid vDisk name: use {VDiskNames.Rule}"));
    }

    [Test]
    public async Task NoSpace_Is507()
    {
        using HttpResponseMessage r = await Http.PostAsync("/v1/vdisks", Json("""{"name":"big","container":"small","capacityBytes":2147483648,"thin":false}"""));

        await ErrorAsync(r, HttpStatusCode.InsufficientStorage, "NoSpace");
    }

    [Test]
    public async Task Unavailable_Is503_OnEveryVDiskRoute()
    {
        Admin.Starting = true;

        using HttpResponseMessage list = await Http.GetAsync("/v1/vdisks");
        using HttpResponseMessage create = await Http.PostAsync("/v1/vdisks", Json("""{"name":"a","container":"default","capacityBytes":512}"""));
        using HttpResponseMessage resize = await Http.PutAsync("/v1/vdisks/disk0/size", Json("""{"capacityBytes":512}"""));
        using HttpResponseMessage delete = await Http.DeleteAsync("/v1/vdisks/disk0");

        foreach (HttpResponseMessage r in new[] { list, create, resize, delete })
            Assert.That(Message(await ErrorAsync(r, HttpStatusCode.ServiceUnavailable, "Unavailable")), Is.EqualTo("the appliance is starting"));
    }

    [Test]
    public async Task Refusals_AreLoggedWithTheirStatus()
    {
        (await Http.DeleteAsync("/v1/vdisks/nope")).Dispose();

        Assert.That(_server.Logs.Lines, Has.Some.Contains("DELETE /v1/vdisks/nope -> 404: no vDisk is named 'nope'"));
    }

    [Test]
    public async Task AFailureOfTheAppliance_Is500Internal_AndTheServerKeepsServing()
    {
        Admin.Fault = new InvalidOperationException("metadata store closed");

        using HttpResponseMessage r = await Http.GetAsync("/v1/vdisks");

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.InternalServerError, "Internal")), Does.Contain("metadata store closed"));
        Assert.That(_server.Logs.Lines, Has.Some.Contains("GET /v1/vdisks failed"));
        Admin.Fault = null;
        using HttpResponseMessage again = await Http.GetAsync("/v1/vdisks");
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    // --- malformed input ----------------------------------------------------------------------

    [TestCase("{\"name\":\"a\",", "not valid JSON")]
    [TestCase("name=a&size=1G", "not valid JSON")]
    [TestCase("""{"container":"default","capacityBytes":512}""", "missing required properties including: 'name'")]
    [TestCase("""{"name":"a","container":"default","capacityBytes":"big"}""", "$.capacityBytes")]
    [TestCase("""{"name":"a","container":"default","capacityBytes":512,"size":512}""", "'size'")]
    [TestCase("""{"name":null,"container":"default","capacityBytes":512}""", "name")]
    [TestCase("""[1,2]""", "not valid JSON")]
    [TestCase("null", "expected a JSON object")]
    public async Task MalformedCreateBody_Is400Invalid_SayingWhatIsWrong(string body, string reason)
    {
        using HttpResponseMessage r = await Http.PostAsync("/v1/vdisks", Json(body));

        string message = Message(await ErrorAsync(r, HttpStatusCode.BadRequest, "Invalid"));
        Assert.That(message, Does.Contain(reason));
        Assert.That(message, Does.Not.Contain("StorageAppliance.Management"), "type names are the server's business");
        Assert.That(Admin.LastCreate, Is.Null, "nothing reached the appliance");
    }

    [Test]
    public async Task EmptyBody_Is400Invalid()
    {
        using HttpResponseMessage r = await Http.PutAsync("/v1/vdisks/disk0/size", new ByteArrayContent([]));

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.BadRequest, "Invalid")), Is.EqualTo("the request needs a JSON body"));
        Assert.That(Admin.LastResize, Is.Null);
    }

    [Test]
    public async Task MisspeltResizeField_IsRefused_NotIgnored()
    {
        using HttpResponseMessage r = await Http.PutAsync("/v1/vdisks/disk0/size", Json("""{"capacityBytes":1073741824,"allowShrnk":true}"""));

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.BadRequest, "Invalid")), Does.Contain("allowShrnk"));
        Assert.That(Admin.LastResize, Is.Null);
    }

    [Test]
    public async Task BodyOverTheLimit_IsRefusedWithJson()
    {
        string huge = """{"name":"a","container":"default","capacityBytes":512,"target":" """ + new string('x', 100_000) + "\"}";

        using HttpResponseMessage r = await Http.PostAsync("/v1/vdisks", Json(huge));

        await ErrorAsync(r, HttpStatusCode.RequestEntityTooLarge, "Invalid");
        Assert.That(Admin.LastCreate, Is.Null);
    }

    [TestCase("GET", "/v1/nothing")]
    [TestCase("GET", "/")]
    [TestCase("GET", "/v2/vdisks")]
    [TestCase("GET", "/v1/vdisks/disk0/size/extra")]
    public async Task UnknownRoute_Is404Json(string method, string path)
    {
        using HttpResponseMessage r = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.NotFound, "NotFound")), Is.EqualTo($"no such API route: {method} {path}"));
    }

    [TestCase("PATCH", "/v1/vdisks")]
    [TestCase("POST", "/v1/vdisks/disk0")]
    [TestCase("GET", "/v1/vdisks/disk0/size")]
    public async Task WrongMethod_Is405Json(string method, string path)
    {
        using HttpResponseMessage r = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.That(Message(await ErrorAsync(r, HttpStatusCode.MethodNotAllowed, "Invalid")), Is.EqualTo($"{method} is not allowed on {path}"));
    }

    // --- the socket ---------------------------------------------------------------------------

    [Test]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Socket_IsOwnerOnly()
    {
        Assert.That(File.GetUnixFileMode(_server.SocketPath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }

    [Test]
    public async Task Socket_IsRemovedAtStop()
    {
        await _server.StopAsync();

        Assert.That(File.Exists(_server.SocketPath), Is.False);
    }

    [Test]
    public void SecondServerOnALiveSocket_RefusesToStart_AndLeavesTheFirstServing()
    {
        using IHost second = AdminServer.Build(_server.SocketPath, new FakeApplianceAdmin());

        var e = Assert.ThrowsAsync<IOException>(() => second.StartAsync())!;

        Assert.That(e.Message, Is.EqualTo($"the admin socket {_server.SocketPath} is in use: another appliance is running with this data directory (stop it, or start this one with another --data-dir)"));
        Assert.That(File.Exists(_server.SocketPath), Is.True);
        Assert.That(Http.GetAsync("/v1/health").Result.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}

// Start-up cases that need their own server.
public class AdminSocketStartTests
{
    [Test]
    public async Task StaleSocketFromACrashedRun_IsRemovedAndTheServerStarts()
    {
        string dir = AdminServer.NewDirectory();
        string path = Path.Combine(dir, "admin.sock");
        // A crash leaves the socket file behind. .NET unlinks the path it bound when the socket is
        // disposed, so bind elsewhere and rename the socket file into place first.
        using (var crashed = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            crashed.Bind(new UnixDomainSocketEndPoint(path + ".bound"));
            crashed.Listen();
            File.Move(path + ".bound", path);
        }
        Assert.That(File.Exists(path), Is.True, "precondition: the stale file exists");

        await using AdminServer server = await AdminServer.StartAsync(dir);

        using HttpResponseMessage r = await server.Http.GetAsync("/v1/health");
        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(server.Logs.Lines, Has.Some.Contains($"removed a stale admin socket {path}"));
    }

    [Test]
    public void RegularFileAtTheSocketPath_IsKept_AndStartFails()
    {
        string dir = AdminServer.NewDirectory();
        try
        {
            string path = Path.Combine(dir, "admin.sock");
            File.WriteAllText(path, "precious");
            using IHost host = AdminServer.Build(path, new FakeApplianceAdmin());

            var e = Assert.ThrowsAsync<IOException>(() => host.StartAsync())!;

            Assert.That(e.Message, Is.EqualTo($"{path} exists and is not a socket; move it away so the admin API can listen there"));
            Assert.That(File.ReadAllText(path), Is.EqualTo("precious"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void SocketPathLongerThanSunPath_FailsStartWithTheReason()
    {
        string path = "/tmp/" + new string('d', 100) + "/admin.sock";
        using IHost host = AdminServer.Build(path, new FakeApplianceAdmin());

        var e = Assert.ThrowsAsync<IOException>(() => host.StartAsync())!;

        Assert.That(e.Message, Does.Contain("is 116 bytes; a Unix socket path is at most 107 (use a shorter data_dir)"));
        Assert.That(Directory.Exists(Path.GetDirectoryName(path)), Is.False, "nothing was created");
    }

    [Test]
    public async Task MissingFolder_IsCreated()
    {
        string dir = AdminServer.NewDirectory();
        string path = Path.Combine(dir, "data", "admin.sock");
        using IHost host = AdminServer.Build(path, new FakeApplianceAdmin());
        try
        {
            await host.StartAsync();

            Assert.That(File.Exists(path), Is.True);
        }
        finally
        {
            await host.StopAsync();
            Directory.Delete(dir, true);
        }
    }
}
