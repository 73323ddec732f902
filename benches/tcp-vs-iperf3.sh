#!/usr/bin/env bash
# Loopback TCP throughput: `netlab tcp bench` against iperf3, in the same run.
#
#   benches/tcp-vs-iperf3.sh [SECONDS] [ROUNDS]      (defaults: 5 s, 3 rounds)
#
# Builds netlab in release mode, then alternates iperf3 and netlab runs (so both see
# the same machine load), one stream each, 128 KiB buffers each (iperf3's default),
# and prints every run, the medians and the ratio netlab / iperf3 (receiver side).
# Exits with status 1 when the ratio misses its target (0.9).
# Needs iperf3 and jq. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
port=${IPERF_PORT:-5201}

command -v iperf3 >/dev/null || { echo "iperf3 is not installed (apt-get install iperf3)" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is not installed (apt-get install jq)" >&2; exit 1; }
cargo build --release --quiet
netlab=target/release/netlab

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

iperf_runs=()
netlab_runs=()
for r in $(seq 1 "$rounds"); do
    iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
    server=$!
    # Wait (bounded) until the iperf3 server listens.
    for _ in $(seq 1 100); do
        ss -ltn "sport = :$port" | grep -q LISTEN && break
        sleep 0.05
    done
    ip=$(iperf3 -c 127.0.0.1 -p "$port" -t "$secs" -l 128K -J | jq '.end.sum_received.bits_per_second / 1e9')
    wait "$server" || true
    nl=$("$netlab" tcp bench --seconds "$secs" --size 131072 --json | jq '.receiver_gbit_per_s')
    printf 'round %d: iperf3 %6.2f Gbit/s   netlab %6.2f Gbit/s\n' "$r" "$ip" "$nl"
    iperf_runs+=("$ip")
    netlab_runs+=("$nl")
done
ip_med=$(printf '%s\n' "${iperf_runs[@]}" | median)
nl_med=$(printf '%s\n' "${netlab_runs[@]}" | median)
ratio=$(awk -v a="$nl_med" -v b="$ip_med" 'BEGIN {printf "%.3f", a / b}')
echo "median: iperf3 $ip_med Gbit/s, netlab $nl_med Gbit/s"
target=0.9
echo "ratio netlab/iperf3: $ratio (target: at least $target)"
if ! awk -v r="$ratio" -v t="$target" 'BEGIN {exit !(r >= t)}'; then
    echo "MISSED the target: netlab/iperf3 $ratio < $target" >&2
    exit 1
fi
