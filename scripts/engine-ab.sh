#!/bin/bash
# The driver's engines side by side: goroutines against loops, interleaved, 3 rounds, with the machine's floors
# (../shared/floor: floor.c and memfloor) measured in the same run. Loopback only; every load is bounded.
# Usage: scripts/engine-ab.sh   (FLOOR_DIR=path/to/floor to find the floor programs elsewhere)
set -u
cd "$(dirname "$0")/.."
FLOOR_DIR=$(cd "${FLOOR_DIR:-../shared/floor}" && pwd)
TMP=$(mktemp -d /tmp/engine-ab-XXXX)
trap 'rm -rf "$TMP"' EXIT
cc -O2 -o "$TMP/floor" "$FLOOR_DIR/floor.c"
(cd "$FLOOR_DIR/memfloor" && go build -o "$TMP/memfloor" .)
make build >/dev/null
OUT=$TMP/report.json
B=./bin/wssbench
"$TMP/floor" serve 19500 > /dev/null 2>&1 &
FP=$!
$B serve --listen 127.0.0.1:19443 > "$TMP/serve.out" 2>&1 &
SP=$!
$B serve --plain --listen 127.0.0.1:19444 > "$TMP/serve-plain.out" 2>&1 &
PP=$!
trap 'kill $FP $SP $PP 2>/dev/null; rm -rf "$TMP"' EXIT
sleep 1
CA=$(grep -o -- '--ca [^ ]*' "$TMP/serve.out" | head -1 | cut -d' ' -f2)
steady() { e=$1; url=$2; shift 2
  $B run --target $url "$@" --conns 1000 --connect-rate 1000 --duration 10s --msg-rate 10 --size 64 --engine $e -q --out "$OUT" >/dev/null 2>&1
  python3 -c "
import json;d=json.load(open('"$OUT"'));f=d['frames'];c=d['cpu'];m=d['memory']
print('steady $e $url', 'drv_us/frame %.2f'%c['driver_us_per_frame'], 'achieved %.2f%%'%(100*f['per_s']/max(f['requested_per_s'],1)), 'rtt p50/p90/p99/p999 %.0f/%.0f/%.0f/%.0f us'%(f['rtt']['p50_us'],f['rtt']['p90_us'],f['rtt']['p99_us'],f['rtt']['p999_us']), 'send_lag p99 %.0fus'%d['health']['send_lag_p99_us'], 'rss/conn %.1fKiB'%(m['driver_rss_per_conn_bytes']/1024), 'ok', d['verdict']['ok'])"
}
hold() { e=$1
  $B run --target wss://127.0.0.1:19443/ --ca $CA --mode connect-hold --conns 10000 --connect-rate 500 --duration 3s --groups X25519 --engine $e -q --out "$OUT" >/dev/null 2>&1
  python3 -c "
import json;d=json.load(open('"$OUT"'));m=d['memory'];c=d['connections']
print('hold $e', 'established', c['established'], '(peak-base)/conn %.2fKiB'%(m['driver_rss_per_conn_bytes']/1024), 'peak/conn %.2fKiB'%(m['driver_peak_rss_bytes']/1024/c['peak_concurrent']), 'ok', d['verdict']['ok'])"
}
for r in 1 2 3; do
  echo "== round $r"
  "$TMP/memfloor" 127.0.0.1:19443 10000 | sed 's/^/memfloor /'
  hold goroutines
  hold loops
  "$TMP/floor" client 19500 1000 10 64 10 | sed 's/^/floor exact /'
  TICK_NS=1000000 "$TMP/floor" client 19500 1000 10 64 10 | sed 's/^/floor 1ms-tick /'
  steady goroutines wss://127.0.0.1:19443/ --ca $CA
  steady loops wss://127.0.0.1:19443/ --ca $CA
  steady goroutines ws://127.0.0.1:19444/
  steady loops ws://127.0.0.1:19444/
  "$TMP/floor" client 19500 1000 10 64 10 | sed 's/^/floor exact /'
  TICK_NS=1000000 "$TMP/floor" client 19500 1000 10 64 10 | sed 's/^/floor 1ms-tick /'
done
kill $FP $SP $PP; wait 2>/dev/null
