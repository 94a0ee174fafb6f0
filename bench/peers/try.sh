#!/usr/bin/env bash
# One peer by hand, as benches/pipeline/ runs it: a fresh database, the fake gateway on a
# free loopback port, the peer's JSON line on stdout, then a check that the gateway got N
# messages with one text (every recipient's SMS reads the same), and the database dropped.
#   bench/peers/try.sh graphile|procrastinate [N=20000] [CONCURRENCY=16] [peer options...]
# Assumes bench/peers/setup.sh ran; PEERS_PG (default postgres://postgres@127.0.0.1:5432)
# is the server, with the right to create databases.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
peer=${1:?graphile or procrastinate}
n=${2:-20000}
c=${3:-16}
shift $(($# < 3 ? $# : 3))
pg=${PEERS_PG:-postgres://postgres@127.0.0.1:5432}
venv=${CARGO_TARGET_DIR:-$root/target}/bench-peers-venv
[[ $venv = /* ]] || venv=$root/$venv
case $peer in
  graphile) cmd=(node "$here/graphile/run.mjs") ;;
  procrastinate) cmd=("$venv/bin/python" ${PEERS_PY_OPTS:-} "$here/procrastinate/run.py") ;;
  *) echo "unknown peer $peer" >&2; exit 2 ;;
esac

db=peers_try_$$
token=try-$RANDOM$RANDOM
gateway_out=$(mktemp)
python3 "$here/fake_gateway.py" --token "$token" >"$gateway_out" &
gateway_pid=$!
cleanup() {
  kill "$gateway_pid" 2>/dev/null || true
  psql -q "$pg/postgres" -c "drop database if exists $db" || true
  rm -f "$gateway_out"
}
trap cleanup EXIT
psql -q "$pg/postgres" -c "create database $db"
for _ in $(seq 50); do [ -s "$gateway_out" ] && break; sleep 0.1; done
gateway=$(head -n1 "$gateway_out")

"${cmd[@]}" --database-url "$pg/$db" --gateway "$gateway" --token "$token" \
  --count "$n" --concurrency "$c" --template "$root/templates/meter_visit/sms.hbs" \
  --event "$here/sample-event.json" "$@"

curl -s "$gateway/stats" | python3 -c '
import json, sys
s, n = json.load(sys.stdin), int(sys.argv[1])
texts = s["texts"]
print("gateway:", s["requests"], "requests,", s["client_ids"], "messages,", len(texts), "text(s):", *texts[:1], file=sys.stderr)
sys.exit(0 if s["client_ids"] == n and len(texts) == 1 else 1)
' "$n"
