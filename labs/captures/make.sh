#!/usr/bin/env bash
# Regenerates the captures of lab 03 from netlab's own commands, over loopback only.
# Needs root (tcpdump opens a packet socket), tcpdump, and netlab: on PATH, or give its
# path in NETLAB (e.g. NETLAB=target/debug/netlab bash labs/captures/make.sh).
# After running it, update the raw numbers the lab quotes (tests/capture_lab.rs says which).
set -euo pipefail
netlab=$(command -v "${NETLAB:-netlab}") || { echo "netlab not found: set NETLAB" >&2; exit 1; }
netlab=$(realpath "$netlab")
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# wait_for FILE TEXT: return once TEXT appears in FILE (at most 5 s).
wait_for() {
    for _ in $(seq 50); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
# start_capture FILE FILTER: tcpdump on lo in the background, returns once it listens.
start_capture() {
    tcpdump --immediate-mode -U -n -i lo -w "$1" "$2" 2>"$tmp/tcpdump.err" & cap=$!
    wait_for "$tmp/tcpdump.err" "listening on"
}
stop_capture() { sleep 0.5; kill -INT "$cap"; wait "$cap" || true; }

# 1. TCP: an echo server, a client that sends one line, waits a second (so the echo comes
#    back before the client's stdin ends), then half-closes; the server closes in turn.
start_capture tcp-handshake.pcap 'tcp port 9000'
"$netlab" tcp listen --port 9000 --echo --max-clients 1 --jsonl >"$tmp/tcp.jsonl" 2>&1 & srv=$!
wait_for "$tmp/tcp.jsonl" '"listening"'
{ echo 'hello netlab'; sleep 1; } | "$netlab" tcp connect 127.0.0.1:9000 >/dev/null 2>&1
wait "$srv"
stop_capture

# 2. UDP: an echo listener (for 2 seconds) and one probe datagram `ping`; netlab udp send
#    follows it with its END datagram (which the listener does not echo).
start_capture udp-exchange.pcap 'udp port 9001'
"$netlab" udp listen --port 9001 --echo --seconds 2 --jsonl >"$tmp/udp.jsonl" 2>&1 & srv=$!
wait_for "$tmp/udp.jsonl" '"listening"'
"$netlab" udp send 127.0.0.1:9001 ping --wait-ms 500 >/dev/null 2>&1
wait "$srv"
stop_capture

echo "made on $(date -u +%Y-%m-%d) with $("$netlab" --version), Linux $(uname -r)," \
    "$(tcpdump --version 2>&1 | head -1)"
tcpdump -n -r tcp-handshake.pcap 2>/dev/null
tcpdump -n -r udp-exchange.pcap 2>/dev/null
