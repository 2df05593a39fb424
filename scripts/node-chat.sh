#!/usr/bin/env bash
# The chat-fanout scenario against a third-party server: the Node.js ws
# server of the tests (cmd/wssbench/cli/testdata/nodews) in rooms of 100,
# with wssbench's counts set beside the server's own. Loopback only; the
# server is stopped by its PID at the end.
#   scripts/node-chat.sh [wssbench run flags...]   e.g. --duration 10s
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cp "$root"/cmd/wssbench/cli/testdata/nodews/{server.js,package.json,package-lock.json} "$work"/
(cd "$work" && npm ci --no-audit --no-fund --prefer-offline >/dev/null)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
node "$work/server.js" --cert "$work/cert.pem" --key "$work/key.pem" --port 0 --rooms 100 >"$work/server.out" &
pid=$!
for _ in $(seq 100); do grep -q '^listening' "$work/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^listening/ {print $2}' "$work/server.out")
cat >"$work/chat.yaml" <<YAML
label: chat-fanout-node
mode: steady
conns: 1000
connect_rate: 500
duration: 20s
latency: {mode: stamp, field: ts, fanout: 99}
roles:
  - name: publishers
    share: 1%
    send: '{"type":"pub","ts":{{now_ns}},"from":{{conn}},"seq":{{seq}},"text":"{{random 48}}"}'
    rate: 1
  - name: subscribers
    share: rest
YAML
(cd "$root" && go run ./cmd/wssbench run --scenario "$work/chat.yaml" --target "wss://127.0.0.1:$port/" --ca "$work/cert.pem" "$@")
echo "server's own counts:"
curl -sk "https://127.0.0.1:$port/stats" || true
echo
