#!/usr/bin/env bash
# Run the field tests (root). Ctrl-C or a kill cleans up the namespaces and
# daemons of this run. Extra arguments go to the test binaries (e.g. a test
# name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

cleanup() {
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${CALLSIGN_FIELD_NS_PREFIX:-csft}" || true); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

CALLSIGN_FIELD_TESTS=1 timeout 1500 cargo test --release \
    --test field_netns --test field_names --test field_secured --test field_bench --test field_voice --test field_sip --test field_messages --test field_ptt --test field_backbone --test field_operator --test field_api_abuse --test field_stall --test field_revoke \
    -- --test-threads 1 --nocapture "$@"
