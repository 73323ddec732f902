#!/usr/bin/env bash
# Autobahn|Testsuite conformance for netlab's WebSocket, both directions:
#   fuzzingclient (the suite tests `netlab ws server --echo`)
#   fuzzingserver (the suite tests `netlab ws autobahn`, netlab's client)
# Every case of 1.* to 10.* (RFC 6455) and 12.*/13.* (permessage-deflate, RFC 7692).
# CASES/EXCLUDE in the environment narrow it (the suite's patterns, e.g. CASES='13.3.*',
# EXCLUDE='12.*.13,12.*.14,12.*.15,13.*.13,13.*.14,13.*.15' leaves out the 36 cases per
# direction that send 32 to 128 KiB messages in 256-byte frames, the longest to run).
# The release build runs, as `cargo install` gives users: a debug build spends about seven
# times the CPU per compressed message, which made the suite's large cases run for minutes.
# Fails on any FAILED or missing case, and on any verdict that differs from the ones kept
# in tests/autobahn/expected-{server,client}.json (OK <-> NON-STRICT flips only warn:
# the suite says some of those depend on timing).
#
# Usage: .ci/autobahn.sh [OUTDIR]   (reports land in OUTDIR, default target/autobahn)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${AUTOBAHN_TOOLS:-../shared/tools/autobahn}"
OUT="${1:-target/autobahn}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
CASES="${CASES:-*}"
EXCLUDE="${EXCLUDE-}"
[ -x "$TOOLS/run-fuzzingclient.sh" ] || { echo "autobahn: no suite at $TOOLS" >&2; exit 1; }

cargo build --quiet --release --bin netlab
BIN="$PWD/target/release/netlab"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the suite tests netlab's server -------------------------------------------------------
"$BIN" --jsonl ws server --port 0 --echo --quiet > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
PORT=""
for _ in $(seq 1 100); do
    PORT=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    try: e=json.loads(l)
    except Exception: continue
    if e.get("event")=="listening": print(e["url"].rsplit(":",1)[1].strip("/")); break' "$OUT/server.log" || true)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "autobahn: netlab ws server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }
echo "== autobahn fuzzingclient -> netlab ws server (port $PORT)"
AUTOBAHN_AGENT=netlab-server "$TOOLS/run-fuzzingclient.sh" 127.0.0.1 "$PORT" "$OUT/server" "$CASES" "$EXCLUDE" || status_server=$?
kill -TERM $SERVER; wait $SERVER || true
trap - EXIT

# --- the suite tests netlab's client -------------------------------------------------------
PORT=$(free_port)
echo "== autobahn fuzzingserver -> netlab ws autobahn (port $PORT)"
AUTOBAHN_AGENT=netlab AUTOBAHN_TIMEOUT=3600 "$TOOLS/run-fuzzingserver.sh" "$PORT" "$OUT/client" "$CASES" "$EXCLUDE" -- \
    sh -c "\"$BIN\" ws autobahn --url \"\$AUTOBAHN_URL\" --agent \"\$AUTOBAHN_AGENT\" > \"$OUT/client.log\" 2>&1" \
    || status_client=$?

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
bad = 0
for mode in ("server", "client"):
    expected = json.load(open(f"tests/autobahn/expected-{mode}.json"))
    try:
        idx = json.load(open(f"{out}/{mode}/index.json"))
    except Exception as e:
        print(f"autobahn {mode}: no results ({e})"); bad += 1; continue
    got = {c: r["behavior"] for agent in idx.values() for c, r in agent.items()}
    counts = {}
    for v in got.values():
        counts[v] = counts.get(v, 0) + 1
    print(f"autobahn {mode}: {len(got)} cases {dict(sorted(counts.items()))}")
    for case, want in expected.items():
        have = got.get(case, "MISSING")
        if have == want:
            continue
        soft = {have, want} <= {"OK", "NON-STRICT"}
        print(f"  {'warning' if soft else 'REGRESSION'}: {mode} case {case}: expected {want}, got {have}")
        bad += 0 if soft else 1
    for case, have in got.items():
        if have == "FAILED" and case not in expected:
            print(f"  REGRESSION: {mode} case {case}: FAILED"); bad += 1
sys.exit(1 if bad else 0)
PY
[ -z "${status_server:-}" ] && [ -z "${status_client:-}" ] || { echo "autobahn: a run reported failures" >&2; exit 1; }
echo "autobahn: both directions conform (FAILED=0)"
