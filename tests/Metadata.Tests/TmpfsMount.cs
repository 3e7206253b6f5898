using System.Diagnostics;

namespace StorageAppliance.Metadata.Tests;

/// <summary>
/// A small tmpfs mounted for one test, to get a real full disk (ENOSPC) or a real read-only file system (EROFS).
/// Needs the right to mount (root here); without it the test is reported as not run, never as passed.
/// </summary>
internal sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    public string Path { get; }

    public static TmpfsMount CreateOrIgnore(string parent, string size)
    {
        string path = System.IO.Path.Combine(parent, "tmpfs");
        Directory.CreateDirectory(path);
        (int code, string output) = Run("mount", "-t", "tmpfs", "-o", $"size={size},mode=0755", "tmpfs", path);
        if (code != 0)
            Assert.Ignore($"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {output.Trim()}");
        return new TmpfsMount(path);
    }

    public void Remount(string options)
    {
        (int code, string output) = Run("mount", "-o", "remount," + options, Path);
        Assert.That(code, Is.Zero, $"remount {options}: {output}");
    }

    public void Dispose()
    {
        if (Run("umount", Path).Code != 0)
            Run("umount", "-l", Path);
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        try
        {
            using Process process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
