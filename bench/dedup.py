#!/usr/bin/env python3
"""bench/dedup.py (make bench-dedup): data reduction on cloned VM images, against restic, and fio with
reduction on and off, in one run.

Part 1, data reduction. A Debian root file system (debootstrap, or a copy of this machine's own files if
debootstrap cannot run) is made into a raw ext4 disk image without mounting anything (mke2fs -d), and
four "cloned VMs" are made from it, each changed in a few files with debugfs (host name, machine id, a
few MB of its own log and state data: well under 1% of the image). The data set is cached outside the
checkout and built only when missing. The clones are written one by one through iSCSI (qemu-img convert)
into four vDisks of one container with dedup, LZ4 and inline data contraction; after the first clone
and after all four, a Curator pass is run and the appliance's data reduction figures are read
(`appliance stats --json`: dataReduction.containers[].storedBytes), with the disk use of the pool's
folder (du) as a second, independent figure. The same four files are backed up with restic into a
fresh repository. Every ratio has the same numerator: the bytes of the four clone files.
  ratio = total clone bytes / stored bytes; ideal for identical clones = total clone bytes / stored
  bytes after the first clone (clones 2 to 4 would cost nothing); goal: within 10% of ideal.
Each clone is read back and compared with its file (qemu-img compare) after the writes.

Part 2, fio with reduction on and off. One appliance, two containers in two pools (so each has its own
folder to measure): `reduce` (dedup, LZ4, inline) and `plain` (neither), one vDisk in each, two LUNs.
fio's libiscsi engine writes reducible data (--buffer_compress_percentage=50 --dedupe_percentage=30):
4 KiB random writes at QD32 and 1 MiB sequential writes at QD4, the containers alternated (ABBA) over
the repetitions, after one sequential pass over each vDisk. Reported: IOPS and MB/s per container, the
reduce/plain ratio (median of the per-repetition ratios), the appliance's CPU seconds in the measured
window and while it drained the journal afterwards (the reduction happens as the journal drains), and
each container's data reduction figures at the end.

Writes bench/results/dedup-YYYY-MM-DD.md (dedup-YYYY-MM-DD-quick.md with QUICK=1) and prints it.

Environment:
  QUICK=1            smoke run (a few minutes): minimal Debian in a 384 MiB image, 5 s fio points, 1 repetition
  PARTS=1,2          which parts to run
  COMPRESSION=lz4 LEVEL=3 CHUNK=   part 1's container: lz4 (the default config's) or zstd at LEVEL; chunk sizes
                     as YAML ("{min: 64KiB, average: 256KiB, max: 1MiB}"), empty for the container default
  STRICT=1           stop with a clear message if the appliance reports no data reduction figures or has no
                     `curator scan` command; STRICT=0 carries on and reports them as missing
  RUNTIME=20 RAMP=2 REPEAT=2   fio seconds measured per point, ramp before it, repetitions
  FIO_SIZE=2GiB      size of each part-2 vDisk       FIO_DATA="--buffer_compress_percentage=50 --dedupe_percentage=30"
  IMAGE_SIZE=1536MiB size of the OS image            DATASET=/var/cache/storage-appliance/dedup-dataset
  REBUILD=1          rebuild the data set            MIRROR=http://deb.debian.org/debian  SUITE=<this machine's>
  VERIFY=0           skip reading the clones back    KEEP=1 keeps the scratch folder
  FIO=/var/cache/storage-appliance/fio/fio  APPLIANCE=<repo>/out/appliance  BENCH_TMP=/tmp  RESULTS=<file.md>
  APPLIANCE_COMMIT=<sha>  for the report, when APPLIANCE was built from another commit than the checkout's
"""

import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import CLK_TCK, cpu_ticks, free_port, to_bytes, wait_port  # noqa: E402  (shared with make bench)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = os.environ.get("QUICK", "0") == "1"
PARTS = {p.strip() for p in os.environ.get("PARTS", "1,2").split(",") if p.strip()}
STRICT = os.environ.get("STRICT", "1") != "0"
RUNTIME = int(os.environ.get("RUNTIME", "5" if QUICK else "20"))
RAMP = int(os.environ.get("RAMP", "1" if QUICK else "2"))
REPEAT = int(os.environ.get("REPEAT", "1" if QUICK else "2"))
FIO_SIZE = to_bytes(os.environ.get("FIO_SIZE", "512MiB" if QUICK else "2GiB"))
FIO_DATA = os.environ.get("FIO_DATA", "--buffer_compress_percentage=50 --dedupe_percentage=30").split()
IMAGE_SIZE = to_bytes(os.environ.get("IMAGE_SIZE", "384MiB" if QUICK else "1536MiB"))
DATASET = os.environ.get("DATASET", "/var/cache/storage-appliance/dedup-dataset")
MIRROR = os.environ.get("MIRROR", "http://deb.debian.org/debian")
VERIFY = os.environ.get("VERIFY", "1") != "0"
KEEP = os.environ.get("KEEP") == "1"
FIO = os.environ.get("FIO", "/var/cache/storage-appliance/fio/fio")
# Part 1's container: compression (lz4, the default config's, or zstd at LEVEL) and chunk sizes (YAML, e.g.
# "{min: 16KiB, average: 64KiB, max: 256KiB}"; empty: the container default).
COMPRESSION = os.environ.get("COMPRESSION", "lz4")
LEVEL = int(os.environ.get("LEVEL", "3"))
CHUNK = os.environ.get("CHUNK", "")
APPLIANCE = os.environ.get("APPLIANCE", os.path.join(REPO, "out", "appliance"))
BENCH_TMP = os.environ.get("BENCH_TMP", os.environ.get("TMPDIR", "/tmp"))

CLONES = 4
IQN = "iqn.2026-12.io.storageappliance:dedup"
# Bump when the way the data set is made changes: a cached data set of another recipe is rebuilt.
RECIPE = 1
# Packages on top of debootstrap's default set for the full image: what a small server VM carries.
FULL_PACKAGES = ["linux-image-amd64", "systemd-sysv", "openssh-server", "python3", "vim", "curl", "less",
                 "locales", "rsyslog", "sudo", "ca-certificates"]
# Per clone: a log of this size (text, compressible) and a state file of this size (random bytes).
CLONE_LOG = (1 if QUICK else 4) * 1024 * 1024
CLONE_BLOB = (256 if QUICK else 1024) * 1024
MiB = 1024 * 1024


def log(msg):
    print(f"[dedup {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Missing(Exception):
    """The appliance does not (yet) report something this benchmark needs."""


def run(args, timeout=None, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} exited {r.returncode}: {(r.stderr or r.stdout).strip()[-800:]}")
    return r


def first_line(args):
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=20)
        return ((r.stdout or r.stderr).strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.SubprocessError):
        return "?"


def pkg_version(name):
    return first_line(["dpkg-query", "-W", "-f", "${Version}", name])


def gib(n):
    return "–" if n is None else f"{n / 1024 ** 3:,.3f} GiB"


def mib(n):
    return "–" if n is None else f"{n / MiB:,.1f} MiB"


def num(n):
    return f"{n:,}" if isinstance(n, int) else "–"


def ratio_text(r):
    return "–" if r is None else f"{r:.2f}x"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ----------------------------------------------------------------------------------------------- tools
def ensure_tools(parts):
    """Installs the Debian packages this run needs (as make test's install step does), and checks the rest."""
    need = {"mke2fs": "e2fsprogs", "debugfs": "e2fsprogs", "e2fsck": "e2fsprogs", "qemu-img": "qemu-utils"}
    if "1" in parts:
        need.update({"debootstrap": "debootstrap", "restic": "restic"})
    missing = sorted({pkg for tool, pkg in need.items() if not shutil.which(tool)})
    if "1" in parts and shutil.which("qemu-img") and "iscsi" not in run(["qemu-img", "--help"], check=False).stdout:
        missing.append("qemu-block-extra")  # qemu's libiscsi driver
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        log(f"installing {' '.join(missing)}")
        run(sudo + ["apt-get", "update", "-qq"], timeout=600)
        run(sudo + ["apt-get", "install", "-y", "-qq", *missing], timeout=1200, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not os.access(APPLIANCE, os.X_OK):
        sys.exit(f"dedup: {APPLIANCE} is missing: run `make build` first")
    if "2" in parts and not os.access(FIO, os.X_OK):
        sys.exit(f"dedup: {FIO} is missing: `make deps` (tests/setup/install-deps.sh) builds fio with the libiscsi engine")


# ------------------------------------------------------------------------------------------- data set
def suite():
    if os.environ.get("SUITE"):
        return os.environ["SUITE"]
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("VERSION_CODENAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "bookworm"


def unmount_under(path):
    """debootstrap mounts /proc and /sys in its chroot; a failed run can leave them mounted."""
    try:
        with open("/proc/mounts") as f:
            points = [l.split()[1] for l in f]
    except OSError:
        return
    for p in sorted((p for p in points if p.startswith(path.rstrip("/") + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


def debootstrap(staging, logfile):
    args = ["debootstrap"]
    if QUICK:
        args.append("--variant=minbase")
        what = f"debootstrap --variant=minbase {suite()}"
    else:
        args.append("--include=" + ",".join(FULL_PACKAGES))
        what = f"debootstrap {suite()} (default variant) --include={','.join(FULL_PACKAGES)}"
    args += [suite(), staging, MIRROR]
    log(f"{what} from {MIRROR} (a few minutes)")
    with open(logfile, "w") as f:
        r = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, timeout=1800)
    unmount_under(staging)
    if r.returncode != 0:
        with open(logfile) as f:
            tail = f.read()[-600:]
        raise RuntimeError(f"debootstrap exited {r.returncode}: {tail}")
    return what


def copy_this_machine(staging, budget):
    """The fallback: this machine's own system files (binaries, libraries, data, the dpkg database), up to budget bytes."""
    sources = ["/etc", "/var/lib/dpkg", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec", "/usr/share"]
    total = 0
    for src in sources:
        for root, dirs, files in os.walk(src):
            dirs.sort()
            dest = os.path.join(staging, root.lstrip("/"))
            os.makedirs(dest, exist_ok=True)
            for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                s = os.path.join(root, name)
                try:
                    st = os.lstat(s)
                    if os.path.islink(s):
                        os.symlink(os.readlink(s), os.path.join(dest, name))
                    elif os.path.isfile(s):
                        if total + st.st_size > budget:
                            return total
                        shutil.copy2(s, os.path.join(dest, name))
                        total += st.st_size
                except OSError:
                    continue  # unreadable or vanished: not needed for a realistic mix
    return total


def log_text(rng, host, size):
    """Syslog-like lines of one machine: compressible, and different from every other clone's."""
    progs = ["sshd", "systemd", "cron", "kernel", "rsyslogd", "dhclient", "nginx", "postgres", "sudo", "apt"]
    msgs = ["Accepted publickey for deploy from 10.{a}.{b}.{c} port {p} ssh2: ED25519 SHA256:{h}",
            "Started Session {p} of user deploy.", "pam_unix(cron:session): session opened for user root(uid=0)",
            "GET /api/v1/items/{p} HTTP/1.1 200 {b} \"-\" \"curl/7.88.1\"", "checkpoint complete: wrote {b} buffers ({a}.{c}%)",
            "DHCPACK of 10.{a}.{b}.{c} from 10.{a}.{b}.1 (xid=0x{h8})", "EXT4-fs (vda1): mounted filesystem {h8} r/w",
            "Unpacking libssl3:amd64 (3.0.{a}-1~deb12u{c}) over (3.0.{b}-1~deb12u1) ...", "Reloading.",
            "Connection closed by 10.{a}.{b}.{c} port {p} [preauth]"]
    out, n, t = [], 0, 1764720000 + rng.randrange(86400 * 30)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    while n < size:
        t += rng.randrange(1, 30)
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(t))
        msg = rng.choice(msgs).format(a=rng.randrange(256), b=rng.randrange(256), c=rng.randrange(256),
                                      p=rng.randrange(1024, 65536), h="".join(rng.choice(alphabet) for _ in range(43)),
                                      h8="%08x" % rng.getrandbits(32))
        line = f"{stamp} {host} {rng.choice(progs)}[{rng.randrange(100, 99999)}]: {msg}\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def clone_files(i):
    rng = random.Random(1000 + i)
    host = f"vm-clone-{i:02d}"
    return {
        "/etc/hostname": f"{host}\n".encode(),
        "/etc/machine-id": ("%032x\n" % rng.getrandbits(128)).encode(),
        "/etc/ssh/ssh_host_ed25519_key.pub": ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%s root@%s\n" % (rng.randbytes(24).hex(), host)).encode(),
        "/var/log/sa-bench/syslog": log_text(rng, host, CLONE_LOG),
        "/var/lib/sa-bench/state.bin": rng.randbytes(CLONE_BLOB),
    }


def debugfs_write(image, files, scratch):
    """Writes files into an unmounted ext4 image (debugfs -w), then reads each back to check."""
    cmds = []
    for k, (path, data) in enumerate(files.items()):
        src = os.path.join(scratch, f"f{k}")
        with open(src, "wb") as f:
            f.write(data)
        parent, name = os.path.split(path)
        parts = parent.strip("/").split("/")
        for d in range(1, len(parts) + 1):
            cmds.append("mkdir /" + "/".join(parts[:d]))  # an existing folder is only an error message
        cmds += [f"cd {parent}", f"rm {name}", f"write {src} {name}", "cd /"]
    cmdfile = os.path.join(scratch, "debugfs.cmd")
    with open(cmdfile, "w") as f:
        f.write("\n".join(cmds) + "\n")
    run(["debugfs", "-w", "-f", cmdfile, image])
    for k, (path, data) in enumerate(files.items()):
        back = os.path.join(scratch, f"b{k}")
        run(["debugfs", "-R", f"dump {path} {back}", image])
        with open(back, "rb") as f:
            if f.read() != data:
                raise RuntimeError(f"debugfs did not write {path} into {image}")


def compare_images(base, clone, block=4096, chunk=MiB):
    """Bytes (in 4 KiB blocks) where clone differs from base, and non-zero 4 KiB blocks of the clone."""
    changed = nonzero = 0
    zero = bytes(block)
    with open(base, "rb") as a, open(clone, "rb") as b:
        while True:
            x, y = a.read(chunk), b.read(chunk)
            if not y:
                break
            if y.count(0) != len(y):
                for o in range(0, len(y), block):
                    if y[o:o + block] != zero:
                        nonzero += block
            if x != y:
                for o in range(0, len(y), block):
                    if x[o:o + block] != y[o:o + block]:
                        changed += block
    return changed, nonzero


def dataset():
    """The cached data set: base.raw, clone-1.raw .. clone-4.raw and manifest.json; built when missing."""
    d = os.path.join(DATASET, "quick" if QUICK else "full")
    manifest_path = os.path.join(d, "manifest.json")
    if os.environ.get("REBUILD") != "1" and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            m = json.load(f)
        files = [os.path.join(d, c["file"]) for c in m.get("clones", [])]
        if m.get("recipe") == RECIPE and m.get("image_size") == IMAGE_SIZE and len(files) == CLONES and \
                all(os.path.exists(p) and os.path.getsize(p) == IMAGE_SIZE for p in files):
            log(f"data set: cached in {d} ({m['source']})")
            m["dir"] = d
            return m
        log(f"data set in {d} is from another recipe or incomplete: rebuilding")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    t0 = time.time()
    scratch = tempfile.mkdtemp(prefix="build.", dir=d)
    staging = os.path.join(scratch, "rootfs")
    os.makedirs(staging)
    notes = []
    try:
        source = debootstrap(staging, os.path.join(scratch, "debootstrap.log"))
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        notes.append(f"debootstrap failed ({str(e).strip()[-300:]}); used a copy of this machine's files instead")
        log(notes[-1])
        unmount_under(staging)
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        copied = copy_this_machine(staging, int(IMAGE_SIZE * 0.6))
        source = f"a copy of this machine's /etc, /var/lib/dpkg and /usr ({copied / MiB:,.0f} MiB, up to 60% of the image)"
    staged = int(run(["du", "-sb", staging]).stdout.split()[0])
    packages = 0
    status = os.path.join(staging, "var/lib/dpkg/status")
    if os.path.exists(status):
        with open(status, errors="replace") as f:
            packages = sum(1 for l in f if l.startswith("Package: "))
    base = os.path.join(d, "base.raw")
    log(f"mke2fs -t ext4 -d: {staged / MiB:,.0f} MiB of files into a {IMAGE_SIZE / MiB:,.0f} MiB raw image")
    # A fixed UUID and hash seed: the same recipe makes the same file system layout each time.
    run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "rootfs", "-U", "5a1b0c3d-dedb-4e2c-9a55-000000000001",
         "-E", "nodiscard,hash_seed=5a1b0c3d-dedb-4e2c-9a55-000000000002", "-d", staging, base, str(IMAGE_SIZE // 1024) + "k"],
        timeout=1800)
    fsck = run(["e2fsck", "-fn", base], check=False)
    if fsck.returncode != 0:
        raise RuntimeError(f"e2fsck finds the new image damaged: {fsck.stdout[-500:]}")
    used = fsck.stdout.strip().splitlines()[-1]
    shutil.rmtree(staging)
    clones = []
    for i in range(1, CLONES + 1):
        path = os.path.join(d, f"clone-{i}.raw")
        log(f"clone {i}: copy of the base image with its own host name, machine id, log and state (debugfs -w)")
        run(["cp", "--sparse=always", base, path])
        files = clone_files(i)
        debugfs_write(path, files, scratch)
        fsck = run(["e2fsck", "-fn", path], check=False)
        if fsck.returncode != 0:
            raise RuntimeError(f"e2fsck finds clone {i} damaged: {fsck.stdout[-500:]}")
        changed, nonzero = compare_images(base, path)
        clones.append(dict(file=os.path.basename(path), bytes=os.path.getsize(path), changed_bytes=changed,
                           nonzero_bytes=nonzero, files_written={k: len(v) for k, v in files.items()}))
    shutil.rmtree(scratch, ignore_errors=True)
    m = dict(recipe=RECIPE, variant="quick" if QUICK else "full", source=source, suite=suite(), mirror=MIRROR,
             image_size=IMAGE_SIZE, staged_bytes=staged, packages=packages, fsck=used, clones=clones, notes=notes,
             built=datetime.datetime.now().isoformat(timespec="seconds"), build_seconds=round(time.time() - t0),
             tools=dict(debootstrap=pkg_version("debootstrap"), e2fsprogs=pkg_version("e2fsprogs")))
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(m, f, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)  # written last: a data set without it is rebuilt
    log(f"data set built in {m['build_seconds']} s: {d}")
    m["dir"] = d
    return m


# ------------------------------------------------------------------------------------------- appliance
def du(path):
    """(apparent bytes as du -sb, allocated bytes as du -s -B1) of a folder."""
    if not os.path.exists(path):
        return None, None
    a = int(run(["du", "-sb", path]).stdout.split()[0])
    b = int(run(["du", "-s", "-B1", path]).stdout.split()[0])
    return a, b


def folder_state(path):
    n = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
                n = n * 31 + st.st_size + st.st_blocks * 7 + int(st.st_mtime_ns // 1_000_000)
            except OSError:
                pass
    return n


class Appliance:
    bindir = None

    def __init__(self, work, name, config_body):
        # Run from a private copy: someone may republish out/ while this runs.
        if Appliance.bindir is None:
            Appliance.bindir = os.path.join(work, "appliance-bin")
            shutil.copytree(os.path.dirname(os.path.abspath(APPLIANCE)), Appliance.bindir)
        self.exe = os.path.join(Appliance.bindir, os.path.basename(APPLIANCE))
        self.work = os.path.join(work, name)
        os.makedirs(self.work)
        self.data = os.path.join(self.work, "data")
        self.disks = os.path.join(self.data, "disks")
        self.port = free_port()
        self.config = os.path.join(self.work, "appliance.yaml")
        with open(self.config, "w") as f:
            f.write(f"# Written by bench/dedup.py\nappliance:\n  name: {name}\n  data_dir: {self.data}\n"
                    f"iscsi:\n  listen: [\"127.0.0.1:{self.port}\"]\n  nop_in_interval: 0\n"
                    + config_body.replace("@DATA@", self.data))
        self.logpath = os.path.join(self.work, "appliance.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen([self.exe, "run", "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.work, start_new_session=True)
        try:
            wait_port(self.port, self.proc, "the appliance")
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"the appliance did not start; its log:\n{self.tail()}")

    def tail(self, n=2000):
        with open(self.logpath, errors="replace") as f:
            return f.read()[-n:]

    def url(self, lun):
        return f"iscsi://127.0.0.1:{self.port}/{IQN}/{lun}"

    def cli(self, *args, timeout=600):
        return run([self.exe, *args, "--data-dir", self.data], timeout=timeout, check=False)

    def alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"the appliance exited ({self.proc.returncode}); its log ends:\n{self.tail()}")

    def ticks(self):
        return cpu_ticks(self.proc.pid) or 0

    def settle(self, timeout=900):
        """Waits until the appliance is idle (its data folder unchanged and under 5% of a core, 3 s running):
        the journal drained and the extent store caught up. Returns (seconds until the last change, CPU seconds)."""
        t0, c0 = time.time(), self.ticks()
        last_state, last_change, quiet, prev = None, t0, 0, c0
        while time.time() - t0 < timeout:
            time.sleep(1)
            self.alive()
            state, c = folder_state(self.data), self.ticks()
            if state == last_state and (c - prev) / CLK_TCK < 0.05:
                quiet += 1
                if quiet >= 3:
                    return last_change - t0, (c - c0) / CLK_TCK
            else:
                quiet, last_change = 0, time.time()
            last_state, prev = state, c
        log(f"the appliance was still busy after {timeout} s")
        return time.time() - t0, (self.ticks() - c0) / CLK_TCK

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                log("the appliance did not stop in 60 s: SIGKILL")
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def entry_name(entry, *keys):
    return next((entry[k] for k in keys if isinstance(entry.get(k), str)), None)


def data_reduction(stats, containers):
    """The dataReduction section of `stats --json` for the named containers; Missing if the keys are not there.
    A container entry is named by "name" (the contract) or "container" (what the engine prints); the vDisk list
    is "vdisks" or "vDisks", its entries named by "name" or "vDisk"."""
    dr = stats.get("dataReduction")
    if not isinstance(dr, dict) or not isinstance(dr.get("containers"), list):
        raise Missing("`appliance stats --json` has no dataReduction.containers section (expected "
                      "{\"dataReduction\": {\"containers\": [{\"name\", \"logicalBytes\", \"storedBytes\", \"savedBytes\", ...}], "
                      "\"vdisks\": [...]}}): this appliance build does not report data reduction yet")
    out = {}
    for name in containers:
        c = next((c for c in dr["containers"] if isinstance(c, dict) and entry_name(c, "name", "container") == name), None)
        if c is None:
            raise Missing(f"dataReduction.containers has no entry named '{name}' (by \"name\" or \"container\"): "
                          f"{json.dumps(dr['containers'])[:300]}")
        for key in ("logicalBytes", "storedBytes"):
            if not isinstance(c.get(key), int):
                raise Missing(f"dataReduction.containers['{name}'] has no integer {key}: {json.dumps(c)[:300]}")
        out[name] = c
    vdisks = dr.get("vdisks", dr.get("vDisks"))
    vdisks = [dict(v, name=entry_name(v, "name", "vDisk")) for v in vdisks if isinstance(v, dict)] if isinstance(vdisks, list) else []
    return out, vdisks


def measure(app, containers, folders, notes, label):
    """Curator pass, then the stats and the disk use of the pool folders, once the appliance is idle."""
    drain_s, drain_cpu = app.settle()
    r = app.cli("curator", "scan", "--json")
    curator = dict(rc=r.returncode, out=(r.stdout + r.stderr).strip()[-400:], report=None)
    if r.returncode == 0 and "{" in r.stdout:
        try:
            curator["report"] = json.loads(r.stdout[r.stdout.index("{"):])
        except ValueError:
            pass
    if r.returncode != 0:
        first = ((r.stderr or r.stdout).strip().splitlines() or ["no output"])[0][:200]
        msg = f"{label}: `appliance curator scan` failed (exit {r.returncode}): {first}"
        if STRICT:
            raise Missing(msg + " (the Curator command may not be in this build yet; STRICT=0 carries on without it)")
        notes.append(msg)
        log(msg)
    else:
        app.settle()
    r = app.cli("stats", "--json", "--interval", "0")
    if r.returncode != 0:
        raise RuntimeError(f"appliance stats --json failed: {r.stderr.strip()}")
    with open(os.path.join(app.work, f"stats-{label.replace(' ', '-')}.json"), "w") as f:
        f.write(r.stdout)
    stats = json.loads(r.stdout[r.stdout.index("{"):])
    figures = dict(label=label, drain_seconds=drain_s, drain_cpu=drain_cpu, curator=curator, stats=stats,
                   du={name: du(path) for name, path in folders.items()}, breakdown=breakdown(app.disks),
                   containers=None, vdisks=[])
    try:
        figures["containers"], figures["vdisks"] = data_reduction(stats, containers)
    except Missing as e:
        if STRICT:
            raise Missing(f"{label}: {e}. STRICT=0 runs the rest of the benchmark anyway.") from None
        notes.append(f"{label}: {e}")
        log(notes[-1])
    return figures


# ------------------------------------------------------------------------------------------- part 1
def part1(work, ds, notes):
    d = ds["dir"]
    clones = [os.path.join(d, c["file"]) for c in ds["clones"]]
    size = ds["image_size"]
    total = sum(os.path.getsize(p) for p in clones)
    vdisks = "".join(f"  - {{name: clone{i}, container: clones, size: {size}}}\n" for i in range(1, CLONES + 1))
    luns = "".join(f"      - {{lun: {i - 1}, vdisk: clone{i}}}\n" for i in range(1, CLONES + 1))
    reduction = f"    compression: {COMPRESSION}\n" + (f"    compression_level: {LEVEL}\n" if COMPRESSION == "zstd" else "")
    if CHUNK:
        reduction += f"    dedup_chunk: {CHUNK}\n"
    body = ("containers:\n  - name: clones\n    dedup: true\n" + reduction + "    data_contraction: inline\n"
            "    post_process_delay: 1s\n"
            f"vdisks:  # dedup follows the container\n{vdisks}targets:\n  - name: {IQN}\n    luns:\n{luns}")
    log(f"part 1: appliance with one container (dedup, {COMPRESSION}, inline), one vDisk per clone")
    app = Appliance(work, "part1", body)
    res = dict(total=total, size=size, writes=[], verify=[], config=body)
    try:
        res["empty_du"] = du(app.disks)
        folders = {"disks": app.disks}
        for i, path in enumerate(clones, 1):
            log(f"part 1: qemu-img convert clone {i} to LUN {i - 1}")
            t0, c0 = time.time(), app.ticks()
            run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", path, app.url(i - 1)], timeout=3600)
            secs, cpu = time.time() - t0, (app.ticks() - c0) / CLK_TCK
            app.alive()
            drain_s, drain_cpu = app.settle()
            res["writes"].append(dict(clone=i, seconds=secs, cpu=cpu, drain_seconds=drain_s, drain_cpu=drain_cpu))
            if i == 1:
                res["after1"] = measure(app, ["clones"], folders, notes, "part 1 after clone 1")
        res["after4"] = measure(app, ["clones"], folders, notes, f"part 1 after all {CLONES} clones")
        if VERIFY:
            for i, path in enumerate(clones, 1):
                log(f"part 1: qemu-img compare clone {i} with LUN {i - 1}")
                r = run(["qemu-img", "compare", "-f", "raw", "-F", "raw", path, app.url(i - 1)], timeout=3600, check=False)
                res["verify"].append((i, r.returncode, (r.stdout + r.stderr).strip().splitlines()[-1:] or [""]))
                if r.returncode != 0:
                    notes.append(f"clone {i} read back from the appliance differs from its file: {r.stdout.strip()[-200:]}")
                    log(notes[-1])
    finally:
        app.stop()
        shutil.copy(app.logpath, os.path.join(work, "part1-appliance.log"))
    res["restic"] = restic(work, d, [os.path.basename(p) for p in clones])
    return res


def restic(work, d, files):
    repo = os.path.join(work, "restic-repo")
    env = {**os.environ, "RESTIC_PASSWORD": "dedup-bench", "RESTIC_REPOSITORY": repo,
           "RESTIC_CACHE_DIR": os.path.join(work, "restic-cache")}
    version = first_line(["restic", "version"])
    log(f"restic: {version}: init, then one backup per clone")
    run(["restic", "init"], env=env, timeout=120)
    repo_version = None
    r = run(["restic", "cat", "config"], env=env, check=False, timeout=120)
    if r.returncode == 0:
        repo_version = json.loads(r.stdout).get("version")
    out = dict(version=version, repo_version=repo_version, backups=[])
    for i, name in enumerate(files, 1):
        t0 = time.time()
        run(["restic", "backup", "--host", f"vm-clone-{i:02d}", name], env=env, cwd=d, timeout=3600)
        secs = time.time() - t0
        st = json.loads(run(["restic", "stats", "--mode", "raw-data", "--json"], env=env, timeout=600).stdout)
        out["backups"].append(dict(clone=i, seconds=secs, raw=st, du=du(repo)))
    return out


# ------------------------------------------------------------------------------------------- part 2
WORKLOADS = [("4k-randwrite-qd32", "randwrite", "4k", 32), ("1m-write-qd4", "write", "1m", 4)]


def fio_json(path):
    with open(path) as f:
        text = f.read()
    job = json.loads(text[text.index("{"):])["jobs"][0]
    w = job["write"]
    return dict(iops=w["iops"], mbs=w["bw_bytes"] / 1e6, bytes=w["io_bytes"],
                p99=w.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1e6)


def fio(app, lun, name, rw, bs, qd, out, timed=True):
    args = [FIO, f"--name={name}", "--ioengine=libiscsi", "--filename=" + app.url(lun).replace(":", "\\:"),
            f"--rw={rw}", f"--bs={bs}", f"--iodepth={qd}", "--numjobs=1", f"--size={FIO_SIZE}",
            "--output-format=json", f"--output={out}", *FIO_DATA]
    if timed:
        args += ["--time_based", f"--runtime={RUNTIME}", f"--ramp_time={RAMP}", "--norandommap", "--randrepeat=0"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    if timed:
        time.sleep(RAMP)  # CPU is counted over the measured window only
    c0, t0 = app.ticks(), time.time()
    try:
        _, err = proc.communicate(timeout=(RAMP + RUNTIME + 120) if timed else FIO_SIZE // 2_000_000 + 300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
        raise RuntimeError(f"fio {name} on LUN {lun} timed out")
    cpu, secs = (app.ticks() - c0) / CLK_TCK, time.time() - t0
    app.alive()
    if proc.returncode != 0:
        raise RuntimeError(f"fio {name} on LUN {lun} failed ({proc.returncode}): {err.strip()[-500:]}")
    return cpu, secs


def part2(work, notes):
    body = ("pools:\n"
            "  - {name: reduce, disks: [{path: @DATA@/disks/reduce, tier: ssd}]}\n"
            "  - {name: plain, disks: [{path: @DATA@/disks/plain, tier: ssd}]}\n"
            "containers:\n"
            "  - {name: reduce, pool: reduce, dedup: true, compression: lz4, data_contraction: inline}\n"
            "  - {name: plain, pool: plain, dedup: false, compression: none}\n"
            f"vdisks:\n  - {{name: reduce0, container: reduce, size: {FIO_SIZE}, write_cache: true}}\n"
            f"  - {{name: plain0, container: plain, size: {FIO_SIZE}, write_cache: true}}\n"
            f"targets:\n  - name: {IQN}\n    luns:\n      - {{lun: 0, vdisk: reduce0}}\n      - {{lun: 1, vdisk: plain0}}\n")
    luns = {"reduce": 0, "plain": 1}
    log("part 2: appliance with containers reduce (dedup, lz4, inline) and plain, one vDisk each")
    app = Appliance(work, "part2", body)
    raw = os.path.join(work, "fio")
    os.makedirs(raw)
    res = dict(points=[], config=body, prefill=[])
    try:
        for c in ("reduce", "plain"):
            log(f"part 2: prefill, one sequential 1 MiB pass over {FIO_SIZE / MiB:,.0f} MiB of {c}")
            out = os.path.join(raw, f"prefill-{c}.json")
            cpu, secs = fio(app, luns[c], "prefill", "write", "1m", 8, out, timed=False)
            drain_s, drain_cpu = app.settle()
            res["prefill"].append(dict(container=c, seconds=secs, cpu=cpu, drain_seconds=drain_s, drain_cpu=drain_cpu,
                                       **fio_json(out)))
        n, total = 0, len(WORKLOADS) * REPEAT * 2
        for name, rw, bs, qd in WORKLOADS:
            for rep in range(1, REPEAT + 1):
                order = ["reduce", "plain"] if rep % 2 else ["plain", "reduce"]
                for c in order:
                    n += 1
                    log(f"part 2 [{n}/{total}]: {name} on {c} (rep {rep}, {RUNTIME} s)")
                    out = os.path.join(raw, f"{name}-{c}-r{rep}.json")
                    cpu, secs = fio(app, luns[c], name, rw, bs, qd, out)
                    drain_s, drain_cpu = app.settle()
                    res["points"].append(dict(workload=name, container=c, rep=rep, cpu=cpu, seconds=secs,
                                              drain_seconds=drain_s, drain_cpu=drain_cpu, **fio_json(out)))
        res["after"] = measure(app, ["reduce", "plain"],
                               {"reduce": os.path.join(app.disks, "reduce"), "plain": os.path.join(app.disks, "plain"),
                                "disks": app.disks}, notes, "part 2 after the fio runs")
    finally:
        app.stop()
        shutil.copy(app.logpath, os.path.join(work, "part2-appliance.log"))
    return res


# ------------------------------------------------------------------------------------------- report
def newest_mtime(folder):
    return max((e.stat().st_mtime for e in os.scandir(folder) if e.is_file()), default=0)


def machine_facts():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    commit = first_line(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    dirty = run(["git", "-C", REPO, "status", "--porcelain", "--", "src"], check=False).stdout.strip()
    df = run(["df", "-PT", BENCH_TMP], check=False).stdout.splitlines()[-1].split()
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    return [
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"checkout at commit {commit}" + (" (with uncommitted changes under src/)" if dirty else "") +
        f"; appliance: {APPLIANCE} (version {first_line([APPLIANCE, '--version'])}, newest file of its folder "
        f"{datetime.datetime.fromtimestamp(newest_mtime(os.path.dirname(os.path.abspath(APPLIANCE)))).isoformat(timespec='seconds')})"
        + (f" from commit {os.environ['APPLIANCE_COMMIT']}" if os.environ.get("APPLIANCE_COMMIT") else ""),
        f"machine: nproc {os.cpu_count()} ({cpu}), {int(mem) / 1024 ** 2:.0f} GiB RAM, kernel {os.uname().release}; "
        f"load average at start {' '.join(open('/proc/loadavg').read().split()[:3])}",
        f"scratch file system (appliance data, restic repository): {df[0]} ({df[1]}) at {df[6]}",
        f"qemu-img: {first_line(['qemu-img', '--version'])}; restic: {first_line(['restic', 'version'])}; "
        f"fio: {first_line([FIO, '--version'])}; e2fsprogs {pkg_version('e2fsprogs')}; debootstrap {pkg_version('debootstrap')}",
    ]


def dr_row(fig, name):
    if not fig or not fig.get("containers"):
        return None
    return fig["containers"].get(name)


def report_part1(res, ds):
    total, size = res["total"], res["size"]
    a1, a4 = res["after1"], res["after4"]
    c1, c4 = dr_row(a1, "clones"), dr_row(a4, "clones")
    md = ["## Part 1: data reduction on four cloned VM images", ""]
    rows = []
    goal = None

    def row(label, after1, after4):
        r = total / after4 if after4 else None
        ideal = CLONES * size / after1 if after1 else None
        within = None if r is None or ideal is None else r >= 0.9 * ideal
        rows.append(f"| {label} | {gib(after1)} | {gib(after4)} | {ratio_text(r)} | {ratio_text(ideal)} | "
                    f"{'–' if within is None else ('yes' if within else 'NO')} ({'–' if r is None or not ideal else f'{r / ideal * 100:.0f}%'}) |")
        return r, ideal, within

    if c1 and c4:
        goal = row("appliance: stats storedBytes (container)", c1["storedBytes"], c4["storedBytes"])
    else:
        rows.append("| appliance: stats storedBytes (container) | missing | missing | – | – | – |")
    row("appliance: pool folder, du -sb (apparent)", a1["du"]["disks"][0], a4["du"]["disks"][0])
    row("appliance: pool folder, du -s -B1 (allocated)", a1["du"]["disks"][1], a4["du"]["disks"][1])
    rb = res["restic"]["backups"]
    row("restic: repository, du -sb", rb[0]["du"][0], rb[-1]["du"][0])
    row("restic: stats --mode raw-data total_size", rb[0]["raw"].get("total_size"), rb[-1]["raw"].get("total_size"))
    md += [f"Numerator of every ratio: the {CLONES} clone files, {total:,} bytes ({gib(total)}); "
           f"ideal = {CLONES} x {size:,} / stored after clone 1 (clones 2 to {CLONES} cost nothing); goal: within 10% of ideal.", "",
           "| stored | after clone 1 | after all 4 | ratio | ideal for identical clones | within 10% of ideal |",
           "|---|---:|---:|---:|---:|---|", *rows, ""]
    if goal:
        r, ideal, within = goal
        md.append(f"**Goal (appliance within 10% of ideal, by stats storedBytes): {'met' if within else 'NOT met'}** "
                  f"({ratio_text(r)} against {ratio_text(ideal)}).")
    else:
        md.append("**Goal not measured: the appliance reported no dataReduction figures** (see notes).")
    md.append("")
    if c1 and c4:
        md += ["Container `clones`, from `appliance stats --json` (dataReduction):", "",
               "| | logicalBytes | storedBytes | savedBytes |", "|---|---:|---:|---:|"]
        for label, c in (("after clone 1", c1), ("after all 4", c4)):
            md.append(f"| {label} | {num(c['logicalBytes'])} | {num(c['storedBytes'])} | {num(c.get('savedBytes'))} |")
        if a4.get("vdisks"):
            md += ["", "| vDisk (after all 4) | logicalBytes | storedBytes |", "|---|---:|---:|"]
            for v in a4["vdisks"]:
                md.append(f"| {v.get('name')} | {num(v.get('logicalBytes'))} | {num(v.get('storedBytes'))} |")
        md += ["", "Raw dataReduction after all four: `" + json.dumps(a4["stats"].get("dataReduction"), separators=(",", ":"))[:3000] + "`", ""]
    e = res["empty_du"]
    md += [f"The pool folder of the empty appliance (before any write): {e[0]:,} bytes apparent, {e[1]:,} allocated "
           f"(included above). After all four, by folder (du -sb): {breakdown_text(a4)}.", "",
           f"Curator pass after all four (`curator scan --json`): {curator_text(a4)}", ""]
    md += ["| clone | qemu-img convert s | MB/s (file bytes) | appliance CPU s (write) | drain after: s / CPU s | read back (qemu-img compare) |",
           "|---|---:|---:|---:|---:|---|"]
    verify = {i: (rc, msg) for i, rc, msg in res["verify"]}
    for w in res["writes"]:
        v = verify.get(w["clone"])
        vt = "not checked" if v is None else ("identical" if v[0] == 0 else f"DIFFERS ({v[0]}: {' '.join(v[1])})")
        md.append(f"| {w['clone']} | {w['seconds']:.1f} | {size / w['seconds'] / 1e6:,.0f} | {w['cpu']:.1f} | "
                  f"{w['drain_seconds']:.1f} / {w['drain_cpu']:.1f} | {vt} |")
    rs = res["restic"]
    md += ["", f"restic: {rs['version']}, repository version {rs['repo_version']}, one `restic backup` per clone into a "
               "fresh repository on the same file system:", "",
           "| after backup of clone | seconds | repository du -sb | raw-data total_size | raw-data blobs |", "|---|---:|---:|---:|---:|"]
    for b in rs["backups"]:
        md.append(f"| {b['clone']} | {b['seconds']:.1f} | {b['du'][0]:,} | {b['raw'].get('total_size', 0):,} | {b['raw'].get('total_blob_count', '–')} |")
    md.append("")
    return md


def breakdown(disks):
    """Apparent bytes (du -sb) of each folder inside each disk of the pools: {disk: {egroups: N, journal: N}}."""
    out = {}
    if os.path.isdir(disks):
        for disk in sorted(os.listdir(disks)):
            dp = os.path.join(disks, disk)
            if os.path.isdir(dp):
                out[disk] = {kind: du(os.path.join(dp, kind))[0] for kind in sorted(os.listdir(dp))
                             if os.path.isdir(os.path.join(dp, kind))}
    return out


def breakdown_text(fig):
    return "; ".join(f"{disk}: " + ", ".join(f"{k} {v:,}" for k, v in kinds.items())
                     for disk, kinds in fig["breakdown"].items()) or "–"


def curator_text(fig):
    c = fig["curator"]
    if c["rc"] != 0:
        return f"failed (exit {c['rc']})"
    return "`" + json.dumps(c["report"], separators=(",", ":"))[:1500] + "`" if c["report"] is not None else c["out"][-300:]


def report_dataset(ds):
    md = ["## The data set", "",
          f"- base: {ds['source']}; {ds['packages']} Debian packages, {ds['staged_bytes'] / MiB:,.0f} MiB of files, "
          f"in an ext4 raw image of {ds['image_size'] / MiB:,.0f} MiB made with `mke2fs -t ext4 -d` (no mount); "
          f"e2fsck: {ds['fsck']}",
          f"- {CLONES} clones: copies of the base, each with its own /etc/hostname, /etc/machine-id, an ssh host key, "
          f"{CLONE_LOG / MiB:.0f} MiB of syslog-like text (/var/log/sa-bench/syslog) and {CLONE_BLOB // 1024} KiB of random "
          "state (/var/lib/sa-bench/state.bin), written with `debugfs -w`",
          f"- cached in {ds['dir']} (built {ds['built']} in {ds['build_seconds']} s; rebuilt only when missing or REBUILD=1)", "",
          "| clone | bytes | non-zero 4 KiB blocks | changed against the base (4 KiB blocks) |", "|---|---:|---:|---:|"]
    for i, c in enumerate(ds["clones"], 1):
        md.append(f"| {i} | {c['bytes']:,} | {c['nonzero_bytes']:,} ({c['nonzero_bytes'] / c['bytes'] * 100:.0f}%) | "
                  f"{c['changed_bytes']:,} ({c['changed_bytes'] / c['bytes'] * 100:.2f}%) |")
    md += [f"- notes: {n}" for n in ds.get("notes", [])]
    md.append("")
    return md


def report_part2(res):
    md = ["## Part 2: fio with data reduction on (reduce) and off (plain)", "",
          f"One appliance, containers `reduce` (dedup, LZ4, inline) and `plain` (neither), each in its own pool, one "
          f"{FIO_SIZE / MiB:,.0f} MiB vDisk each (write cache on). fio {' '.join(FIO_DATA)}, libiscsi engine; each point "
          f"{RUNTIME} s after {RAMP} s ramp, {REPEAT} repetition(s), containers alternated (ABBA), after one sequential "
          "pass over each vDisk. CPU s: the appliance's CPU seconds in the measured window, and after it while the journal "
          "drained (the reduction runs as the journal drains). Medians; the ratio is the median of per-repetition ratios.", "",
          "| workload | reduce IOPS | plain IOPS | ratio | reduce MB/s | plain MB/s | reduce CPU s (window + drain) | "
          "plain CPU s (window + drain) | reduce / plain CPU ms per MiB written |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, *_ in WORKLOADS:
        pts = {c: [p for p in res["points"] if p["workload"] == name and p["container"] == c] for c in ("reduce", "plain")}
        if not pts["reduce"] and not pts["plain"]:
            continue
        byrep = {p["rep"]: p for p in pts["plain"]}
        ratios = [p["iops"] / byrep[p["rep"]]["iops"] for p in pts["reduce"] if byrep.get(p["rep"]) and byrep[p["rep"]]["iops"]]

        def m(c, k):
            return median([p[k] for p in pts[c]])

        def per_mib(c):
            return median([(p["cpu"] + p["drain_cpu"]) * 1000 / (p["bytes"] / MiB) for p in pts[c] if p["bytes"]])
        f = lambda v, fmt="{:,.0f}": "–" if v is None else fmt.format(v)
        md.append(f"| {name} | {f(m('reduce', 'iops'))} | {f(m('plain', 'iops'))} | {ratio_text(median(ratios))} | "
                  f"{f(m('reduce', 'mbs'), '{:,.1f}')} | {f(m('plain', 'mbs'), '{:,.1f}')} | "
                  f"{f(m('reduce', 'cpu'), '{:.1f}')} + {f(m('reduce', 'drain_cpu'), '{:.1f}')} | "
                  f"{f(m('plain', 'cpu'), '{:.1f}')} + {f(m('plain', 'drain_cpu'), '{:.1f}')} | "
                  f"{f(per_mib('reduce'), '{:.2f}')} / {f(per_mib('plain'), '{:.2f}')} |")
    md += ["", "Every point:", "", "| workload | container | rep | IOPS | MB/s | p99 ms | CPU s window | drain s / CPU s |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for p in res["prefill"]:
        md.append(f"| prefill | {p['container']} | – | {p['iops']:,.0f} | {p['mbs']:,.1f} | {p['p99']:.2f} | {p['cpu']:.1f} | "
                  f"{p['drain_seconds']:.1f} / {p['drain_cpu']:.1f} |")
    for p in res["points"]:
        md.append(f"| {p['workload']} | {p['container']} | {p['rep']} | {p['iops']:,.0f} | {p['mbs']:,.1f} | {p['p99']:.2f} | "
                  f"{p['cpu']:.1f} | {p['drain_seconds']:.1f} / {p['drain_cpu']:.1f} |")
    a = res["after"]
    md += ["", "After the writes (Curator pass, then `stats --json`; du of each pool's folder):", "",
           "| container | logicalBytes | storedBytes | savedBytes | logical / stored | pool folder du -sb | du -s -B1 | du -sb / storedBytes |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in ("reduce", "plain"):
        row = dr_row(a, c) or {}
        d = a["du"][c]
        stored = row.get("storedBytes")
        r = row["logicalBytes"] / stored if stored else None
        amp = d[0] / stored if stored and d[0] is not None else None
        md.append(f"| {c} | {num(row.get('logicalBytes'))} | {num(stored)} | {num(row.get('savedBytes'))} | {ratio_text(r)} | "
                  f"{num(d[0])} | {num(d[1])} | {ratio_text(amp)} |")
    row = dr_row(a, "reduce")
    cur = a["curator"].get("report") or {}
    if row and row.get("storedBytes") and a["du"]["reduce"][0] and a["du"]["reduce"][0] > 1.5 * row["storedBytes"]:
        md += ["", f"Note: after the Curator pass the `reduce` pool's folder holds {a['du']['reduce'][0] / row['storedBytes']:.1f}x "
                   f"its storedBytes (and {a['du']['reduce'][0] / row['logicalBytes']:.1f}x its logicalBytes), though the pass reported "
                   f"{num(cur.get('bytesCollected'))} bytes collected and {num(cur.get('packsFreed'))} packs freed: "
                   "the extent group files did not shrink."]
    md += ["", f"By folder (du -sb; the journal of every vDisk lives on one disk): {breakdown_text(a)}.", "",
           f"Curator pass (`curator scan --json`): {curator_text(a)}"]
    if a.get("containers"):
        md += ["", "Raw dataReduction: `" + json.dumps(a["stats"].get("dataReduction"), separators=(",", ":"))[:3000] + "`"]
    md.append("")
    return md


def summary(res1, res2):
    md = ["## Summary", ""]
    if res1:
        total, size = res1["total"], res1["size"]
        c1, c4 = dr_row(res1["after1"], "clones"), dr_row(res1["after4"], "clones")
        rb = res1["restic"]["backups"]
        restic_r = total / rb[-1]["du"][0]
        du_r = total / res1["after4"]["du"]["disks"][0]
        if c1 and c4:
            r, ideal = total / c4["storedBytes"], CLONES * size / c1["storedBytes"]
            md.append(f"- {CLONES} cloned Debian images ({gib(total)}): the appliance stores {gib(c4['storedBytes'])}, "
                      f"{r:.2f}x, {r / ideal * 100:.0f}% of the ideal {ideal:.2f}x for identical clones "
                      f"({'within' if r >= 0.9 * ideal else 'NOT within'} 10%); restic's repository {gib(rb[-1]['du'][0])}, "
                      f"{restic_r:.2f}x; the appliance's pool folder (du -sb) {gib(res1['after4']['du']['disks'][0])}, {du_r:.2f}x")
        else:
            md.append(f"- {CLONES} cloned Debian images ({gib(total)}): appliance stats figures missing; pool folder (du -sb) "
                      f"{du_r:.2f}x; restic {restic_r:.2f}x")
        bad = [i for i, rc, _ in res1["verify"] if rc != 0]
        if res1["verify"]:
            md.append(f"- every clone read back identical: {'yes' if not bad else 'NO, clones ' + ', '.join(map(str, bad)) + ' differ'}")
    if res2:
        for name, *_ in WORKLOADS:
            pts = [p for p in res2["points"] if p["workload"] == name]
            byrep = {(p["rep"], p["container"]): p for p in pts}
            ratios = [byrep[(r, "reduce")]["iops"] / byrep[(r, "plain")]["iops"] for r in range(1, REPEAT + 1)
                      if (r, "reduce") in byrep and (r, "plain") in byrep and byrep[(r, "plain")]["iops"]]
            md.append(f"- fio {name}: reduce / plain = {ratio_text(median(ratios))} of the IOPS")
        row = dr_row(res2["after"], "reduce")
        if row and row.get("storedBytes"):
            md.append(f"- fio's data ({' '.join(FIO_DATA)}) in the reduce container: {row['logicalBytes'] / row['storedBytes']:.2f}x "
                      "(logicalBytes / storedBytes)")
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    md += [f"- load average at the end: {load} (other work on this {os.cpu_count()}-core machine makes timings noisy)", ""]
    return md


def main():
    if not PARTS <= {"1", "2"}:
        sys.exit("dedup: PARTS is a list of 1 and 2")
    ensure_tools(PARTS)
    meta = machine_facts()
    notes = []
    ds = dataset() if "1" in PARTS else None
    work = tempfile.mkdtemp(prefix="sa-dedup.", dir=BENCH_TMP)
    res1 = res2 = None
    ok = False
    try:
        if "1" in PARTS:
            res1 = part1(work, ds, notes)
        if "2" in PARTS:
            res2 = part2(work, notes)
        ok = True
    except Missing as e:
        print(f"dedup: {e}", file=sys.stderr)
        sys.exit(3)
    finally:
        if KEEP:
            log(f"kept {work}")
        elif ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            # Keep what explains the failure (configs, appliance logs, fio JSON), not the data.
            for sub in ("appliance-bin", "restic-repo", "restic-cache", "part1/data", "part2/data"):
                shutil.rmtree(os.path.join(work, sub), ignore_errors=True)
            log(f"kept the logs and configs in {work}")
    md = [f"# Data reduction: cloned VM images against restic, and fio with reduction on and off"
          + (" (QUICK smoke run)" if QUICK else ""), "", *[f"- {m}" for m in meta],
          f"- run by `{'QUICK=1 ' if QUICK else ''}python3 bench/dedup.py` (make bench-dedup); STRICT={int(STRICT)}", ""]
    md += summary(res1, res2)
    if notes:
        md += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    if ds:
        md += report_dataset(ds)
    if res1:
        md += report_part1(res1, ds)
    if res2:
        md += report_part2(res2)
    text = "\n".join(md)
    path = os.environ.get("RESULTS") or os.path.join(
        REPO, "bench", "results", f"dedup-{datetime.date.today():%Y-%m-%d}" + ("-quick" if QUICK else "") + ".md")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text + "\n")
    print(text)
    log(f"report: {path}")
    if notes:
        log(f"{len(notes)} note(s), see the report: figures may be missing")


if __name__ == "__main__":
    main()
