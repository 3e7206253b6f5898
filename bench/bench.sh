#!/usr/bin/env bash
# make bench: installs what the benchmark needs (fio with the libiscsi and nfs engines, tgt, nfs-ganesha
# with the VFS FSAL, rpcbind, gnuplot), builds the appliance, then runs bench/run.py (see its header for
# QUICK=1, RUNTIME=, REPEAT=, SIZE=, SERVERS=). Every server it starts is stopped at the end, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup/install-deps.sh
if ! command -v gnuplot >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null
fi
make --no-print-directory build
exec python3 bench/run.py
