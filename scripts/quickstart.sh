#!/usr/bin/env bash
# Sets ol-lab up on a fresh Debian machine with Node 20, as root (npm
# packages; debootstrap, Docker and the base root filesystem for the real
# worker), and runs the main job end to end: the simulator on the
# bundled 10-function Azure Functions 2019 sample, printing the summary
# table and writing results to out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages, npm ci, build, dockerd, base root filesystem, ol-min image
bash scripts/setup-host.sh
node dist/sim/cli.js run openlambda \
  --trace azure2019:traces/data/azure2019/10 \
  --memory 16000 --cores 2 --seed 1 \
  --out out/quickstart --series 60000
