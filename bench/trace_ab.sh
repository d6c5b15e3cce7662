#!/usr/bin/env bash
# Scans of one checkout's code on one worker: bench/trace_ab.sh CHECKOUT [WORKERS]
#
# Stores the traces of the first 3,000 lots of the benchmark's sample with CHECKOUT's
# code (its stamps differ from another checkout's), starts that code's API, and runs
# wrk (-t2 -c16, 4 s unmeasured, then 15 s) over them, JSON then page. Run it for two
# checkouts back to back to compare them on the same data and the same machine:
#   git worktree add /tmp/before <commit>; bench/trace_ab.sh /tmp/before; bench/trace_ab.sh .
set -euo pipefail
ROOT=$(cd "$1" && pwd)
WORKERS=${2:-1}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY="$HERE/.venv/bin/python"
DB=${BENCH_DB:-agritrace_bench_speed}
export AGRITRACE_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$DB"
export AGRITRACE_PUBLIC_BASE_URL=https://trace.example.vn
PORT=8799
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null' EXIT
cd "$ROOT"
echo "code from $ROOT; load average $(cut -d' ' -f1-3 /proc/loadavg)"
PYTHONPATH="$ROOT" "$PY" - <<'PY'
import psycopg
from sqlmodel import Session

from traceability.api import trace_cache
from traceability.api.routes.trace import RENDERINGS
from traceability.db import get_engine

with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{get_engine().url.database}") as c:
    codes = [r[0] for r in c.execute("SELECT code FROM lots ORDER BY md5(code) LIMIT 3000")]
with Session(get_engine()) as session:
    seen, built = trace_cache.refresh(
        session, base_url="https://trace.example.vn", renderings=RENDERINGS, codes=codes
    )
print(f"stored ahead: {built} of {seen} lots built")
PY
PYTHONPATH="$ROOT" "$PY" -m uvicorn traceability.api.main:create_app --factory \
  --host 127.0.0.1 --port $PORT --workers "$WORKERS" --log-level warning --no-access-log &
SRV=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
for kind in json page; do
  prefix=$([ $kind = json ] && echo /api/v1/trace/ || echo /t/)
  psql -h 127.0.0.1 -U postgres -d "$DB" -Atc \
    "SELECT '$prefix' || code FROM lots ORDER BY md5(code) LIMIT 3000" >"$WORK/paths"
  cat >"$WORK/w.lua" <<LUA
paths = {}
for line in io.lines("$WORK/paths") do paths[#paths + 1] = line end
i = 0
request = function() i = i + 1; return wrk.format("GET", paths[(i * 7919) % #paths + 1]) end
LUA
  wrk -t2 -c16 -d4s -s "$WORK/w.lua" "http://127.0.0.1:$PORT" >/dev/null
  echo "$kind: $(wrk -t2 -c16 -d15s --latency -s "$WORK/w.lua" "http://127.0.0.1:$PORT" \
    | grep -E 'Requests/sec|99%|Non-2xx' | tr -s ' ' | tr '\n' ' ')"
done
