#!/bin/sh
# The relay placement benchmark: a 200-node incident with six buildings
# (benches/place200.toml), two trucks placed greedily over the default
# grid of about 2500 spots, the search alone (--no-proof). Target: well
# under a minute of wall time on 2 cores in a release build. Prints the
# wall time and the answer.
#   benches/place200.sh [TRUCKS]
set -eu
cd "$(dirname "$0")/.."
trucks="${1:-2}"
target_ms=60000
cargo build --release --quiet
json=$(./target/release/callsign sim benches/place200.toml --place-relay truck-5g --no-proof --json)
nodes=$(echo "$json" | sed -n 's/^    "nodes": \([0-9]*\),/\1/p')
handsets=$(echo "$json" | sed -n 's/^    "handsets": \([0-9]*\),/\1/p')
start=$(date +%s%N)
./target/release/callsign sim benches/place200.toml --place-relay "$trucks:truck-5g" --no-proof >/tmp/place200.$$
end=$(date +%s%N)
wall=$(( (end - start) / 1000000 ))
cat /tmp/place200.$$ | sed -n '1,3p;/^  relay-/p'
rm -f /tmp/place200.$$
echo "place200: $nodes nodes ($handsets handsets), $trucks truck(s): wall ${wall} ms"
if [ "$wall" -le "$target_ms" ]; then
    echo "place200: wall ${wall} ms <= target ${target_ms} ms: PASS"
else
    echo "place200: wall ${wall} ms > target ${target_ms} ms: FAIL"
    exit 1
fi
