using System.Security.Cryptography;
using StorageAppliance.Metadata.Tests;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// The data folder on a real small file system (a tmpfs) that fills up (issue 13): journal, metadata and extent groups
/// share it, as by default. The appliance's own writes fill it; iSCSI writes then get DATA PROTECT, SPACE ALLOCATION
/// FAILED WRITE PROTECT (27h/07h), never MEDIUM ERROR, and NFS writes NFS3ERR_NOSPC; freed space makes writes work again
/// with no restart; a restart on a disk full to the last block comes up read-only (reads served, writes refused as out
/// of space, a clear log line) and leaves that state by itself once space is freed. Nothing acknowledged is lost.
/// Everything under the data folder is private to the appliance's user (files 0600, folders 0700).
/// </summary>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FullDiskTests
{
    private const int Chunk = 64 * 1024;
    private const int Lba = 512;

    private static string Config() => $"""
        appliance:
          name: test-appliance
        iscsi:
          listen: ["127.0.0.1:3260"]
          nop_in_interval: 0
        nfs:
          enabled: true
        containers:
          - name: default
        vdisks:
          - name: big
            container: default
            size: 1GiB
            thin: true
        targets:
          - name: {ApplianceProcess.DefaultTarget}
            luns:
              - lun: 0
                vdisk: big
        exports:
          - path: /vmstore
            container: default
        """;

    [Test]
    public void A_full_data_disk_answers_out_of_space_recovers_without_restart_and_restarts_read_only()
    {
        string parent = Directory.CreateTempSubdirectory("sa-full-").FullName;
        using var tmpfs = TmpfsMount.CreateOrIgnore(parent, "400m");
        string workDir = Directory.CreateTempSubdirectory("sa-it-").FullName;
        // The data folder is the tmpfs (through a link: the harness deletes its work folder, never a mount point).
        Directory.CreateSymbolicLink(Path.Combine(workDir, "data"), tmpfs.Path);
        string local = Path.Combine(parent, "local");
        Directory.CreateDirectory(local);
        ApplianceProcess? appliance = null;
        try
        {
            appliance = ApplianceProcess.Start(Config(), workDir, portmapper: "off");
            // Room that is freed later, taken before the appliance fills the rest.
            string filler = Path.Combine(tmpfs.Path, "filler");
            WriteFile(filler, 48 << 20);

            var written = new List<byte[]>();
            byte status;
            byte[] sense;
            using (var raw = LoggedIn(appliance))
            {
                while (true)
                {
                    var data = Pattern(written.Count, 0);
                    (status, sense) = raw.ScsiCommandOut(Scsi.Write16((long)written.Count * Chunk / Lba, Chunk / Lba), data);
                    if (status != Scsi.Good)
                        break;
                    written.Add(data);
                    Assert.That(written.Count * (long)Chunk, Is.LessThan(400L << 20), "more was accepted than the file system holds");
                }
                AssertOutOfSpace(status, sense, "the write that found the file system full");
                Assert.That(written.Count * (long)Chunk, Is.GreaterThanOrEqualTo(32L << 20), "the appliance refused far too early");
                (status, sense) = raw.ScsiCommandOut(Scsi.Write16(0, Chunk / Lba), Pattern(0, 1));
                AssertOutOfSpace(status, sense, "an overwrite (it needs journal room too)");
                AssertReadsBack(raw, written, "while full");

                // NFS writes are refused too (NFS3ERR_NOSPC, in the log; nfs-cp only says the write failed).
                string small = Path.Combine(local, "small");
                File.WriteAllBytes(small, RandomNumberGenerator.GetBytes(1 << 20));
                var cp = Nfs("nfs-cp", small, appliance.NfsUrl("/vmstore/refused"));
                Assert.That(cp.ExitCode, Is.Not.Zero, "nfs-cp into a full appliance: " + cp.All);
                Assert.That(appliance.LogWhenContains("WRITE on file", "NoSpc"), Does.Contain("NoSpc"));
                Assert.That(appliance.Log, Does.Not.Contain("SYSTEM_ERR").And.Not.Contain("Unhandled"));

                // Space freed by someone else: writes work again, with no restart.
                File.Delete(filler);
                for (int i = 0; i < 16; i++)
                {
                    var data = Pattern(written.Count, 0);
                    (status, sense) = raw.ScsiCommandOut(Scsi.Write16((long)written.Count * Chunk / Lba, Chunk / Lba), data);
                    Assert.That(status, Is.EqualTo(Scsi.Good), $"write {i} after space was freed: {Scsi.Describe(status, sense)}");
                    written.Add(data);
                }
                cp = Nfs("nfs-cp", small, appliance.NfsUrl("/vmstore/kept"));
                Assert.That(cp.ExitCode, Is.Zero, "nfs-cp after space was freed: " + cp.All);
                AssertReadsBack(raw, written, "after space was freed");
            }

            // A restart with the file system full to the last block.
            appliance.Stop();
            string filler2 = Path.Combine(tmpfs.Path, "filler2");
            WriteFile(filler2, long.MaxValue);
            appliance = appliance.Restart();
            Assert.That(appliance.Log, Does.Contain("started read-only"), "the start says why writes are refused");
            using (var raw = LoggedIn(appliance))
            {
                AssertReadsBack(raw, written, "after a restart on a full disk");
                (status, sense) = raw.ScsiCommandOut(Scsi.Write16((long)written.Count * Chunk / Lba, Chunk / Lba), Pattern(written.Count, 0));
                AssertOutOfSpace(status, sense, "a write after the restart on a full disk");
                string back = Path.Combine(local, "back");
                var down = Nfs("nfs-cp", appliance.NfsUrl("/vmstore/kept"), back);
                Assert.That(down.ExitCode, Is.Zero, "NFS reads are served read-only: " + down.All);
                Assert.That(File.ReadAllBytes(back), Is.EqualTo(File.ReadAllBytes(Path.Combine(local, "small"))));

                // Space returns: the appliance leaves read-only mode by itself.
                File.Delete(filler2);
                for (int i = 0; i < 16; i++)
                {
                    var data = Pattern(written.Count, 0);
                    (status, sense) = raw.ScsiCommandOut(Scsi.Write16((long)written.Count * Chunk / Lba, Chunk / Lba), data);
                    Assert.That(status, Is.EqualTo(Scsi.Good), $"write {i} once space returned after the read-only start: {Scsi.Describe(status, sense)}");
                    written.Add(data);
                }
                var cp = Nfs("nfs-cp", Path.Combine(local, "small"), appliance.NfsUrl("/vmstore/after"));
                Assert.That(cp.ExitCode, Is.Zero, "nfs-cp once space returned: " + cp.All);
                AssertReadsBack(raw, written, "once space returned");
            }
            Assert.That(appliance.Log, Does.Contain("storage has room again"));

            AssertPrivate(tmpfs.Path);
        }
        finally
        {
            appliance?.Dispose();
            tmpfs.Dispose();
            Directory.Delete(parent, true);
        }
    }

    [Test]
    public void Data_journal_and_metadata_files_are_private_and_an_old_data_folder_is_made_private_at_start()
    {
        string workDir = Directory.CreateTempSubdirectory("sa-it-").FullName;
        string data = Path.Combine(workDir, "data");
        // A data folder as an older version left it: 0755, with a world-readable file.
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, (UnixFileMode)0x1ed);
        File.WriteAllText(Path.Combine(data, "old-notes"), "x");
        File.SetUnixFileMode(Path.Combine(data, "old-notes"), (UnixFileMode)0x1a4);
        var appliance = ApplianceProcess.Start(Config(), workDir, portmapper: "off");
        try
        {
            using (var raw = LoggedIn(appliance))
            {
                for (int i = 0; i < 32; i++)
                    Assert.That(raw.ScsiCommandOut(Scsi.Write16((long)i * Chunk / Lba, Chunk / Lba, fua: true), Pattern(i, 0)).Status, Is.EqualTo(Scsi.Good));
            }
            string small = Path.Combine(workDir, "small");
            File.WriteAllBytes(small, RandomNumberGenerator.GetBytes(300_000));
            Assert.That(Nfs("nfs-cp", small, appliance.NfsUrl("/vmstore/f")).ExitCode, Is.Zero);
            File.Delete(small);
            // Stopped, so that the drain has written extent groups and SQLite its files.
            appliance.Stop();
            appliance = appliance.Restart();
            AssertPrivate(data);
            Assert.That(Directory.GetFiles(data, "*.eg", SearchOption.AllDirectories), Is.Not.Empty, "extent groups were checked");
            Assert.That(Directory.GetFiles(data, "*.jnl", SearchOption.AllDirectories), Is.Not.Empty, "journal segments were checked");
            Assert.That(Directory.GetFiles(data, "*-wal", SearchOption.AllDirectories), Is.Not.Empty, "SQLite's -wal files were checked");
            Assert.That(Directory.GetFiles(data, "nfs-namespace.db", SearchOption.AllDirectories), Is.Not.Empty);
        }
        finally
        {
            appliance.Dispose();
        }
    }

    /// <summary>Nothing under <paramref name="dataDir"/> (nor the folder) grants group or other users any access.</summary>
    private static void AssertPrivate(string dataDir)
    {
        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        var wrong = new List<string>();
        if ((File.GetUnixFileMode(dataDir) & others) != 0)
            wrong.Add($"{dataDir} {File.GetUnixFileMode(dataDir)}");
        foreach (var entry in new DirectoryInfo(dataDir).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            // Fillers the test made itself are not the appliance's.
            if (entry.Name.StartsWith("filler", StringComparison.Ordinal))
                continue;
            if ((entry.UnixFileMode & others) != 0)
                wrong.Add($"{entry.FullName} {entry.UnixFileMode}");
        }
        Assert.That(wrong, Is.Empty, "files and folders readable by other users");
    }

    /// <summary>Writes up to <paramref name="bytes"/> (or until the file system is full) into a new file.</summary>
    private static void WriteFile(string path, long bytes)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1);
        long done = 0;
        foreach (int chunk in new[] { 1 << 20, 4096 })
        {
            var data = new byte[chunk];
            Random.Shared.NextBytes(data);
            try
            {
                while (done + chunk <= bytes)
                {
                    f.Write(data);
                    done += chunk;
                }
            }
            catch (IOException)
            {
            }
        }
    }

    private static void AssertOutOfSpace(byte status, byte[] sense, string what)
    {
        Assert.That(status, Is.EqualTo(Scsi.CheckCondition), $"{what}: {Scsi.Describe(status, sense)}");
        Assert.That(Scsi.Decode(sense), Is.EqualTo((Scsi.DataProtect, 0x27, 0x07)),
            $"{what}: DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (27h/07h) expected, got {Scsi.Describe(status, sense)}");
    }

    private static void AssertReadsBack(RawInitiator raw, List<byte[]> written, string when)
    {
        for (int i = 0; i < written.Count; i++)
        {
            var (status, data) = raw.ScsiCommandIn(Scsi.Read16((long)i * Chunk / Lba, Chunk / Lba), Chunk);
            Assert.That(status, Is.EqualTo(Scsi.Good), $"{when}: read of chunk {i}");
            Assert.That(SHA256.HashData(data), Is.EqualTo(SHA256.HashData(written[i])), $"{when}: chunk {i} is not what was acknowledged");
        }
    }

    private static byte[] Pattern(int chunk, int generation)
    {
        var data = new byte[Chunk];
        new Random(chunk * 31 + generation * 1_000_003).NextBytes(data);
        return data;
    }

    private static RawInitiator LoggedIn(ApplianceProcess appliance)
    {
        var raw = new RawInitiator(appliance.IscsiPort);
        Assert.That(raw.Login("iqn.2026-11.test:full", ApplianceProcess.DefaultTarget), Is.EqualTo(0), "login");
        Assert.That(raw.ClearUnitAttentions(), Is.True, "TEST UNIT READY turns GOOD");
        return raw;
    }

    private static Client.Result Nfs(string tool, params string[] args) => Client.Run("/usr/bin/" + tool, args, TimeSpan.FromMinutes(3));
}
