#!/usr/bin/env bash
# Records the decoder's real packet-capture fixture: tcpdump on the loopback
# interface while the node syncs from btcd on regtest, mines a few blocks and
# exchanges pings, then stops. Writes node/inspect/testdata/node-btcd.pcap
# and node-btcd.log.json, the node's own message log of that connection,
# which the decoder's test compares the capture with. Needs root (or
# CAP_NET_RAW) for tcpdump; run it again only to refresh the fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tcpdump >/dev/null || { echo "record-pcap-fixture: tcpdump is needed (apt-get install tcpdump)" >&2; exit 1; }
make build tools >/dev/null

BTCD=.tools/bin/btcd
BTCCTL=.tools/bin/btcctl
MINING_ADDR=mim5nRoCJHS5CpDxCzHMp19NCC1TfUJByo
P2P=127.0.0.1:18644
RPC=127.0.0.1:18634
HTTP=127.0.0.1:18680
OUT=node/inspect/testdata
DIR="$(mktemp -d "${TMPDIR:-/tmp}/watchnode-record.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

touch "$DIR/btcctl.conf"
ctl() { "$BTCCTL" --regtest --notls -s "$RPC" -u rec -P rec --configfile="$DIR/btcctl.conf" "$@"; }
"$BTCD" --regtest --listen="$P2P" --rpclisten="$RPC" --rpcuser=rec --rpcpass=rec --notls \
  --datadir="$DIR/btcd" --logdir="$DIR/btcd" --nodnsseed --configfile= \
  --miningaddr="$MINING_ADDR" >"$DIR/btcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do ctl getblockcount >/dev/null 2>&1 && break; sleep 0.2; done
ctl generate 20 >/dev/null

# The P2P port only: the capture holds the node-btcd connection alone.
tcpdump -i lo -U -s 0 -w "$DIR/capture.pcap" "tcp port ${P2P##*:}" 2>"$DIR/tcpdump.log" &
tcpdump_pid=$!
sleep 1
./bin/server -network=regtest -datadir="$DIR/node" -listen= -http="$HTTP" -connect="$P2P" 2>"$DIR/node.log" &
node_pid=$!
pids+=("$node_pid")
for _ in $(seq 50); do curl -sf "http://$HTTP/api/status" >/dev/null && break; sleep 0.2; done
sleep 2
ctl generate 2 >/dev/null
sleep 2
curl -sf "http://$HTTP/api/messages?limit=1000" >"$DIR/log.json"
kill -INT "$node_pid"
wait "$node_pid" || true
sleep 1
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
mkdir -p "$OUT"
cp "$DIR/capture.pcap" "$OUT/node-btcd.pcap"
cp "$DIR/log.json" "$OUT/node-btcd.log.json"
echo "record-pcap-fixture: wrote $OUT/node-btcd.pcap ($(wc -c <"$OUT/node-btcd.pcap") bytes) and $OUT/node-btcd.log.json"
