#!/bin/sh
# The fuzz campaign: build every target of fuzz/ (two cargo invocations
# sharing one target dir), run each in turn under nice for a budget of
# executions or time, with ASan and leak detection, and print a table of
# what libFuzzer reported (target, executions, cov, ft, corpus, date,
# result) for docs/RELIABILITY.md.
#
#   scripts/fuzz.sh                          # every target, 10M runs or 30 min each
#   scripts/fuzz.sh --runs 100000 header     # a short smoke run of one target
#   scripts/fuzz.sh --time 120 msg api_json  # two targets, 2 minutes each
#   scripts/fuzz.sh --minimize header        # after a run: re-minimize fuzz/corpus/header
#   scripts/fuzz.sh --until 10:50 a b c      # share the time left until 10:50 UTC
#
# Options: --runs N (default 10000000), --time SECS (default 1800),
# --until HH:MM (UTC; each target gets at most the time left divided by the
# targets left, so what a fast target does not use goes to the next ones:
# list the fast decoders first), --timeout SECS per input (default 10),
# --no-build, --minimize, --table FILE (default fuzz/logs/table.md).
# Exit status: non-zero if any target crashed, hung or leaked; its input is
# in fuzz/artifacts/TARGET/.
#
# Why RUSTC_BOOTSTRAP=1: cargo-fuzz builds with -Zsanitizer=address and
# other -Z flags that only a nightly compiler accepts. The stable compiler
# has the same code and ships the sanitizer runtimes; RUSTC_BOOTSTRAP=1
# lets it accept the flags, so the campaign needs no second toolchain.
set -eu

cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1

RUNS=10000000
TIME=1800
TIMEOUT=10
BUILD=1
MINIMIZE=0
TABLE=logs/table.md
UNTIL=""
TARGETS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --time) TIME=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --minimize) MINIMIZE=1; shift ;;
        --table) TABLE=$2; shift 2 ;;
        --until) UNTIL=$(date -u -d "$2" +%s); shift 2 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) TARGETS="$TARGETS $1"; shift ;;
    esac
done

# Targets that need the daemon feature (tokio, SQLite, libopus in the
# build).
DAEMON_TARGETS="api_json device_inputs wav"
ALL=$(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | grep -v '^callsign-fuzz$')
[ -n "$TARGETS" ] || TARGETS=$ALL
for t in $TARGETS; do
    echo "$ALL" | grep -qx "$t" || { echo "no fuzz target $t" >&2; exit 2; }
done

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

is_daemon() { echo " $DAEMON_TARGETS " | grep -q " $1 "; }

# 16 codegen units instead of cargo-fuzz's 1: the build parallelizes and
# LLVM's per-unit work shrinks; the loss of cross-unit inlining costs the
# fuzz loop little next to the instrumentation.
FLAGS="--codegen-units 16"
# One cargo invocation: the library is compiled once, with the daemon
# feature only if a daemon target is asked for (the core targets alone
# build without tokio, axum, SQLite and libopus).
FEATURES=""
for t in $TARGETS; do
    if is_daemon "$t"; then FEATURES="--features daemon"; fi
done
ONE=""
if [ "$(echo $TARGETS | wc -w)" = 1 ]; then ONE=$TARGETS; fi
if [ $BUILD = 1 ]; then
    t0=$(date +%s)
    nice -n 10 cargo fuzz build $FLAGS $FEATURES $ONE
    echo "BUILD ${ONE:-all targets}${FEATURES:+ (daemon feature)}: $(( $(date +%s) - t0 )) s"
fi

BIN=target/x86_64-unknown-linux-gnu/release
for t in $TARGETS; do
    [ -x "$BIN/$t" ] || { echo "$BIN/$t is not built: run without --no-build" >&2; exit 2; }
done
mkdir -p logs artifacts corpus-run
DATE=$(date -u +%Y-%m-%d)
echo "| target | executions | exec/s | time (s) | cov | ft | corpus (inputs/bytes) | peak RSS (MB) | date | result |" > "$TABLE"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---|" >> "$TABLE"
FAILED=0
LEFT=$(echo $TARGETS | wc -w)
for t in $TARGETS; do
    budget=$TIME
    if [ -n "$UNTIL" ]; then
        share=$(( (UNTIL - $(date +%s)) / LEFT ))
        [ $share -ge 30 ] || share=30
        [ $share -ge "$budget" ] || budget=$share
    fi
    LEFT=$((LEFT - 1))
    mkdir -p "corpus/$t" "corpus-run/$t" "artifacts/$t"
    log=logs/$t.log
    echo "== $t: up to $RUNS runs or $budget s ($(date -u +%H:%M:%S))"
    t0=$(date +%s)
    set +e
    nice -n 19 "$BIN/$t" -runs="$RUNS" -max_total_time="$budget" -timeout="$TIMEOUT" \
        -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" "corpus-run/$t" "corpus/$t" > "$log" 2>&1
    rc=$?
    set -e
    secs=$(( $(date +%s) - t0 ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    if [ $rc = 0 ]; then
        if [ "${execs:-0}" -ge "$RUNS" ]; then
            result="ok, reached $RUNS runs"
        else
            result="ok, stopped by the $budget s time budget"
        fi
    else
        FAILED=1
        kind=$(grep -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z-]+|panicked at [^ ]+' "$log" | head -1)
        result="FAILED: ${kind:-exit $rc} (see fuzz/$log, fuzz/artifacts/$t/)"
    fi
    echo "| $t | ${execs:-?} | ${rate:-?} | $secs | ${cov:-?} | ${ft:-?} | ${corp:-?} | ${rss:-?} | $DATE | $result |" >> "$TABLE"
    tail -1 "$TABLE"
    if [ $MINIMIZE = 1 ] && [ $rc = 0 ]; then
        # What cargo fuzz cmin does, with the greedy set cover and edges
        # only (no hit counts): a small set of inputs that reaches every
        # edge the campaign reached, so the committed seeds stay a few KB.
        # The full corpus stays in corpus-run/ for the next run.
        rm -rf "corpus/$t.min" && mkdir -p "corpus/$t.min"
        nice -n 19 "$BIN/$t" -set_cover_merge=1 -use_counters=0 -timeout="$TIMEOUT" \
            "corpus/$t.min" "corpus/$t" "corpus-run/$t" >> "$log" 2>&1
        rm -rf "corpus/$t" && mv "corpus/$t.min" "corpus/$t"
        echo "   seeds: $(find "corpus/$t" -type f | wc -l) files, $(find "corpus/$t" -type f -exec cat {} + | wc -c) bytes"
    fi
done
echo
cat "$TABLE"
exit $FAILED
