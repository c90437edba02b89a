#!/usr/bin/env bash
# deploy/slurm/install.sh — install and start a single-node Slurm cluster on this machine.
#
# For development and `make test`: one node on 127.0.0.1 (Debian 12's Slurm 22.05), no systemd, no
# cgroups, no accounting database. Idempotent: when the node already answers `idle` (or is busy)
# the script only checks and exits in well under a second. Steps, each skipped when done:
#   1. packages munge, slurmctld, slurmd, slurm-client (apt; daemons are not started by the package);
#   2. a munge key and a running munged;
#   3. /etc/slurm/slurm.conf for this host (4 job slots per core, memory = 80 % of RAM, 256 MB per
#      CPU unless a job asks for more);
#   4. slurmctld and slurmd running; the node resumed if it was left down or drained;
#   5. wait until `sinfo` reports the node ready (default 90 s).
#
# Usage: deploy/slurm/install.sh [--check] [--help]
#   --check   only report status; exit 1 if the cluster is not ready.
#
# Needs root (or passwordless sudo) for apt and the daemons. Stop with deploy/slurm/stop.sh.
# To use an existing cluster instead, skip this script and run the worker on a login node:
#   genesis worker --hpc slurm --slurm-dir /shared/scratch/genesis [--slurm-partition P]
#
# Environment:
#   GENESIS_SLURM_WAIT   seconds to wait for the node to be ready (default 90)
#   GENESIS_SLURM_CPUS   CPUs the node advertises (default 4 × nproc: light jobs share a core)
#   GENESIS_SLURM_LOG    log directory (default /var/log/slurm)
set -euo pipefail

CHECK_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK_ONLY=1 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

WAIT="${GENESIS_SLURM_WAIT:-90}"
LOG_DIR="${GENESIS_SLURM_LOG:-/var/log/slurm}"
CONF=/etc/slurm/slurm.conf
say() { echo "slurm: $*"; }
die() { echo "slurm: $*" >&2; exit 1; }

node_state() { sinfo -h -N -o %T 2>/dev/null | head -n1 | tr -d '*~#!%$@^-' || true; }
ready() {
  case "$(node_state)" in
    idle|mixed|allocated|completing) return 0 ;;
  esac
  return 1
}

# The configuration this host should have (step 3 writes it).
HOST="$(hostname -s)"
# The node advertises more CPUs than it has (default 4 per core, with config_overrides) so that
# many light simulation jobs share it, as on an oversubscribed development partition.
CPUS="${GENESIS_SLURM_CPUS:-$(( $(nproc) * 4 ))}"
MEM_MB="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)"
want="$(cat <<EOF
# Written by genesis deploy/slurm/install.sh: a single-node cluster for development and tests.
ClusterName=genesis
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${LOG_DIR}/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
DefMemPerCPU=256
MailProg=/bin/true
MinJobAge=600
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=debug Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
)"
# Fast path: already up with this configuration.
if command -v sinfo >/dev/null 2>&1 && [ "$(cat "$CONF" 2>/dev/null || true)" = "$want" ] && ready; then
  say "ready: node $(sinfo -h -N -o %N | head -n1) is $(node_state) ($(sinfo -h -N -o '%c CPUs, %m MB'))"
  exit 0
fi
if [ "$CHECK_ONLY" = 1 ]; then
  say "not ready (node state: '$(node_state)'); run deploy/slurm/install.sh"
  exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || die "needs root or passwordless sudo to install and start Slurm"
  SUDO="sudo -n"
fi

# 1. Packages, without letting the package scripts start daemons (there is no init system here).
PKGS="munge slurmctld slurmd slurm-client"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "installing$missing (apt)…"
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    policy_created=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -q --no-install-recommends $missing >/tmp/genesis-slurm-apt.log 2>&1; then
    $SUDO apt-get update -q >>/tmp/genesis-slurm-apt.log 2>&1 || true
    $SUDO apt-get install -y -q --no-install-recommends $missing >>/tmp/genesis-slurm-apt.log 2>&1 \
      || { [ "$policy_created" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d; tail -20 /tmp/genesis-slurm-apt.log >&2; die "apt-get install failed (log: /tmp/genesis-slurm-apt.log)"; }
  fi
  [ "$policy_created" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
fi

# 2. Munge.
if [ ! -s /etc/munge/munge.key ]; then
  say "creating the munge key"
  $SUDO runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
    || { $SUDO mungekey --create --keyfile=/etc/munge/munge.key; $SUDO chown munge:munge /etc/munge/munge.key; }
  $SUDO chmod 0400 /etc/munge/munge.key
fi
$SUDO mkdir -p /run/munge && $SUDO chown munge:munge /run/munge
if ! pgrep -x munged >/dev/null; then
  say "starting munged"
  $SUDO runuser -u munge -- /usr/sbin/munged
fi

# 3. slurm.conf for this host.
$SUDO mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR"
changed=0
if [ "$(cat "$CONF" 2>/dev/null || true)" != "$want" ]; then
  say "writing $CONF ($CPUS CPUs, $MEM_MB MB on $HOST)"
  printf '%s\n' "$want" | $SUDO tee "$CONF.tmp" >/dev/null
  $SUDO mv "$CONF.tmp" "$CONF"
  changed=1
fi

# 4. Daemons.
if [ "$changed" = 1 ]; then
  $SUDO pkill -x slurmd 2>/dev/null || true
  $SUDO pkill -x slurmctld 2>/dev/null || true
  for _ in $(seq 50); do pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || break; sleep 0.1; done
fi
if ! pgrep -x slurmctld >/dev/null; then
  say "starting slurmctld"
  $SUDO /usr/sbin/slurmctld
fi
if ! pgrep -x slurmd >/dev/null; then
  say "starting slurmd"
  $SUDO /usr/sbin/slurmd
fi

# 5. Wait for the node; resume it if it was left down or drained.
deadline=$(( $(date +%s) + WAIT ))
resumed=0
until ready; do
  state="$(node_state)"
  if [ "$resumed" = 0 ] && { [ "$state" = down ] || [ "$state" = drained ] || [ "$state" = draining ]; }; then
    $SUDO scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    resumed=1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 2>/dev/null || true
    die "the node is not ready after ${WAIT}s (state '$state'); logs in $LOG_DIR"
  fi
  sleep 0.5
done
say "ready: node $HOST is $(node_state) ($(sinfo -h -N -o '%c CPUs, %m MB')); try: srun hostname"
