#!/usr/bin/env bash
# deploy/ollama/stop.sh — stop the Ollama server that deploy/ollama/install.sh started.
# Uses ${GENESIS_HOME:-~/.genesis}/ollama.pid; does nothing when there is no pid file or the
# process is gone. A server started some other way is left alone.
set -euo pipefail

GENESIS_HOME="${GENESIS_HOME:-$HOME/.genesis}"
PID_FILE="$GENESIS_HOME/ollama.pid"

if [ ! -s "$PID_FILE" ]; then
  echo "ollama: no pid file ($PID_FILE); nothing to stop"
  exit 0
fi
pid="$(tr -dc '0-9' <"$PID_FILE")"
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
  echo "ollama: server (pid ${pid:-?}) already stopped"
  rm -f "$PID_FILE"
  exit 0
fi
# guard against a recycled pid: only stop an `ollama serve` process
if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'ollama.* serve'; then
  echo "ollama: pid $pid is not 'ollama serve' any more; removing stale $PID_FILE"
  rm -f "$PID_FILE"
  exit 0
fi

kill -TERM "$pid"
for _ in $(seq 1 40); do   # 10 s
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.25
done
if kill -0 "$pid" 2>/dev/null; then
  echo "ollama: server (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$PID_FILE"
echo "ollama: server (pid $pid) stopped"
