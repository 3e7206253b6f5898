using System.Diagnostics;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// A private network namespace with only loopback, for tests that need a fixed port (the portmapper's 111:
/// qemu's NFS driver takes no port options) without meeting the machine's own rpcbind or another test's
/// appliance. A holder process (<c>unshare --net</c>) keeps the namespace alive until disposed; the appliance
/// and the clients join it with <c>nsenter --net</c>, which execs them, so a process id stays the client's.
/// Needs root (CAP_SYS_ADMIN); <see cref="TryCreate"/> says why not otherwise.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private const string Nsenter = "/usr/bin/nsenter";
    private readonly Process _holder;

    private NetworkNamespace(Process holder) => _holder = holder;

    /// <summary>The namespace's file, as nsenter takes it.</summary>
    public string NetPath => $"/proc/{_holder.Id}/ns/net";

    /// <summary>A new namespace with loopback up, or null and the reason (no unshare, not root, ...).</summary>
    public static NetworkNamespace? TryCreate(out string why)
    {
        foreach (string tool in new[] { "/usr/bin/unshare", Nsenter, "/usr/sbin/ip" })
        {
            if (!File.Exists(tool))
            {
                why = tool + " is missing";
                return null;
            }
        }
        var psi = new ProcessStartInfo("/usr/bin/unshare")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // unshare execs the shell in the new namespace; the shell execs cat, which lives until its stdin closes.
        foreach (string a in new[] { "--net", "--", "/bin/sh", "-c", "ip link set lo up || exit 1; echo up; exec cat" })
            psi.ArgumentList.Add(a);
        var holder = Process.Start(psi)!;
        var line = holder.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(30)) || line.Result != "up")
        {
            if (!holder.HasExited)
                holder.Kill();
            holder.WaitForExit();
            why = "cannot make a network namespace: " + holder.StandardError.ReadToEnd();
            holder.Dispose();
            return null;
        }
        why = "";
        return new NetworkNamespace(holder);
    }

    /// <summary>A start info that runs <paramref name="file"/> with <paramref name="args"/> inside the namespace.</summary>
    public ProcessStartInfo StartInfo(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Nsenter) { UseShellExecute = false };
        psi.ArgumentList.Add("--net=" + NetPath);
        psi.ArgumentList.Add("--");
        psi.ArgumentList.Add(file);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Runs a client inside the namespace (see <see cref="Client.Run(string, IEnumerable{string}, TimeSpan?, string?)"/>).</summary>
    public Client.Result Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? workDir = null) =>
        Client.Run(Nsenter, ["--net=" + NetPath, "--", file, .. args], timeout, workDir);

    /// <summary>Whether something accepts TCP connections on 127.0.0.1:<paramref name="port"/> inside the namespace.</summary>
    public bool CanConnect(int port) =>
        Run("/bin/bash", ["-c", $"exec 3<>/dev/tcp/127.0.0.1/{port}"], TimeSpan.FromSeconds(30)).ExitCode == 0;

    public void Dispose()
    {
        if (!_holder.HasExited)
        {
            _holder.StandardInput.Close(); // cat ends; the namespace goes with its last process
            if (!_holder.WaitForExit(10000))
                _holder.Kill();
        }
        _holder.WaitForExit();
        _holder.Dispose();
    }
}
