#!/usr/bin/env bash
# Idle overhead of real daemons, callsign and babeld side by side (issue
# "A quiet mesh", point 1): the same worlds of network namespaces, built
# once each, first with a `callsign up` in every namespace, then with a
# babeld (the Debian package, RFC 8966 default timers: hello 4 s) in every
# namespace. After SETTLE seconds of convergence, every node-side
# interface's L2 counters (/sys/class/net/IF/statistics/tx_{bytes,packets})
# are read over IDLE seconds of idle, and each daemon's wake-ups.
#
# Worlds:
#   shared10, shared30  one shared medium: every daemon's only interface
#                       hangs off one Linux bridge (in a namespace of its
#                       own), as on one Wi-Fi channel where all hear all
#   ring6               six nodes in a ring, one veth per link (two paths
#                       between any two nodes: the reroute topology)
#   grid25              5 x 5 grid, one veth per link
#
# Figures per world and daemon: bit/s and packets/s per node (shared
# medium) or per link end (one interface per link), and wake-ups per
# second per node: for callsign the engine's own timer wake-ups (its
# `timer_wakeups` counter) and, for both daemons, every time a thread of
# the process went to sleep and was woken (voluntary context switches,
# /proc/PID/task/*/status: timers and packets alike). Each callsign line
# ends with the issue's targets for it, `ok` or `MISS`.
#
# Then, in the same run of ring6 and grid25, a relay that carries a flow
# dies silently: a ping every 20 ms from the first node to the last (n1 ->
# n4, g00 -> g44; `callsign ping`, ping(8) to the node's address for
# babeld), the second relay on its path gone silently 1.5 s in (its daemon
# SIGKILLed, all its namespace's traffic dropped by nftables), and the
# longest gap between replies from the last one before the kill (target
# for callsign <= 500 ms).
#
#   benches/quiet.sh [WORLD ...]        (default: all four; root, babeld)
#   SETTLE=20 IDLE=20 benches/quiet.sh  (seconds)
#   DAEMONS="callsign" benches/quiet.sh (one daemon only)
#   SNIFF=1 benches/quiet.sh shared10   (also callsign's datagrams by kind,
#                                        counted on the bridge ports)
#   LIMIT=1800 benches/quiet.sh         (seconds before the run stops itself)
#   ./run quiet [WORLD ...]             (installs babeld and ping first)
#
# Everything runs inside namespaces this script makes (names start with
# `cq<pid>-`, or $CALLSIGN_FIELD_NS_PREFIX instead of `cq`); they are
# removed on exit, also on failure, interrupt or when LIMIT runs out, and
# those of an earlier run that was killed outright are removed at start.
# Needs iproute2, nftables, python3, babeld and ping(8) (Debian:
# iputils-ping).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${CALLSIGN_BIN:-./target/release/callsign}")
[ -x "$bin" ] || cargo build --release --quiet
SETTLE=${SETTLE:-20}
IDLE=${IDLE:-20}
DAEMONS=${DAEMONS:-"callsign babeld"}
LIMIT=${LIMIT:-1800}
worlds=("$@")
[ ${#worlds[@]} -gt 0 ] || worlds=(shared10 shared30 ring6 grid25)
if [ "$(id -u)" -ne 0 ]; then
    echo "benches/quiet.sh needs root (network namespaces)" >&2
    exit 1
fi
if [[ " $DAEMONS " == *" babeld "* ]] && ! command -v babeld >/dev/null; then
    echo "babeld is not installed (apt-get install babeld)" >&2
    exit 1
fi
if [[ " $DAEMONS " == *" babeld "* ]] && ! command -v ping >/dev/null; then
    echo "ping is not installed (apt-get install iputils-ping)" >&2
    exit 1
fi

PFX=${CALLSIGN_FIELD_NS_PREFIX:-cq}
P="$PFX$$"
# What a run killed outright (SIGKILL, power) left behind: namespaces of
# this prefix whose run is no longer alive.
for ns in $(ip netns list | awk '{print $1}' | grep -E "^$PFX[0-9]+-" || true); do
    owner=${ns#"$PFX"}
    owner=${owner%%-*}
    if ! kill -0 "$owner" 2>/dev/null; then
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    fi
done
tmp=$(mktemp -d /tmp/callsign-quiet.XXXXXX)
pids=()

stop_daemons() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    pids=()
}

teardown() {
    stop_daemons
    local ns
    for ns in $(ip netns list | awk '{print $1}' | grep "^$P-" || true); do
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$p" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || true
    done
    # A veth end made in the root namespace, before it moved.
    for f in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$P" || true); do
        ip link del "$f" 2>/dev/null || true
    done
}
# The whole run is bounded: past LIMIT seconds the watchdog stops it (the
# EXIT trap then cleans up as on any failure).
(
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$LIMIT" &
    s=$!
    wait "$s"
    echo "benches/quiet.sh: over LIMIT=$LIMIT s, stopping" >&2
    kill -TERM $$
) &
watchdog=$!
trap 'kill "$watchdog" 2>/dev/null || true; teardown; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

mkns() {
    ip netns add "$P-$1"
    # DAD off before any veth end moves in (link-local usable at once).
    ip netns exec "$P-$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.forwarding=1
    ip -n "$P-$1" link set lo up
}

# Node names of the world and, per node, its interfaces (file per node).
nodes=()
addif() { echo "$2" >>"$tmp/if-$1"; }

build_shared() {
    local n=$1 i
    mkns br
    ip -n "$P-br" link add br0 type bridge mcast_snooping 0
    ip -n "$P-br" link set br0 up
    for ((i = 1; i <= n; i++)); do
        nodes+=("n$i")
        mkns "n$i"
        ip link add "${P}a$i" type veth peer name "${P}b$i"
        ip link set "${P}a$i" netns "$P-n$i"
        ip -n "$P-n$i" link set "${P}a$i" up
        ip link set "${P}b$i" netns "$P-br"
        ip -n "$P-br" link set "${P}b$i" master br0 up
        addif "n$i" "${P}a$i"
    done
}

link() {
    local a=$1 b=$2 k=$3
    ip link add "${P}l${k}a" type veth peer name "${P}l${k}b"
    ip link set "${P}l${k}a" netns "$P-$a"
    ip link set "${P}l${k}b" netns "$P-$b"
    ip -n "$P-$a" link set "${P}l${k}a" up
    ip -n "$P-$b" link set "${P}l${k}b" up
    addif "$a" "${P}l${k}a"
    addif "$b" "${P}l${k}b"
    # Who is at the other end of each interface (babeld's next hops).
    echo "$b" >"$tmp/peer-${P}l${k}a"
    echo "$a" >"$tmp/peer-${P}l${k}b"
}

build_ring6() {
    local i k=0
    for i in 1 2 3 4 5 6; do
        nodes+=("n$i")
        mkns "n$i"
    done
    for i in 1 2 3 4 5 6; do
        link "n$i" "n$((i % 6 + 1))" $((k++))
    done
}

build_grid25() {
    local r c k=0
    for ((r = 0; r < 5; r++)); do
        for ((c = 0; c < 5; c++)); do
            nodes+=("g$r$c")
            mkns "g$r$c"
        done
    done
    for ((r = 0; r < 5; r++)); do
        for ((c = 0; c < 5; c++)); do
            if [ $c -lt 4 ]; then link "g$r$c" "g$r$((c + 1))" $((k++)); fi
            if [ $r -lt 4 ]; then link "g$r$c" "g$((r + 1))$c" $((k++)); fi
        done
    done
}

start_callsign() {
    local n i=0 args
    for n in "${nodes[@]}"; do
        args=()
        while read -r f; do args+=(--iface "$f"); done <"$tmp/if-$n"
        mkdir -p "$tmp/$n"
        CALLSIGN_CONFIG=/dev/null ip netns exec "$P-$n" "$bin" up --api 127.0.0.1:7480 \
            --name "$n" --log warn --data-dir "$tmp/$n" "${args[@]}" \
            </dev/null >/dev/null 2>"$tmp/$n.log" &
        pids+=($!)
        i=$((i + 1))
    done
}

start_babeld() {
    local n i=0 ifs
    for n in "${nodes[@]}"; do
        i=$((i + 1))
        # One address per node for babeld to announce (callsign announces
        # each node too): a /128 on lo, redistributed.
        ip -n "$P-$n" addr add "fd00:5157::$i/128" dev lo
        mapfile -t ifs <"$tmp/if-$n"
        ip netns exec "$P-$n" babeld -I "$tmp/$n.babeld.pid" -S "$tmp/$n.babeld.state" \
            -C 'redistribute local ip fd00:5157::/64 ge 64 le 128' -C 'redistribute local deny' \
            "${ifs[@]}" </dev/null >/dev/null 2>"$tmp/$n.babeld.log" &
        pids+=($!)
    done
}

# Sum of tx bytes, tx packets over every node-side interface.
counters() {
    local n f b=0 p=0 x y
    for n in "${nodes[@]}"; do
        while read -r f; do
            x=$(ip netns exec "$P-$n" cat "/sys/class/net/$f/statistics/tx_bytes" </dev/null)
            y=$(ip netns exec "$P-$n" cat "/sys/class/net/$f/statistics/tx_packets" </dev/null)
            b=$((b + x))
            p=$((p + y))
        done <"$tmp/if-$n"
    done
    echo "$b $p"
}

# Voluntary context switches of every daemon's threads, summed.
switches() {
    local p s=0 v
    for p in "${pids[@]}"; do
        for f in /proc/"$p"/task/*/status; do
            v=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$f" 2>/dev/null || echo 0)
            s=$((s + ${v:-0}))
        done
    done
    echo "$s"
}

# The callsign CLI against node $1's daemon (bounded: a hung daemon
# must not hang the run).
cs() {
    local n=$1
    shift
    CALLSIGN_CONFIG=/dev/null CALLSIGN_DATA_DIR="$tmp/$n" timeout 10 \
        ip netns exec "$P-$n" "$bin" "$@" </dev/null 2>/dev/null
}

# The callsign engines' timer wake-ups, summed.
timer_wakeups() {
    local n s=0 v
    for n in "${nodes[@]}"; do
        v=$(cs "$n" status --json |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"].get("timer_wakeups", 0))' \
            2>/dev/null || echo 0)
        s=$((s + v))
    done
    echo "$s"
}

# Index (from 1) of node $1 in the world.
index() {
    local i
    for i in "${!nodes[@]}"; do
        if [ "${nodes[$i]}" = "$1" ]; then
            echo $((i + 1))
            return
        fi
    done
}

# Node id of callsign node $1.
node_id() {
    cs "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null
}

# The name of node $1's next hop towards node $2 under daemon $3, or
# nothing without a route.
next_hop() {
    local from=$1 to=$2 daemon=$3 dev n nh
    if [ "$daemon" = babeld ]; then
        dev=$(ip -n "$P-$from" -6 route get "fd00:5157::$(index "$to")" 2>/dev/null |
            sed -n 's/.* dev \([^ ]*\).*/\1/p')
        [ -n "$dev" ] && [ -f "$tmp/peer-$dev" ] && cat "$tmp/peer-$dev"
        return 0
    fi
    nh=$(cs "$from" routes --json | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["dest"] == sys.argv[1]:
        print(r["next_hop"])' "$(cat "$tmp/id-$to")" 2>/dev/null)
    [ -n "$nh" ] || return 0
    for n in "${nodes[@]}"; do
        if [ "$(cat "$tmp/id-$n")" = "$nh" ]; then
            echo "$n"
            return 0
        fi
    done
}

# A relay that carries a flow dies silently: the reroute gap of a ping
# every 20 ms from node $3 to node $4 when the second relay on its path
# (not a neighbour of the source: the news must cross a hop) is SIGKILLed.
reroute() {
    local world=$1 daemon=$2 src=$3 dst=$4 n r1 r2 pid gap until marker cmd
    if [ "$daemon" = callsign ]; then
        for n in "${nodes[@]}"; do node_id "$n" >"$tmp/id-$n"; done
    fi
    r1=$(next_hop "$src" "$dst" "$daemon")
    r2=""
    [ -z "$r1" ] || r2=$(next_hop "$r1" "$dst" "$daemon")
    if [ -z "$r2" ] || [ "$r2" = "$dst" ]; then
        echo "$world $daemon: no route of three hops or more $src -> $dst (first relay '${r1}')" >&2
        echo "FIGURE ${world}_${daemon}_reroute_gap_ms=none"
        return 0
    fi
    pid=${pids[$(($(index "$r2") - 1))]}
    if [ "$daemon" = callsign ]; then
        cmd=(env CALLSIGN_CONFIG=/dev/null CALLSIGN_DATA_DIR="$tmp/$src" ip netns exec "$P-$src"
            "$bin" ping "$(cat "$tmp/id-$dst")" --interval 0.02 --timeout 0.5 --json)
        marker='"type":"reply"'
        until=10
    else
        # Line-buffered, so each reply line arrives as ping(8) prints it:
        # the gap is timed from the arrivals.
        cmd=(ip netns exec "$P-$src" stdbuf -oL ping -6 -n -i 0.02 -W 0.5 "fd00:5157::$(index "$dst")")
        marker='bytes from'
        until=120
    fi
    # The relay vanishes as a node whose battery died: its daemon killed
    # and nothing in or out of its namespace any more. Killing babeld alone
    # would leave the kernel routes it installed forwarding the flow.
    local kill="set -e; kill -KILL $pid; ip netns exec $P-$r2 nft -f - <<'NFT'
table inet dead {
    chain drop_in { type filter hook input priority -300; policy drop; }
    chain drop_fwd { type filter hook forward priority -300; policy drop; }
    chain drop_out { type filter hook output priority -300; policy drop; }
}
NFT"
    gap=$(python3 benches/tools/gap.py 1.5 "$until" "$marker" "$kill" -- "${cmd[@]}")
    local verdict=""
    if [ "$daemon" = callsign ]; then
        if [[ "$gap" =~ ^[0-9]+$ ]] && [ "$gap" -le 500 ]; then verdict="  target <= 500 ms: ok"; else verdict="  target <= 500 ms: MISS"; fi
    fi
    printf '%-9s %-9s reroute gap %s ms under a 20 ms ping %s -> %s, relay %s gone%s\n' \
        "$world" "$daemon" "$gap" "$src" "$dst" "$r2" "$verdict"
    echo "FIGURE ${world}_${daemon}_reroute_gap_ms=${gap%% *}"
}

ends() {
    local n c=0
    for n in "${nodes[@]}"; do
        c=$((c + $(wc -l <"$tmp/if-$n")))
    done
    echo "$c"
}

measure() {
    local world=$1 daemon=$2 unit=$3 units=$4
    local alive p
    sleep "$SETTLE"
    for p in "${pids[@]}"; do
        if ! kill -0 "$p" 2>/dev/null; then
            echo "$world $daemon: a daemon exited early; see its log:" >&2
            tail -5 "$tmp"/*.log >&2 || true
            exit 1
        fi
    done
    # Each sweep reads the nodes one after another, in the same order
    # both times: a counter's interval is from the start of one sweep to
    # the start of the next (reading 60 counters takes seconds).
    local c0 s0 w0 c1 s1 w1 tc0 tc1 ts0 ts1 tw0 tw1
    tw0=$(date +%s.%N)
    w0=0
    [ "$daemon" = callsign ] && w0=$(timer_wakeups)
    tc0=$(date +%s.%N)
    c0=$(counters)
    ts0=$(date +%s.%N)
    s0=$(switches)
    if [ -n "${SNIFF:-}" ] && [ "$daemon" = callsign ] && [ "$unit" = node ]; then
        ip netns exec "$P-br" python3 benches/tools/kinds.py "$IDLE" "${#nodes[@]}" &
        local sniff=$!
        KINDS_OWN=1 ip netns exec "$P-n1" python3 benches/tools/kinds.py "$IDLE" 1 |
            sed 's/^/n1 /'
        wait "$sniff"
    else
        sleep "$IDLE"
    fi
    ts1=$(date +%s.%N)
    s1=$(switches)
    tc1=$(date +%s.%N)
    c1=$(counters)
    tw1=$(date +%s.%N)
    w1=0
    [ "$daemon" = callsign ] && w1=$(timer_wakeups)
    python3 - "$world" "$daemon" "$unit" "$units" "${#nodes[@]}" "$c0" "$c1" "$s0" "$s1" "$w0" "$w1" \
        "$tc0" "$tc1" "$ts0" "$ts1" "$tw0" "$tw1" <<'EOF'
import sys
world, daemon, unit, units, nodes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
b0, p0 = map(int, sys.argv[6].split()); b1, p1 = map(int, sys.argv[7].split())
s0, s1, w0, w1 = map(int, sys.argv[8:12])
tc0, tc1, ts0, ts1, tw0, tw1 = map(float, sys.argv[12:18])
bits = (b1 - b0) * 8 / (tc1 - tc0) / units
pkts = (p1 - p0) / (tc1 - tc0) / units
wake = (s1 - s0) / (ts1 - ts0) / nodes
timer = "%.2f" % ((w1 - w0) / (tw1 - tw0) / nodes) if daemon == "callsign" else "-"
print("%-9s %-9s %8.0f bit/s %6.2f packets/s per %-9s  wake-ups/s per node: %6.2f all, timers %s"
      % (world, daemon, bits, pkts, unit, wake, timer))
print("FIGURE %s_%s_bits_per_s_per_%s=%.0f" % (world, daemon, unit.replace(" ", "_"), bits))
print("FIGURE %s_%s_packets_per_s_per_%s=%.3f" % (world, daemon, unit.replace(" ", "_"), pkts))
print("FIGURE %s_%s_wakeups_per_s_per_node=%.2f" % (world, daemon, wake))
if daemon == "callsign":
    print("FIGURE %s_%s_timer_wakeups_per_s_per_node=%s" % (world, daemon, timer))
    # The issue's targets for this world.
    checks = [("bit/s", bits, {"shared10": 700, "shared30": 1000}.get(world, 500)),
              ("timer wake-ups/s", (w1 - w0) / (tw1 - tw0) / nodes, 5)]
    if unit == "node":
        checks.append(("packets/s", pkts, 0.5))
    print("%-9s %-9s targets: %s" % (world, daemon, ", ".join(
        "%s <= %g %s" % (k, t, "ok" if v <= t else "MISS") for k, v, t in checks)))
EOF
}

for w in "${worlds[@]}"; do
    nodes=()
    rm -f "$tmp"/if-* "$tmp"/peer-* "$tmp"/id-*
    case "$w" in
        shared10) build_shared 10; unit=node ;;
        shared30) build_shared 30; unit=node ;;
        ring6) build_ring6; unit="link end" ;;
        grid25) build_grid25; unit="link end" ;;
        *) echo "unknown world $w (shared10, shared30, ring6, grid25)" >&2; exit 2 ;;
    esac
    if [ "$unit" = node ]; then units=${#nodes[@]}; else units=$(ends); fi
    for d in $DAEMONS; do
        case "$d" in
            callsign) start_callsign ;;
            babeld) start_babeld ;;
            *) echo "unknown daemon $d" >&2; exit 2 ;;
        esac
        measure "$w" "$d" "$unit" "$units"
        case "$w" in
            ring6) reroute "$w" "$d" n1 n4 ;;
            grid25) reroute "$w" "$d" g00 g44 ;;
        esac
        stop_daemons
        rm -rf "${tmp:?}"/n* "${tmp:?}"/g*
    done
    teardown
done
