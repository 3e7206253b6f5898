using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// The appliance as a real process (out/appliance) on free ports with its own data folder, the way
/// scripts and operators run it. Its log is kept for assertions and printed when a test fails.
/// </summary>
public sealed class ApplianceProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly object _logLock = new();

    private ApplianceProcess(Process process, string workDir, int iscsiPort, string configPath, int nfsPort, int mountPort)
    {
        _process = process;
        WorkDir = workDir;
        IscsiPort = iscsiPort;
        ConfigPath = configPath;
        NfsPort = nfsPort;
        MountPort = mountPort;
    }

    public const string DefaultTarget = "iqn.2026-11.io.storageappliance:test";

    public string WorkDir { get; }

    public int IscsiPort { get; }

    /// <summary>The NFS port given with --nfs-listen, or 0 when the appliance was started without NFS.</summary>
    public int NfsPort { get; }

    /// <summary>The MOUNT port given with --nfs-mount-port, or 0 without NFS.</summary>
    public int MountPort { get; }

    public string ConfigPath { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Log
    {
        get
        {
            lock (_logLock)
                return _log.ToString();
        }
    }

    public string Portal => $"127.0.0.1:{IscsiPort}";

    /// <summary>The data folder the appliance runs on (--data-dir): metadata, journal, pool disks, admin socket.</summary>
    public string DataDir => Path.Combine(WorkDir, "data");

    /// <summary>The log of the runs before this one on the same data folder (see <see cref="Restart"/>).</summary>
    public string EarlierLog { get; private init; } = "";

    /// <summary>The --portmapper mode NFS was started with, or null without NFS.</summary>
    public string? Portmapper { get; private init; }

    /// <summary>The network namespace the appliance runs in (its ports are reachable only from there), or null.</summary>
    public NetworkNamespace? Namespace { get; private init; }

    /// <summary>The log so far once it contains every one of <paramref name="texts"/>, or after 10 s (the assertion then shows what was there).</summary>
    public string LogWhenContains(params string[] texts)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            string log = Log;
            if (texts.All(t => log.Contains(t, StringComparison.Ordinal)))
                return log;
            Thread.Sleep(50);
        }
        return Log;
    }

    public string Url(string target = DefaultTarget, int lun = 0, string? auth = null, string? query = null) =>
        $"iscsi://{(auth is null ? "" : auth + "@")}127.0.0.1:{IscsiPort}/{target}/{lun}{(query is null ? "" : "?" + query)}";

    /// <summary>
    /// A libnfs URL for a path under an export on this appliance's NFS and MOUNT ports (libnfs reads
    /// ?nfsport= and ?mountport=, so no portmapper is needed).
    /// </summary>
    public string NfsUrl(string path) => $"nfs://127.0.0.1{path}?nfsport={NfsPort}&mountport={MountPort}";

    /// <summary>The exports of <see cref="NfsConfig"/>: read-write, read-only, allow-listed and root-squashed.</summary>
    public const string DefaultExports = """
          - path: /vmstore
            container: default
          - path: /ro
            container: default
            read_only: true
          - path: /private
            container: default
            clients: ["10.1.2.0/24"]
          - path: /squash
            container: default
            root_squash: true
            anon_uid: 4321
            anon_gid: 4322
        """;

    /// <summary>A config with NFS on, one container (optionally capped) and <paramref name="exports"/> (YAML list items); no vDisks or targets.</summary>
    public static string NfsConfig(string exports = DefaultExports, string? containerExtra = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine("appliance:\n  name: test-appliance");
        sb.AppendLine("iscsi:\n  listen: [\"127.0.0.1:3260\"]\n  nop_in_interval: 0");
        sb.AppendLine("nfs:\n  enabled: true");
        sb.AppendLine("containers:\n  - name: default");
        if (containerExtra is not null)
            sb.AppendLine(containerExtra);
        sb.AppendLine("exports:");
        sb.AppendLine(exports);
        return sb.ToString();
    }

    /// <summary>A config with one container, one vDisk per (name, size) and one target exporting them as LUNs 0..n.</summary>
    public static string SimpleConfig(string vdiskSize = "1GiB", string? targetExtra = null, string? iscsiExtra = null, bool writeCache = true, int vdisks = 1, string? containerExtra = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine("appliance:\n  name: test-appliance");
        sb.AppendLine("iscsi:\n  listen: [\"127.0.0.1:3260\"]\n  nop_in_interval: 0");
        if (iscsiExtra is not null)
            sb.AppendLine(iscsiExtra);
        sb.AppendLine("containers:\n  - name: default");
        if (containerExtra is not null)
            sb.AppendLine(containerExtra);
        sb.AppendLine("vdisks:");
        for (int i = 0; i < vdisks; i++)
            sb.AppendLine($"  - name: disk{i}\n    container: default\n    size: {vdiskSize}\n    write_cache: {(writeCache ? "true" : "false")}");
        sb.AppendLine($"targets:\n  - name: {DefaultTarget}\n    luns:");
        for (int i = 0; i < vdisks; i++)
            sb.AppendLine($"      - lun: {i}\n        vdisk: disk{i}");
        if (targetExtra is not null)
            sb.AppendLine(targetExtra);
        return sb.ToString();
    }

    /// <summary>
    /// Starts the appliance and waits until its iSCSI portal accepts connections. With <paramref name="portmapper"/>
    /// (auto, embedded, system or off) NFS is served too, on free ports given with --nfs-listen and
    /// --nfs-mount-port, and the wait includes both. With <paramref name="netns"/> it runs inside that network
    /// namespace, and clients must join it too (<see cref="NetworkNamespace.Run"/>).
    /// </summary>
    public static ApplianceProcess Start(string configYaml, string? workDir = null, int? port = null, string? portmapper = null, NetworkNamespace? netns = null) =>
        Start(configYaml, workDir, port, portmapper, 0, 0, "", netns);

    private static ApplianceProcess Start(string configYaml, string? workDir, int? port, string? portmapper, int nfsPort, int mountPort, string earlierLog, NetworkNamespace? netns)
    {
        workDir ??= Directory.CreateTempSubdirectory("sa-it-").FullName;
        string configPath = Path.Combine(workDir, "appliance.yaml");
        File.WriteAllText(configPath, configYaml);
        int iscsiPort = port ?? FreePort();
        var psi = netns?.StartInfo(Paths.Appliance, []) ?? new ProcessStartInfo(Paths.Appliance);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        psi.WorkingDirectory = workDir;
        foreach (var a in new[] { "run", "--config", configPath, "--data-dir", Path.Combine(workDir, "data"), "--iscsi-listen", $"127.0.0.1:{iscsiPort}" })
            psi.ArgumentList.Add(a);
        if (portmapper is not null)
        {
            if (nfsPort == 0)
                nfsPort = FreePort();
            while (mountPort == 0 || mountPort == nfsPort || mountPort == iscsiPort)
                mountPort = FreePort();
            foreach (var a in new[] { "--nfs-listen", $"127.0.0.1:{nfsPort}", "--nfs-mount-port", mountPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--portmapper", portmapper })
                psi.ArgumentList.Add(a);
        }
        var process = Process.Start(psi)!;
        var appliance = new ApplianceProcess(process, workDir, iscsiPort, configPath, nfsPort, mountPort) { EarlierLog = earlierLog, Portmapper = portmapper, Namespace = netns };
        process.OutputDataReceived += (_, e) => appliance.Append(e.Data);
        process.ErrorDataReceived += (_, e) => appliance.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        appliance.WaitForPort(appliance.IscsiPort, TimeSpan.FromSeconds(60));
        if (nfsPort != 0)
        {
            appliance.WaitForPort(nfsPort, TimeSpan.FromSeconds(60));
            appliance.WaitForPort(mountPort, TimeSpan.FromSeconds(60));
        }
        appliance.WaitForStarted(TimeSpan.FromSeconds(30));
        return appliance;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_logLock)
            _log.AppendLine(line);
    }

    private void WaitForPort(int port, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"the appliance exited with code {_process.ExitCode} before listening:\n{Log}");
            if (Namespace is not null)
            {
                if (Namespace.CanConnect(port))
                    return;
                Thread.Sleep(100);
                continue;
            }
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }
        throw new TimeoutException($"the appliance did not listen on {port} within {timeout}:\n{Log}");
    }

    /// <summary>
    /// Waits for the host's "started" line: the iSCSI portal listens before the last services (the admin API) are
    /// up, and a Ctrl-C in between cancels the start. A test that stops the appliance right after a few writes must
    /// not race that. Gives up quietly (the test goes on) if the line does not come.
    /// </summary>
    private void WaitForStarted(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout && !_process.HasExited)
        {
            if (Log.Contains("] appliance ", StringComparison.Ordinal) && Log.Contains(" started (config ", StringComparison.Ordinal))
                return;
            Thread.Sleep(50);
        }
    }

    /// <summary>Sends a signal (SIGINT for Ctrl-C, SIGKILL for a crash) and waits for the exit.</summary>
    public bool Signal(string signal, TimeSpan wait)
    {
        using var kill = Process.Start("kill", $"-{signal} {_process.Id}");
        kill.WaitForExit();
        return _process.WaitForExit((int)wait.TotalMilliseconds);
    }

    /// <summary>A crash: SIGKILL, no chance to drain, flush or close anything. Waits for the process to be gone.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: false); // SIGKILL on Unix
        if (!_process.WaitForExit(10000))
            throw new TimeoutException($"the appliance (pid {Pid}) did not die within 10 s of SIGKILL");
        _process.WaitForExit(); // the output readers are drained too
    }

    /// <summary>A clean stop (Ctrl-C): the appliance drains the journal and checkpoints before it exits.</summary>
    public void Stop()
    {
        if (!Signal("INT", TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"the appliance (pid {Pid}) did not stop within 60 s of SIGINT:\n{Log}");
        _process.WaitForExit();
    }

    /// <summary>
    /// Starts the appliance again on the same data folder, config and port once this process has exited
    /// (after <see cref="Kill"/> or <see cref="Stop"/>). This instance is disposed; use the returned one.
    /// </summary>
    public ApplianceProcess Restart()
    {
        if (!_process.HasExited)
            throw new InvalidOperationException("stop or kill the appliance before restarting it");
        string earlier = EarlierLog + Log + $"---- exited with code {_process.ExitCode}; restarted ----\n";
        string config = File.ReadAllText(ConfigPath);
        Dispose(keepWorkDir: true, printLog: false);
        return Start(config, WorkDir, IscsiPort, Portmapper, NfsPort, MountPort, earlier, Namespace);
    }

    /// <summary>Runs <c>out/appliance ARGS --data-dir DATA</c> (the admin CLI finds the admin socket there).</summary>
    public Client.Result Cli(params string[] args) =>
        Client.Run(Paths.Appliance, [.. args, "--data-dir", DataDir], TimeSpan.FromSeconds(60));

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose() => Dispose(keepWorkDir: false);

    private bool _disposed;

    public void Dispose(bool keepWorkDir) => Dispose(keepWorkDir, printLog: true);

    private void Dispose(bool keepWorkDir, bool printLog)
    {
        if (_disposed)
            return;
        _disposed = true;
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10000);
            }
            catch (InvalidOperationException)
            {
            }
        }
        _process.Dispose();
        if (printLog && TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
            TestContext.Out.WriteLine("---- appliance log ----\n" + EarlierLog + Log);
        if (keepWorkDir)
            return;
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Finds the repository, the appliance binary and the external clients.</summary>
public static class Paths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// out/appliance, built by `make build` (the test run builds it first), or the binary SA_APPLIANCE names
    /// (a build published elsewhere, e.g. `dotnet publish src/Host -c Release -o DIR` while out/ is rebuilt).
    /// </summary>
    public static string Appliance
    {
        get
        {
            string path = Environment.GetEnvironmentVariable("SA_APPLIANCE") ?? Path.Combine(RepoRoot, "out", "appliance");
            if (!File.Exists(path))
                Assert.Fail($"{path} is missing: run `make build` (make test does it)");
            return path;
        }
    }

    public static string Fio => Environment.GetEnvironmentVariable("FIO") ?? "/var/cache/storage-appliance/fio/fio";

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StorageAppliance.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find StorageAppliance.sln above " + AppContext.BaseDirectory);
    }
}

/// <summary>Runs an external client (libiscsi utilities, qemu-img, fio) with a timeout.</summary>
public static class Client
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string All => Stdout + Stderr;
    }

    public static Result Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? workDir = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workDir is not null)
            psi.WorkingDirectory = workDir;
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit((int)(timeout ?? TimeSpan.FromMinutes(5)).TotalMilliseconds))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return new Result(-1, stdout.Result, stderr.Result + $"\n[timed out after {timeout}]");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static Result Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);
}
