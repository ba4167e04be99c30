#!/usr/bin/env bash
# Offline demo: starts btcd on regtest on loopback, mines a burst of blocks
# and then one every few seconds, and runs two watchnode instances, one
# connected to btcd and listening, the other connected to btcd and to the
# first, and prints their dashboard addresses. Ctrl-C (or SIGTERM, SIGHUP)
# stops everything this script started, and then the script exits.
#
# Everything it writes stays in one folder, kept after it stops: btcd's
# chain, both nodes' data folders with node A's message captures, and the
# logs. The next run carries on from there; FRESH=1 deletes it first.
#
# Environment, with the defaults:
#   DEMO_DIR=.demo              the folder (relative to the repository)
#   FRESH=                      1: delete DEMO_DIR first and start afresh
#                               (DEMO_DIR must be new, empty or made by the demo)
#   DEMO_BTCD_PORT=18444        btcd's P2P port
#   DEMO_BTCD_RPC_PORT=18334    btcd's RPC port
#   DEMO_A_PORT=18555           node A's P2P port
#   DEMO_B_PORT=18556           node B's P2P port
#   DEMO_A_HTTP_PORT=8080       node A's dashboard and API
#   DEMO_B_HTTP_PORT=8081       node B's dashboard and API
#   DEMO_MINE_INTERVAL=5        seconds between mined blocks (fractions work)
#   SERVER=bin/server           the node
#   BTCD=.tools/bin/btcd BTCCTL=.tools/bin/btcctl
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER=${SERVER:-./bin/server}
BTCD=${BTCD:-.tools/bin/btcd}
BTCCTL=${BTCCTL:-.tools/bin/btcctl}
DEMO_DIR=${DEMO_DIR:-.demo}
INTERVAL=${DEMO_MINE_INTERVAL:-5}
P2P=127.0.0.1:${DEMO_BTCD_PORT:-18444}
RPC=127.0.0.1:${DEMO_BTCD_RPC_PORT:-18334}
A_P2P=127.0.0.1:${DEMO_A_PORT:-18555}
B_P2P=127.0.0.1:${DEMO_B_PORT:-18556}
A_HTTP=127.0.0.1:${DEMO_A_HTTP_PORT:-8080}
B_HTTP=127.0.0.1:${DEMO_B_HTTP_PORT:-8081}
# A regtest address with no known key (the hash160 of a fixed string): the
# demo's coinbase outputs go there and are never spent.
MINING_ADDR=mim5nRoCJHS5CpDxCzHMp19NCC1TfUJByo
# MARKER says a folder is the demo's own. The demo marks only a folder it
# creates or finds empty, and refuses any other folder without the marker,
# so neither a run nor FRESH=1 writes into or deletes a folder someone
# pointed DEMO_DIR at by mistake.
MARKER=.watchnode-demo
# STOP_LIMIT bounds the wait for the children after asking them to stop:
# each node promises 5 s; whatever is left then is killed.
STOP_LIMIT=15

for bin in "$SERVER" "$BTCD" "$BTCCTL"; do
  [ -x "$bin" ] || { echo "demo: $bin is missing; run make build tools (or set SERVER, BTCD, BTCCTL)" >&2; exit 1; }
done
# ls -A lists a file as itself, so a file at DEMO_DIR counts as non-empty.
if [ -e "$DEMO_DIR" ] && [ ! -e "$DEMO_DIR/$MARKER" ] && [ -n "$(ls -A "$DEMO_DIR")" ]; then
  echo "demo: refusing to use $DEMO_DIR: it is not empty and not a demo folder (no $MARKER in it)" >&2
  exit 1
fi
# Here DEMO_DIR is missing, empty or marked.
if [ "${FRESH:-}" = 1 ] && [ -e "$DEMO_DIR" ]; then rm -rf "$DEMO_DIR"; fi
mkdir -p "$DEMO_DIR"
DEMO_DIR=$(cd "$DEMO_DIR" && pwd)
[ -e "$DEMO_DIR/$MARKER" ] || touch "$DEMO_DIR/$MARKER"
echo "demo: data and logs in $DEMO_DIR (kept when the demo stops; FRESH=1 starts afresh)"

# The script's own output, kept on 3 and 4: a trap runs when the command
# it interrupted ends, inside that command's redirections (a signal during
# "ctl generate 1 >/dev/null" would send everything stop says to
# /dev/null), so stop writes there. Children do not inherit them.
exec 3>&1 4>&2

pids=()    # the children, stopped in reverse order
names=()
sleeper=   # the current sleep of the mining loop
stopping=

# stop ends every child and then the script, with status $1; it is the
# trap of every way out (a signal, an error under set -e, the end).
stop() {
  local status=$1
  trap - INT TERM HUP EXIT
  exec >&3 2>&4
  set +e # stopping goes on whatever fails
  if [ -n "$stopping" ]; then exit "$status"; fi
  stopping=1
  echo
  echo "demo: stopping"
  [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
  # SIGTERM, not SIGINT: a non-interactive shell starts its background
  # children with SIGINT ignored.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  local deadline=$((SECONDS + STOP_LIMIT)) i
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[$i]}" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "demo: ${names[$i]} did not stop within ${STOP_LIMIT} s; killing it" >&2
        kill -KILL "${pids[$i]}" 2>/dev/null
        break
      fi
      sleep 0.1
    done
  done
  wait 2>/dev/null
  echo "demo: stopped; data and logs are in $DEMO_DIR"
  exit "$status"
}
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
trap 'stop $?' EXIT

# start NAME LOG COMMAND...: runs COMMAND in the background, its output
# appended to LOG, which keeps earlier runs' output after a separator.
start() {
  local name=$1 log=$2
  shift 2
  echo "=== demo started $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"
  "$@" >>"$log" 2>&1 3>&- 4>&- &
  pids+=($!)
  names+=("$name")
}

# ignore_hup runs a command with SIGHUP ignored, which it keeps: btcd has no
# handler for it and would die without its shutdown when the terminal
# closes (SIGHUP to the whole group); stop ends it with SIGTERM instead.
# The nodes take SIGHUP as a clean shutdown themselves.
ignore_hup() {
  trap '' HUP
  exec "$@"
}

# alive fails, naming the child and its log, when a child has exited.
alive() {
  local i
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "demo: ${names[$i]} exited; see its log in $DEMO_DIR" >&2
      return 1
    fi
  done
}

# An empty config file of its own stops btcctl from trying to write a
# default one into the home folder.
touch "$DEMO_DIR/btcctl.conf"
ctl() { "$BTCCTL" --regtest --notls -s "$RPC" -u demo -P demo --configfile="$DEMO_DIR/btcctl.conf" "$@"; }

start btcd "$DEMO_DIR/btcd.log" ignore_hup "$BTCD" --regtest --listen="$P2P" --rpclisten="$RPC" --rpcuser=demo --rpcpass=demo --notls \
  --datadir="$DEMO_DIR/btcd" --logdir="$DEMO_DIR/btcd" --nodnsseed --configfile= --miningaddr="$MINING_ADDR"
for _ in $(seq 100); do
  ctl getblockcount >/dev/null 2>&1 && break
  alive
  sleep 0.2
done
have=$(ctl getblockcount)
if [ "$have" -lt 101 ]; then ctl generate $((101 - have)) >/dev/null; fi
echo "demo: btcd on $P2P with $(ctl getblockcount) blocks"

start "node A" "$DEMO_DIR/a.log" "$SERVER" -network=regtest -datadir="$DEMO_DIR/a" -listen="$A_P2P" -http="$A_HTTP" \
  -connect="$P2P" -capture
start "node B" "$DEMO_DIR/b.log" "$SERVER" -network=regtest -datadir="$DEMO_DIR/b" -listen="$B_P2P" -http="$B_HTTP" \
  -connect="$P2P" -connect="$A_P2P"

echo "demo: dashboard of node A: http://$A_HTTP/   (log: $DEMO_DIR/a.log)"
echo "demo: dashboard of node B: http://$B_HTTP/   (log: $DEMO_DIR/b.log)"
echo "demo: node A captures its messages; open them in the decoder from http://$A_HTTP/bans"
echo "demo: controls need the token in $DEMO_DIR/a/regtest/.cookie (log in at /login)"
echo "demo: mining a block every $INTERVAL s; Ctrl-C stops everything"
while true; do
  # In the background and waited for: a signal interrupts wait at once,
  # where a foreground sleep would hold the trap until it ends.
  sleep "$INTERVAL" &
  sleeper=$!
  wait "$sleeper" || true
  sleeper=
  alive
  ctl generate 1 >/dev/null || echo "demo: btcd did not mine a block" >&2
done
