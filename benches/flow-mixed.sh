#!/usr/bin/env bash
# Benchmark for `netlab capture --stats` (reassembly of every TCP conversation plus
# HTTP/1.x and WebSocket decoding) against netlab's one-line view and `tshark -2`, on a
# capture of N packets (default 1,000,000) of mixed HTTP and WebSocket traffic: copies of
# tests/fixtures/http-keepalive.pcap and ws-demo.pcap (real captures), each copy on its
# own client port so every copy is its own conversation.
#   bash benches/flow-mixed.sh [N]        (needs a release build and tshark; exits 1 on a missed target)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
out=target/flow-bench/mixed-$n.pcap
mkdir -p target/flow-bench
python3 - "$n" "$out" <<'PY'
import struct, sys
n, out = int(sys.argv[1]), sys.argv[2]
def records(path):
    b = open(path, "rb").read(); i = 24; recs = []
    while i + 16 <= len(b):
        ts, tf, incl, orig = struct.unpack("<IIII", b[i:i+16]); recs.append((ts, tf, orig, bytearray(b[i+16:i+16+incl]))); i += 16 + incl
    return b[:24], recs
hdr, http = records("tests/fixtures/http-keepalive.pcap")
_, ws = records("tests/fixtures/ws-demo.pcap")
def client_port(recs):
    d = recs[0][3]; ihl = (d[14] & 15) * 4; return struct.unpack(">H", d[14+ihl:16+ihl])[0]
templates = [(http, client_port(http)), (ws, client_port(ws))]
written = 0; k = 0; t0 = 1_800_000_000
with open(out, "wb") as f:
    f.write(hdr)
    while written < n:
        recs, cport = templates[k % 2]
        port = 1024 + (k % 60000)
        if port in (18090, 35561, 43060, 37596):  # the fixtures' own ports
            port = 65500 + k % 30
        for ts, tf, orig, d in recs:
            if written >= n: break
            d = bytearray(d); ihl = (d[14] & 15) * 4; t = 14 + ihl
            sp, dp = struct.unpack(">HH", d[t:t+4])
            if sp == cport: d[t:t+2] = struct.pack(">H", port)
            if dp == cport: d[t+2:t+4] = struct.pack(">H", port)
            f.write(struct.pack("<IIII", t0 + k // 1000, (k % 1000) * 1000, len(d), orig)); f.write(d)
            written += 1
        k += 1
PY
ls -l "$out"
ws_port=$(target/release/netlab --json capture --read tests/fixtures/ws-demo.pcap --stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["conversations"][0]["b"][1])')
# Best of 3 wall-clock runs each, netlab's two views interleaved; tshark once (it takes
# minutes). The bench fails (exit 1) when a target is missed.
best() {
  python3 - "$@" <<'PY'
import subprocess, sys, time
runs, cmds = int(sys.argv[1]), sys.argv[2:]
best = [float("inf")] * len(cmds)
for _ in range(runs):
    for i, c in enumerate(cmds):
        t = time.monotonic(); subprocess.run(c + " > /dev/null", shell=True, check=True)
        best[i] = min(best[i], time.monotonic() - t)
print(" ".join(f"{b:.3f}" for b in best))
PY
}
read -r one stats < <(best 3 "target/release/netlab capture --read $out" \
  "target/release/netlab capture --read $out --stats")
read -r tshark < <(best 1 "tshark -r $out -2 -d tcp.port==$ws_port,http")
python3 - "$one" "$stats" "$tshark" <<'PY'
import sys
one, stats, tshark = map(float, sys.argv[1:])
print(f"one-line {one:.3f} s, --stats {stats:.3f} s ({stats / one:.2f}x the one-line view, target within 2x)")
print(f"tshark -2 {tshark:.3f} s: netlab --stats {tshark / stats:.1f}x faster (target >= 10x)")
missed = [m for m, bad in [("--stats over 2x the one-line view", stats > 2 * one),
                            ("--stats under 10x tshark -2", tshark < 10 * stats)] if bad]
if missed:
    print("MISSED the target: " + "; ".join(missed), file=sys.stderr); sys.exit(1)
PY
