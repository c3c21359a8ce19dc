#!/usr/bin/env bash
# Sets a Debian machine up for ol-lab, as root. Safe to rerun.
# - Debian packages: debootstrap and docker.io (the worker's sandboxes),
#   iproute2, haproxy (ol-boss haproxy, and its test), python3-flask (the tests pack it into wheels to serve a Flask
#   lambda through the package cache, as a package index would), and the
#   cairo/pango/jpeg/gif/rsvg/pixman headers that the npm package canvas
#   (charts in reports) is built against;
# - npm packages (npm ci, which builds canvas from source) and the build;
# - the Docker engine: dockerd, started here if it is not running;
# - `ol-worker init`: the base root filesystem (Debian minbase + python3 + pip,
#   from the mirror apt uses) and the ol-min Docker image.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "setup-host.sh: must run as root (it installs packages and builds a root filesystem)" >&2
  exit 2
fi
pkgs=(debootstrap docker.io iproute2 python3-flask haproxy build-essential libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev libpixman-1-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
npm run build
if ! docker info >/dev/null 2>&1; then
  # a dockerd that was killed leaves its pid file behind; a new one refuses to start over it
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
  mkdir -p /var/log/ol-lab
  nohup dockerd >/var/log/ol-lab/dockerd.log 2>&1 &
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.3; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/ol-lab/dockerd.log" >&2; exit 1; }
fi
node dist/worker/cli.js init --path "${OL_WORKER_DIR:-ol-worker}"
