#!/usr/bin/env bash
# Store and catalog reads against their bound, in one run: for each path, our requests/s, p50
# and p99 at 64 connections, next to nginx serving a static file of the same size on this
# machine in the same run, the ratio, and the app's peak resident memory so far. Also the cold
# start (an empty SQLite to the first 200 of /healthz) and the idle memory.
#
# Usage: bench/store-bench.sh [sqlite|postgres] [seconds per path]
#   postgres: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) is where a
#   throw-away database is made and dropped.
#   BENCH_SERVICES: how many services to add to the demo's (default 1,000; the search's target
#   is set with 10,000).
# Installs wrk and nginx with apt when missing. The store holds the demo catalogue and the
# services added, on sale; requests are signed in as the demo client, without compression (as
# the static file is sent). The last path is the search: each request a different query, drawn
# at random from the added services' words (whole, plural, a typed prefix, a typo, two words), so
# the store's page cache rarely answers it; its bound is the issue's p99 of 20 ms as well as
# nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
secs=${2:-10}
services=${BENCH_SERVICES:-1000}
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
python3 - "$services" "$dir/search.lua" >"$dir/services.sql" <<'PY'
import json, random, sys
count, lua = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
# Words services are made of: what a search is typed from.
things = ("logo brand website landing page newsletter campaign audit strategy video podcast "
    "banner brochure catalogue packaging illustration animation photography copywriting "
    "translation hosting migration analytics dashboard chatbot booking checkout storefront "
    "membership onboarding workshop training report roadmap wireframe prototype mockup "
    "slideshow infographic signage uniform merchandise").split()
kinds = ("design build setup refresh redesign review optimisation launch maintenance support "
    "consulting research testing integration automation").split()
extras = ("fast responsive accessible multilingual premium starter complete custom modern "
    "bespoke scalable secure friendly seasonal local global mobile social search email").split()
print("BEGIN;")
for i in range(count):
    cat = ["Design", "Development", "Marketing"][i % 3]
    title = f"{rng.choice(extras).title()} {rng.choice(things).title()} {rng.choice(kinds).title()} {i:05}"
    words = " ".join(rng.choice(extras + things + kinds) for _ in range(12))
    description = f"A {rng.choice(extras)} {rng.choice(things)} {rng.choice(kinds)}: {words}."
    tasks = json.dumps([
        {"name": f"{rng.choice(things).title()} {rng.choice(kinds)}", "description": "", "due_in_days": 2, "client_visible": True},
        {"name": "Kick-off", "description": "", "due_in_days": 1, "client_visible": True},
    ])
    print(f"""INSERT INTO service_templates (name, description, category, default_tasks, created_at,
  updated_at, is_purchasable, price_minor, currency, store_title, store_description, store_images,
  max_quantity, sort_order) VALUES ('{title}', '{description}',
  '{cat}', '{tasks}', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', true,
  {1000 + i * 7}, 'USD', '{title}', '', '[]', 3, {i});""")
print("COMMIT;")
vocabulary = things + kinds + extras
with open(lua, "w") as f:
    f.write("local words = {" + ",".join(f'"{w}"' for w in vocabulary) + "}\n")
    f.write('''
math.randomseed(os.time())
local function word() return words[math.random(#words)] end
local function typo(w)
  if #w < 5 then return w end
  local i = math.random(2, #w - 2)
  return w:sub(1, i - 1) .. w:sub(i + 1, i + 1) .. w:sub(i, i) .. w:sub(i + 2)
end
local forms = {
  function() return word() end,
  function() return word() .. "s" end,
  function() local w = word() return w:sub(1, math.random(3, #w)) end,
  function() return typo(word()) end,
  function() return word() .. "+" .. word() end,
}
request = function()
  local q = forms[math.random(#forms)]()
  return wrk.format("GET", "/api/store/services?q=" .. q .. "&page=" .. math.random(1, 3))
end
''')
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
printf '%s services on sale\n' "$(curl -fs -H "Cookie: $cookie" "http://127.0.0.1:$port/api/store/services" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["pagination"]["totalItems"])')"
printf '%-40s %9s %8s %8s %10s %7s %9s\n' path "req/s" "p50 ms" "p99 ms" "bound/s" ratio "peak MB"
n=0
for path in "/api/store/services?perPage=24" "/store" "/store?q=design&sort=price_desc" "/store/$id" search; do
  n=$((n + 1))
  script=() url="http://127.0.0.1:$port$path"
  if [ "$path" = search ]; then
    # Random queries; the bound's file is the size of a typical answer.
    script=(-s "$dir/search.lua") url="http://127.0.0.1:$port/"
    curl -fs -H "Cookie: $cookie" "http://127.0.0.1:$port/api/store/services?q=design" -o "$dir/www/f$n"
    path="GET /api/store/services?q=(random)"
  else
    curl -fs -H "Cookie: $cookie" "$url" -o "$dir/www/f$n"
  fi
  # Two seconds first, not counted (ours and nginx's): connections opened, caches filled.
  wrk -t2 -c"$conns" -d2s -H "Cookie: $cookie" "${script[@]}" "$url" >/dev/null
  read -r rps p50 p99 < <(measure -H "Cookie: $cookie" "${script[@]}" "$url")
  wrk -t2 -c"$conns" -d2s "http://127.0.0.1:$static_port/f$n" >/dev/null
  read -r brps _ _ < <(measure "http://127.0.0.1:$static_port/f$n")
  peak_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  python3 -c "import sys; p,r,a,b,bb,k=sys.argv[1:]; print(f'{p:<40} {float(r):>9.0f} {float(a):>8.2f} {float(b):>8.2f} {float(bb):>10.0f} {float(r)/float(bb):>7.3f} {int(k)/1024:>9.1f}')" \
    "$path ($(stat -c %s "$dir/www/f$n") B)" "$rps" "$p50" "$p99" "$brps" "$peak_kb"
done
printf '%-40s p99 %s ms (bound 20)\n' "search, each query different" "$p99"
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
