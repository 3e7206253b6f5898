using System.Text;
using StorageAppliance.Management.Admin;

namespace StorageAppliance.Management.Cli;

/// <summary>Finds the admin socket of the appliance a command talks to.</summary>
public static class SocketLocator
{
    /// <summary>The environment variable naming the socket when no option does.</summary>
    public const string EnvironmentVariable = "APPLIANCE_SOCKET";

    /// <summary>Where <c>make run</c> puts it: data_dir ./data next to the default config.</summary>
    public static readonly string DefaultPath = Path.Combine(".", "data", "admin.sock");

    /// <summary>The --socket option's help: how a command finds the socket when the option is left out.</summary>
    public static readonly string OptionDescription =
        $"The appliance's admin socket (default: --data-dir/admin.sock, else ${EnvironmentVariable}, else {DefaultPath})";

    /// <summary>
    /// <paramref name="socket"/> (--socket), else <paramref name="dataDir"/> (--data-dir) + /admin.sock,
    /// else $APPLIANCE_SOCKET, else ./data/admin.sock. The path is returned as given, so messages show it that way.
    /// </summary>
    public static string Resolve(string? socket, string? dataDir, Func<string, string?> getVariable)
    {
        if (!string.IsNullOrEmpty(socket))
            return socket;
        if (!string.IsNullOrEmpty(dataDir))
            return Path.Combine(dataDir, "admin.sock");
        if (getVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
            return fromEnvironment;
        return DefaultPath;
    }

    /// <summary>Null when a socket can have this path, else why not.</summary>
    public static string? Check(string path)
    {
        // connect(2) takes the path as given, relative or not.
        int bytes = Encoding.UTF8.GetByteCount(path);
        return bytes <= AdminSocket.MaxPathBytes
            ? null
            : $"the socket path {path} is {bytes} bytes; a Unix socket path is at most {AdminSocket.MaxPathBytes}";
    }
}
