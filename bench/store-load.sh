#!/usr/bin/env bash
# Load test of the store page with 1,000 purchasable services (issue: the store stays fast).
# Builds the release binary, seeds a throw-away SQLite database, signs in as the demo client
# and runs wrk (apt-get install wrk) against /store and /api/store/services for 10 s each.
# Usage: bench/store-load.sh [threads] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
connections=${2:-32}
port=3917
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

cargo build --release -q -p agency-hub
export DATABASE_URL="sqlite://$dir/bench.db" BIND="127.0.0.1:$port" APP_URL="http://127.0.0.1:$port" RUST_LOG=warn
./target/release/agency-hub seed-demo >/dev/null
python3 - "$dir/bench.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
now = "2026-01-01T00:00:00+00:00"
tasks = json.dumps([{"name": "Kick-off", "description": "", "due_in_days": 2, "client_visible": True}])
rows = [(f"Bench service {i:04}", f"A benchmark service number {i}.", ["Design", "Development", "Marketing"][i % 3],
         tasks, now, now, 1, 1000 + i * 7, "USD", f"Bench service {i:04}", "", "[]", 3, i) for i in range(1000)]
db.executemany("""INSERT INTO service_templates (name, description, category, default_tasks, created_at, updated_at,
  is_purchasable, price_minor, currency, store_title, store_description, store_images, max_quantity, sort_order)
  VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", rows)
db.commit()
PY
./target/release/agency-hub serve >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

curl -fs -c "$dir/jar" -b "$dir/jar" -H 'content-type: application/json' \
  -d '{"email":"client@acme.example","password":"demo1234"}' "http://127.0.0.1:$port/api/session" >/dev/null
cookie=$(awk '$6 == "agency_hub_session" {print $7}' "$dir/jar")
echo "store items: $(curl -fs -b "$dir/jar" "http://127.0.0.1:$port/api/store/services" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pagination"]["totalItems"])')"
for path in "/store" "/store?q=service+04&sort=price_desc" "/api/store/services?page=20"; do
  echo "== GET $path"
  wrk -t"$threads" -c"$connections" -d10s -H "Cookie: agency_hub_session=$cookie" "http://127.0.0.1:$port$path" | grep -E "Requests/sec|Latency|Non-2xx"
done
