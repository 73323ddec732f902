#!/usr/bin/env bash
# Benchmark for `netlab capture --stats` (reassembly of every TCP conversation plus
# HTTP/1.x and WebSocket decoding) against netlab's one-line view and `tshark -2`, on a
# capture of N packets (default 1,000,000) of mixed HTTP and WebSocket traffic: copies of
# tests/fixtures/http-keepalive.pcap and ws-demo.pcap (real captures), each copy on its
# own client port so every copy is its own conversation.
#   bash benches/flow-mixed.sh [N]        (needs a release build, hyperfine and tshark)
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
hyperfine --warmup 1 --runs 3 \
  "target/release/netlab capture --read $out > /dev/null" \
  "target/release/netlab capture --read $out --stats > /dev/null"
hyperfine --runs 1 \
  "tshark -r $out -2 -d tcp.port==$ws_port,http > /dev/null"
