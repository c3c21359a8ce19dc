#!/usr/bin/env bash
# Installs and starts what the real worker and its tests need on a Debian
# machine, as root: debootstrap and Docker (docker.io) from Debian's
# packages, the Docker engine (dockerd, started here if it is not running),
# and, through `ol-worker init`, the base root filesystem (Debian minbase +
# python3, from the mirror apt uses) imported into Docker as ol-min.
# Safe to rerun. Expects `npm ci && npm run build` to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "setup-host.sh: must run as root (it installs packages and builds a root filesystem)" >&2
  exit 2
fi
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v dockerd >/dev/null || need+=(docker.io)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  mkdir -p /var/log/ol-lab
  nohup dockerd >/var/log/ol-lab/dockerd.log 2>&1 &
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.3; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/ol-lab/dockerd.log" >&2; exit 1; }
fi
node dist/worker/cli.js init --path "${OL_WORKER_DIR:-ol-worker}"
