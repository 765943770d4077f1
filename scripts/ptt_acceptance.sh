#!/usr/bin/env bash
# The talkgroup voice targets (issue 13, point 3) on seeded 100-node random
# meshes at 5 % extra loss, handset radios: delivery >= 0.995, worst member
# >= 0.98, mouth-to-ear p95 <= 150 ms, <= 0.6 transmissions per voice frame
# per node. One line per seed, PASS or FAIL, then a summary; exits 1 if any
# seed fails (the protections side by side: `callsign sim ... --ptt
# --compare-protection`).
#   scripts/ptt_acceptance.sh [SEED ...]     (default: 1-5 and 11-15)
#   CALLSIGN_BIN=path/to/callsign runs another build (a before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CALLSIGN_BIN:-./target/release/callsign}
[ -x "$bin" ] || cargo build --release --quiet
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5 11 12 13 14 15)
# One seed: its PASS/FAIL line.
one() {
    "$bin" sim --topology random --nodes 100 --loss 0.05 --seed "$1" --ptt --calls 2 \
        --settle 2 --idle 5 --kills 0 --idle-kills 0 --floods 0 --duration 50 --quiet \
        --no-wall-clock --json |
        python3 -c '
import json, sys
r = json.load(sys.stdin)
k = ["ptt_frame_delivery_ratio", "ptt_frame_delivery_min", "ptt_m2e_ms_p50", "ptt_m2e_ms_p95",
     "ptt_access_ms_p95", "ptt_tx_per_frame_per_node", "call_frame_delivery_ratio", "call_m2e_ms_p95"]
ok = (r[k[0]] >= 0.995 and r[k[1]] >= 0.98 and r[k[3]] <= 150 and r[k[5]] <= 0.6)
print("seed %-3s %s  diameter %2d  %s" % (sys.argv[1], "PASS" if ok else "FAIL", r["diameter_hops"],
      "  ".join("%s=%s" % (x, r[x]) for x in k)), flush=True)
' "$1"
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Two seeds at a time (each run is one thread); lines in the order they end.
export -f one
export bin
printf '%s\n' "${seeds[@]}" | xargs -P "${JOBS:-2}" -I{} bash -c 'one "$1"' _ {} | tee "$out"
# The summary: how many passed, and the worst of each figure.
python3 - "$out" <<'PY'
import re, sys
rows = [l for l in open(sys.argv[1]) if l.startswith("seed")]
def f(l, k): return float(re.search(k + r"=([0-9.]+)", l).group(1))
fails = sorted((int(l.split()[1]) for l in rows if " FAIL " in l))
tx = [f(l, "ptt_tx_per_frame_per_node") for l in rows]
print("summary: %d of %d seeds pass%s; delivery >= %s, worst member >= %s, m2e p95 <= %s ms, "
      "tx per frame per node mean %.3f, max %s" % (
      len(rows) - len(fails), len(rows), " (FAIL: %s)" % " ".join(map(str, fails)) if fails else "",
      min(f(l, "ptt_frame_delivery_ratio") for l in rows), min(f(l, "ptt_frame_delivery_min") for l in rows),
      max(f(l, "ptt_m2e_ms_p95") for l in rows), sum(tx) / len(tx), max(tx)))
sys.exit(1 if fails else 0)
PY
