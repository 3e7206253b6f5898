#!/usr/bin/env bash
# Installs every external client and peer the tests and benchmarks use, on a fresh Debian 12 machine.
# Idempotent: each step checks first, so a second run costs seconds.
#   apt: libiscsi-bin (iscsi-ls, iscsi-inq, iscsi-test-cu), libnfs-utils, qemu-utils, tgt,
#        nfs-ganesha (+vfs), rpcbind, liblz4/libzstd, the -dev packages fio needs, and afl++ (afl-fuzz).
#   dotnet tools: the repository's local tool manifest (.config/dotnet-tools.json: sharpfuzz, which
#        instruments the protocol assemblies for tests/Fuzz).
#   fio: Debian's own source package rebuilt with --enable-libiscsi --enable-libnfs (Debian's
#        binary lacks both engines), cached outside the checkout in $FIO_CACHE.
set -euo pipefail

FIO_CACHE=${FIO_CACHE:-/var/cache/storage-appliance/fio}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=()
for pkg in libiscsi-bin libnfs-utils qemu-utils tgt nfs-ganesha nfs-ganesha-vfs rpcbind \
           liblz4-1 libzstd1 libiscsi-dev libnfs-dev dpkg-dev build-essential pkg-config zlib1g-dev afl++; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done

updated=0
apt_update() {
  if [ $updated = 0 ]; then $SUDO apt-get update -qq; updated=1; fi
}

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need_apt[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The tgt and ganesha packages start system services; the tests and benchmarks start their own.
for svc in tgt nfs-ganesha; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

fio_ok() {
  [ -x "$FIO_CACHE/fio" ] && "$FIO_CACHE/fio" --enghelp 2>/dev/null | grep -q libiscsi \
    && "$FIO_CACHE/fio" --enghelp 2>/dev/null | grep -qw nfs
}

if ! fio_ok; then
  echo "install-deps: building fio with the libiscsi and nfs engines into $FIO_CACHE"
  if ! grep -rqs "^Types:.*deb-src" /etc/apt/sources.list.d/ && ! grep -qs "^deb-src" /etc/apt/sources.list; then
    # Same suites and mirror as the binary packages, source only.
    src=/etc/apt/sources.list.d/storage-appliance-src.sources
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | $SUDO tee "$src" >/dev/null
    else
      grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' | $SUDO tee /etc/apt/sources.list.d/storage-appliance-src.list >/dev/null
    fi
    updated=0
  fi
  apt_update
  work=$(mktemp -d)
  (
    cd "$work"
    apt-get source -qq fio >/dev/null 2>&1
    cd fio-*/
    ./configure --enable-libiscsi --enable-libnfs >configure.log 2>&1 || { cat configure.log; exit 1; }
    make -j"$(nproc)" >make.log 2>&1 || { tail -50 make.log; exit 1; }
    $SUDO mkdir -p "$FIO_CACHE"
    $SUDO cp fio "$FIO_CACHE/fio"
  )
  rm -rf "$work"
  fio_ok || { echo "install-deps: fio was built but lacks the libiscsi or nfs engine" >&2; exit 1; }
fi
# The sharpfuzz tool, pinned by the local tool manifest, so a fresh clone gets the same version.
if ! (cd "$(dirname "$0")/../.." && dotnet tool run sharpfuzz >/dev/null 2>&1); then
  echo "install-deps: dotnet tool restore (sharpfuzz)"
  (cd "$(dirname "$0")/../.." && dotnet tool restore >/dev/null)
fi
echo "install-deps: ok (fio at $FIO_CACHE/fio, afl-fuzz $(command -v afl-fuzz), sharpfuzz from .config/dotnet-tools.json)"
