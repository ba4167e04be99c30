#!/usr/bin/env bash
# Offline demo: starts btcd on regtest on loopback, mines a burst of blocks
# and then one every few seconds, and runs two watchnode instances, one
# connected to btcd and listening, the other connected to btcd and to the
# first, and prints their dashboard addresses. Ctrl-C stops everything this
# script started.
set -euo pipefail
cd "$(dirname "$0")/.."

BTCD=.tools/bin/btcd
BTCCTL=.tools/bin/btcctl
# A regtest address with no known key (the hash160 of a fixed string): the
# demo's coinbase outputs go there and are never spent.
MINING_ADDR=mim5nRoCJHS5CpDxCzHMp19NCC1TfUJByo
P2P=127.0.0.1:18444
RPC=127.0.0.1:18334
DEMO_DIR="$(mktemp -d "${TMPDIR:-/tmp}/watchnode-demo.XXXXXX")"
pids=()

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DEMO_DIR"
}
trap cleanup INT TERM EXIT

# An empty config file of its own stops btcctl from trying to write a
# default one into the home folder.
touch "$DEMO_DIR/btcctl.conf"
ctl() { "$BTCCTL" --regtest --notls -s "$RPC" -u demo -P demo --configfile="$DEMO_DIR/btcctl.conf" "$@"; }

"$BTCD" --regtest --listen="$P2P" --rpclisten="$RPC" --rpcuser=demo --rpcpass=demo --notls \
  --datadir="$DEMO_DIR/btcd" --logdir="$DEMO_DIR/btcd" --nodnsseed --configfile= \
  --miningaddr="$MINING_ADDR" >"$DEMO_DIR/btcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do ctl getblockcount >/dev/null 2>&1 && break; sleep 0.2; done
ctl generate 101 >/dev/null
echo "demo: btcd on $P2P with $(ctl getblockcount) blocks"

./bin/server -network=regtest -datadir="$DEMO_DIR/a" -listen=127.0.0.1:18555 -http=127.0.0.1:8080 \
  -connect="$P2P" -capture 2>"$DEMO_DIR/a.log" &
pids+=($!)
./bin/server -network=regtest -datadir="$DEMO_DIR/b" -listen=127.0.0.1:18556 -http=127.0.0.1:8081 \
  -connect="$P2P" -connect=127.0.0.1:18555 2>"$DEMO_DIR/b.log" &
pids+=($!)

echo "demo: dashboard of node A: http://127.0.0.1:8080/   (logs: $DEMO_DIR/a.log)"
echo "demo: dashboard of node B: http://127.0.0.1:8081/   (logs: $DEMO_DIR/b.log)"
echo "demo: node A captures its messages; open them in the decoder from http://127.0.0.1:8080/bans"
echo "demo: controls need the token in $DEMO_DIR/a/regtest/.cookie (log in at /login)"
echo "demo: mining a block every 5 s; Ctrl-C stops everything"
while true; do
  sleep 5
  ctl generate 1 >/dev/null || true
done
