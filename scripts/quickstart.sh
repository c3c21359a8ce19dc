#!/usr/bin/env bash
# Sets ol-lab up on a fresh Debian machine with Node 20, as root (Debian
# packages, npm packages, dockerd, the worker's base root filesystem and
# image), then runs the main job end to end: the simulator's summary of the
# bundled 10-function Azure Functions 2019 sample, then the validation
# harness on it with its quick protocol, about ten minutes (calibrate on this
# machine, replay 100 trace minutes in 150 s on the real worker three times,
# simulate the same invocations, compare) with
# its report in out/validate/report/ (report.html, report.pdf, PNGs).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages, npm ci, build, dockerd, base root filesystem, ol-min image
bash scripts/setup-host.sh
node dist/sim/cli.js run openlambda \
  --trace azure2019:traces/data/azure2019/10 \
  --memory 16000 --cores 2 --seed 1 \
  --out out/quickstart --series 60000
node dist/experiments/cli.js validate --out out/validate
