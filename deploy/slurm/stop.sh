#!/usr/bin/env bash
# deploy/slurm/stop.sh — stop the single-node Slurm cluster started by install.sh.
# Stops slurmd, slurmctld and munged; packages, configuration and state stay, so install.sh
# brings the same cluster back in seconds. Idempotent.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo -n"
for d in slurmd slurmctld munged; do
  if pgrep -x "$d" >/dev/null; then
    echo "slurm: stopping $d"
    $SUDO pkill -x "$d" || true
  fi
done
for _ in $(seq 100); do pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x munged >/dev/null || exit 0; sleep 0.1; done
echo "slurm: daemons still running after 10 s" >&2
exit 1
