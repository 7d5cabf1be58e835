#!/usr/bin/env bash
# False alarms on lossy links: one network-namespace host per loss rate, each behind an
# nftables rule that drops that share of the echo requests it receives, and one ping
# monitor per host with the default settings (interval from --interval), watched for
# DURATION seconds through `upbot watch`. Prints, per rate: probes, failed probes,
# packets sent and lost (from the probe events), DOWN and DEGRADED alerts, and every
# state change.
#
# usage (root; needs ip, nft, python3):
#   examples/lossy_links.sh [--interval 1s] [--counted] [--keep-log] BIN DURATION RATE...
#   cargo build --release && examples/lossy_links.sh target/release/upbot 600 0 30 50 100
#
# --counted drops with `numgen inc mod 100 < RATE` (every 100 requests, the first RATE:
# the same pattern every run) instead of `numgen random mod 100 < RATE`.
# Probes and drops touch only the namespaces the script makes; everything it made
# (namespaces, veth pairs, the server, its temp dir) is removed on exit.
set -euo pipefail

interval=1s; mode=random; keep_log=
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --interval) interval=$2; shift 2 ;;
    --counted) mode=inc; shift ;;
    --keep-log) keep_log=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ $# -lt 3 ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
BIN=$(realpath "$1"); DUR=$2; shift 2
RATES=("$@")
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces, raw ICMP)" >&2; exit 1; }
for t in ip nft python3; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done

tag=ll$$
dir=$(mktemp -d)
srv=; watch=
cleanup() {
  [[ -n $watch ]] && kill "$watch" 2>/dev/null || true
  [[ -n $srv ]] && { kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; } || true
  for i in "${!RATES[@]}"; do ip netns del "$tag$i" 2>/dev/null || true; done
  if [[ -n $keep_log ]]; then echo "log and events kept in $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT

# A free /30 per host in 198.19.200-249.0/30 (nothing else on this machine may use it).
nets=()
for n in $(seq 200 249); do
  ip -o -4 addr show | grep -q " 198\.19\.$n\." || nets+=("$n")
  [[ ${#nets[@]} -ge ${#RATES[@]} ]] && break
done
[[ ${#nets[@]} -ge ${#RATES[@]} ]] || { echo "no free 198.19.x.0/30" >&2; exit 1; }

for i in "${!RATES[@]}"; do
  ns=$tag$i; n=${nets[$i]}; o=${tag}o$i; p=${tag}p$i; r=${RATES[$i]}
  ip netns add "$ns"
  ip link add "$o" type veth peer name "$p" netns "$ns"
  ip addr add "198.19.$n.1/30" dev "$o"; ip link set "$o" up
  ip -n "$ns" addr add "198.19.$n.2/30" dev "$p"; ip -n "$ns" link set "$p" up; ip -n "$ns" link set lo up
  if [[ $r -ge 100 ]]; then rule=drop; elif [[ $r -gt 0 ]]; then rule="numgen $mode mod 100 < $r drop"; else rule=; fi
  ip netns exec "$ns" nft "add table inet loss
add chain inet loss input { type filter hook input priority 0; policy accept; }
${rule:+add rule inet loss input icmp type echo-request $rule}"
done

# Free loopback ports for the WS API and the HTTP receiver.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ws=127.0.0.1:$(port); http=127.0.0.1:$(port)
server=ws://$ws
UPBOT_DATA_DIR=$dir/data UPBOT_WS_ADDR=$ws UPBOT_HTTP_ADDR=$http RUST_LOG=warn "$BIN" serve >"$dir/serve.log" 2>&1 &
srv=$!
for _ in $(seq 1 100); do "$BIN" list --server "$server" >/dev/null 2>&1 && break; sleep 0.1; done
"$BIN" watch --server "$server" >"$dir/events.jsonl" 2>/dev/null &
watch=$!
sleep 0.5
for i in "${!RATES[@]}"; do
  "$BIN" add "198.19.${nets[$i]}.2" --interval "$interval" --name "loss${RATES[$i]}" --server "$server" >/dev/null
done
echo "$(date -u +%FT%TZ) $("$BIN" --version 2>/dev/null || echo upbot): ${#RATES[@]} monitors at $interval, $mode drop, ${DUR}s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
sleep "$DUR"
"$BIN" list --server "$server" --json >"$dir/list.json"
kill "$watch" 2>/dev/null || true; watch=

python3 - "$dir/events.jsonl" "$dir/list.json" <<'PY'
import collections, json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = {m["id"]: m["name"] for m in json.load(open(sys.argv[2]))}
states = collections.defaultdict(list)
probes, failed, sent, received = (collections.Counter() for _ in range(4))
for e in events:
    d = e.get("data", {})
    mid = d.get("monitor_id")
    if e["type"] == "state":
        states[mid].append(d["to"] if d.get("to") != "degraded" else "degraded(%s)" % d.get("reason", ""))
    elif e["type"] == "probe":
        probes[mid] += 1
        failed[mid] += not d.get("ok")
        # Builds before retries have no packet counts: one echo per probe.
        sent[mid] += d.get("sent", 1)
        received[mid] += d.get("received", 1 if d.get("ok") else 0)
for mid, name in sorted(names.items()):
    t = states[mid]
    downs = sum(1 for s in t if s == "down")
    degraded = sum(1 for s in t if s.startswith("degraded"))
    lost = sent[mid] - received[mid]
    print(f"{name}: probes={probes[mid]} failed={failed[mid]} "
          f"({100 * failed[mid] / max(1, probes[mid]):.1f}%) packets sent={sent[mid]} "
          f"lost={lost} ({100 * lost / max(1, sent[mid]):.1f}%) DOWN={downs} DEGRADED={degraded} "
          f"states={' > '.join(['pending'] + t)}")
PY
