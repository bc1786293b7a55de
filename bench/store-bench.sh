#!/usr/bin/env bash
# Store and catalog reads against their bound, in one run: for each path, our requests/s, p50
# and p99 at 64 connections, next to nginx serving a static file of the same size on this
# machine in the same run, the ratio, and the app's peak resident memory so far. Also the cold
# start (an empty SQLite to the first 200 of /healthz) and the idle memory.
#
# Usage: bench/store-bench.sh [sqlite|postgres] [seconds per path]
#   postgres: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) is where a
#   throw-away database is made and dropped.
# Installs wrk and nginx with apt when missing. The store holds 1,008 services on sale (the demo
# catalogue and 1,000 more); requests are signed in as the demo client, without compression
# (as the static file is sent).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
secs=${2:-10}
conns=64
port=3917
static_port=3918
pg_admin=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null ||
    apt-get install -y -q "$tool" >/dev/null
done
PATH="$PATH:/usr/sbin"

dir=$(mktemp -d)
chmod 755 "$dir"
pid="" nginx_pid="" pg_db=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  [ -n "$pg_db" ] && psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

cargo build --release -q -p agency-hub
bin=./target/release/agency-hub
export BIND="127.0.0.1:$port" APP_URL="http://127.0.0.1:$port" RUST_LOG=warn

# Cold start: an empty SQLite database to the first 200 of /healthz.
cold_start() {
  local d
  d=$(mktemp -d)
  local started
  started=$(date +%s.%N)
  DATABASE_URL="sqlite://$d/cold.db" "$bin" serve >"$d/log" 2>&1 &
  local p=$!
  until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.005; done
  local ready
  ready=$(date +%s.%N)
  kill "$p"
  wait "$p" 2>/dev/null || true
  rm -rf "$d"
  python3 -c "print(f'{($ready - $started) * 1000:.0f}')"
}
cold_ms=$(cold_start)

case "$backend" in
  sqlite) export DATABASE_URL="sqlite://$dir/bench.db" ;;
  postgres)
    pg_db="ah_bench_$$"
    psql -q "$pg_admin" -c "CREATE DATABASE $pg_db" >/dev/null
    export DATABASE_URL="${pg_admin%/*}/$pg_db"
    ;;
  *) echo "usage: $0 [sqlite|postgres] [seconds]" >&2; exit 2 ;;
esac

"$bin" seed-demo >/dev/null
python3 - >"$dir/services.sql" <<'PY'
import json
tasks = json.dumps([{"name": "Kick-off", "description": "", "due_in_days": 2, "client_visible": True}])
print("BEGIN;")
for i in range(1000):
    cat = ["Design", "Development", "Marketing"][i % 3]
    print(f"""INSERT INTO service_templates (name, description, category, default_tasks, created_at,
  updated_at, is_purchasable, price_minor, currency, store_title, store_description, store_images,
  max_quantity, sort_order) VALUES ('Bench service {i:04}', 'A benchmark service number {i}.',
  '{cat}', '{tasks}', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', true,
  {1000 + i * 7}, 'USD', 'Bench service {i:04}', '', '[]', 3, {i});""")
print("COMMIT;")
PY
case "$backend" in
  sqlite) python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read())" "$dir/bench.db" "$dir/services.sql" ;;
  postgres)
    psql -q "$DATABASE_URL" -f "$dir/services.sql" >/dev/null
    # As after any bulk load: statistics and the visibility map now, not from autovacuum in
    # the middle of a measurement.
    psql -q "$DATABASE_URL" -c "VACUUM ANALYZE" >/dev/null
    ;;
esac

"$bin" serve >"$dir/serve.log" 2>&1 &
pid=$!
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.05; done
sleep 1
idle_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")

curl -fs -c "$dir/jar" -H 'content-type: application/json' -H "origin: http://127.0.0.1:$port" \
  -d '{"email":"client@acme.example","password":"demo1234"}' "http://127.0.0.1:$port/api/session" >/dev/null
cookie="agency_hub_session=$(awk '$6 == "agency_hub_session" {print $7}' "$dir/jar")"
id=$(curl -fs -H "Cookie: $cookie" "http://127.0.0.1:$port/api/store/services" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')

# nginx, serving one file per path of the same size as our answer.
mkdir -p "$dir/www" "$dir/nginx"
cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
error_log $dir/nginx/error.log;
pid $dir/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  server { listen 127.0.0.1:$static_port; root $dir/www; }
}
EOF
nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" &
nginx_pid=$!
until curl -fs "http://127.0.0.1:$static_port/" -o /dev/null 2>&1 || [ -f "$dir/nginx/nginx.pid" ]; do sleep 0.05; done

# wrk's figures: requests/s, p50 ms, p99 ms.
measure() {
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    $1 == "Non-2xx" { bad = $NF }
    END { if (bad > 0) { print "ERROR " bad " non-2xx answers" > "/dev/stderr"; exit 1 } printf "%.0f %.2f %.2f\n", rps, p50, p99 }'
}

printf '\n%s, %s s per path, %s connections, %s cores, %s MiB memory\n' "$backend" "$secs" "$conns" \
  "$(nproc)" "$(awk '/^MemTotal/ {printf "%d", $2 / 1024}' /proc/meminfo)"
printf '%-40s %9s %8s %8s %10s %7s %9s\n' path "req/s" "p50 ms" "p99 ms" "bound/s" ratio "peak MB"
n=0
for path in "/api/store/services?perPage=24" "/store" "/store?q=service+04&sort=price_desc" "/store/$id"; do
  n=$((n + 1))
  curl -fs -H "Cookie: $cookie" "http://127.0.0.1:$port$path" -o "$dir/www/f$n"
  # Two seconds first, not counted (ours and nginx's): connections opened, caches filled.
  wrk -t2 -c"$conns" -d2s -H "Cookie: $cookie" "http://127.0.0.1:$port$path" >/dev/null
  read -r rps p50 p99 < <(measure -H "Cookie: $cookie" "http://127.0.0.1:$port$path")
  wrk -t2 -c"$conns" -d2s "http://127.0.0.1:$static_port/f$n" >/dev/null
  read -r brps _ _ < <(measure "http://127.0.0.1:$static_port/f$n")
  peak_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  python3 -c "import sys; p,r,a,b,bb,k=sys.argv[1:]; print(f'{p:<40} {float(r):>9.0f} {float(a):>8.2f} {float(b):>8.2f} {float(bb):>10.0f} {float(r)/float(bb):>7.3f} {int(k)/1024:>9.1f}')" \
    "$path ($(stat -c %s "$dir/www/f$n") B)" "$rps" "$p50" "$p99" "$brps" "$peak_kb"
done
# Memory under bursts: 64 concurrent sign-ins (distinct emails, so the limit does not stop
# them), then fifty 10 MB bodies at once (refused at the body limit), each while one user signs
# in again and again; the app's resident memory after each, and that user's sign-in p99.
python3 - "http://127.0.0.1:$port" "$pid" <<'PY'
import concurrent.futures as cf, json, sys, time, urllib.request, urllib.error
base, pid = sys.argv[1], sys.argv[2]
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
def post(path, body, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body, method="POST",
        headers={"content-type": ctype, "origin": base})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0
def single_user(stop_at):
    took, codes = [], []
    while time.time() < stop_at:
        t = time.time()
        codes.append(post("/api/session", json.dumps({"email": "client@acme.example", "password": "demo1234"}).encode()))
        took.append((time.time() - t) * 1000)
    took.sort()
    p99 = took[max(0, int(len(took) * 0.99) - 1)] if took else float("nan")
    others = {c: codes.count(c) for c in sorted(set(codes)) if c != 200}
    return p99, f"{codes.count(200)} of {len(codes)} signed in" + (f" (others: {others})" if others else "")
def burst(name, jobs):
    with cf.ThreadPoolExecutor(max_workers=len(jobs) + 1) as pool:
        user = pool.submit(single_user, time.time() + 3)
        codes = list(pool.map(lambda f: f(), jobs))
        p99, signed_in = user.result()
    counts = {c: codes.count(c) for c in sorted(set(codes))}
    print(f"{name:<40} rss after {rss():.1f} MB (bound 100), answers {counts}; one user meanwhile: p99 {p99:.0f} ms (bound 1000), {signed_in}")
burst("64 concurrent sign-ins", [
    (lambda i=i: post("/api/session", json.dumps({"email": f"nobody{i}@example.com", "password": "wrong-password"}).encode()))
    for i in range(64)])
big = b"x" * (10 * 1024 * 1024)
burst("fifty 10 MB bodies", [(lambda: post("/api/session", big)) for _ in range(50)])
PY
printf '%-40s %s ms (bound 500)\n' "cold start (empty SQLite to /healthz)" "$cold_ms"
printf '%-40s %s MB (bound 30)\n' "idle resident memory" "$(python3 -c "print(f'{$idle_kb / 1024:.1f}')")"
