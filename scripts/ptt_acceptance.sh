#!/usr/bin/env bash
# The talkgroup voice targets (issue 13, point 3) on seeded 100-node random
# meshes at 5 % extra loss, handset radios: delivery >= 0.995, worst member
# >= 0.98, mouth-to-ear p95 <= 150 ms, <= 0.6 transmissions per voice frame
# per node. One line per seed, PASS or FAIL; figures, not a gate (the
# protections side by side: `callsign sim ... --ptt --compare-protection`).
#   scripts/ptt_acceptance.sh [SEED ...]     (default: 1-5 and 11-15)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/release/callsign
[ -x "$bin" ] || cargo build --release --quiet
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5 11 12 13 14 15)
for seed in "${seeds[@]}"; do
    "$bin" sim --topology random --nodes 100 --loss 0.05 --seed "$seed" --ptt --calls 2 \
        --settle 2 --idle 5 --kills 0 --idle-kills 0 --floods 0 --duration 50 --quiet \
        --no-wall-clock --json |
        python3 -c '
import json, sys
r = json.load(sys.stdin)
k = ["ptt_frame_delivery_ratio", "ptt_frame_delivery_min", "ptt_m2e_ms_p50", "ptt_m2e_ms_p95",
     "ptt_access_ms_p95", "ptt_tx_per_frame_per_node", "call_frame_delivery_ratio", "call_m2e_ms_p95"]
ok = (r[k[0]] >= 0.995 and r[k[1]] >= 0.98 and r[k[3]] <= 150 and r[k[5]] <= 0.6)
print("seed %-3s %s  diameter %2d  %s" % (sys.argv[1], "PASS" if ok else "FAIL", r["diameter_hops"],
      "  ".join("%s=%s" % (x, r[x]) for x in k)))
' "$seed"
done
