#!/usr/bin/env bash
# Placement quality and speed on the Alibaba GPU-sharing trace (openb format): every policy × every trace.
#
#   bench/placement.sh [TRACES_DIR]      (default: ../shared/traces/alibaba-gpu-2023 beside the repository)
#
# For each pod list in TRACES_DIR it replays every policy over seeds 42–51 (override with SEEDS=…) with the
# FGD paper's protocol and prints unallocated GPU % at 100 % and 130 % arrived (mean ± sd) beside the published
# figures (USENIX ATC'23, see ../shared/reference/placement-benchmark.md), the time per replay and the
# placement-query latency, each with its ratio to FGD measured in the same run. Raw JSON goes to bench/out/.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TRACES="${1:-$ROOT/../shared/traces/alibaba-gpu-2023}"
SEEDS="${SEEDS:-42-51}"
POLICIES="random dotprod clustering packing bestfit fgd tessera"
NODES="$TRACES/openb_node_list_gpu_node.csv"
[ -f "$NODES" ] || { echo "no $NODES (give the traces directory as the first argument)" >&2; exit 2; }

cd "$ROOT"
swift build -c release -Xswiftc -enable-testing --product tessera >&2
BIN="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/tessera"
OUT="$ROOT/bench/out"
mkdir -p "$OUT"

# Published unallocated GPU % at 100 % arrived (and at 130 % where the reference gives it).
published() {
    case "$1:$2" in
    default:random) echo 13.70 ;; default:dotprod) echo 9.38 ;; default:clustering) echo 8.35 ;;
    default:packing) echo 8.22 ;; default:bestfit) echo 7.14 ;; default:fgd) echo 4.77 ;;
    gpushare40:random) echo 15.14 ;; gpushare40:dotprod) echo 10.70 ;; gpushare40:clustering) echo 10.24 ;;
    gpushare40:packing) echo 10.23 ;; gpushare40:bestfit) echo 8.56 ;; gpushare40:fgd) echo 6.04 ;;
    gpushare60:random) echo 17.19 ;; gpushare60:dotprod) echo 13.18 ;; gpushare60:clustering) echo 13.10 ;;
    gpushare60:packing) echo 12.85 ;; gpushare60:bestfit) echo 10.94 ;; gpushare60:fgd) echo 8.75 ;;
    multigpu30:random) echo 13.37 ;; multigpu30:dotprod) echo 6.89 ;; multigpu30:clustering) echo 5.45 ;;
    multigpu30:packing) echo 5.30 ;; multigpu30:bestfit) echo 5.43 ;; multigpu30:fgd) echo 3.64 ;;
    cpu100:random) echo 12.57 ;; cpu100:dotprod) echo 8.27 ;; cpu100:clustering) echo 7.58 ;;
    cpu100:packing) echo 7.50 ;; cpu100:bestfit) echo 6.74 ;; cpu100:fgd) echo 4.79 ;;
    *) echo - ;;
    esac
}
published130() {
    case "$1:$2" in default:bestfit) echo 6.92 ;; default:fgd) echo 4.61 ;; *) echo - ;; esac
}

# field FILE KEY -> "mean sd" of {"mean": m, "sd": s}
statistic() { sed -n "s/.*\"$2\": {\"mean\": \([-0-9.]*\), \"sd\": \([-0-9.]*\)}.*/\1 \2/p" "$1" | head -1; }
latency() { sed -n "s/.*\"query_latency_us\": {\"queries\": [0-9]*, \"p50\": \([0-9.]*\), \"p99\": \([0-9.]*\).*/\1 \2/p" "$1"; }

traces=""
for preferred in default gpushare40 gpushare60 multigpu30 cpu100; do
    [ -f "$TRACES/openb_pod_list_$preferred.csv" ] && traces="$traces $preferred"
done
for file in "$TRACES"/openb_pod_list_*.csv; do
    name="$(basename "$file" .csv)"; name="${name#openb_pod_list_}"
    case " $traces " in *" $name "*) ;; *) traces="$traces $name" ;; esac
done

echo "seeds $SEEDS; unallocated GPU % (mean ± sd over seeds); published = FGD paper; ratios are to FGD in this run"
printf '%-11s %-10s | %-13s %9s | %-13s %9s | %9s %6s | %8s %8s %6s\n' \
    trace policy "@100%" published "@130%" published "s/replay" ratio "p50 µs" "p99 µs" ratio
for trace in $traces; do
    for policy in $POLICIES; do
        "$BIN" placement replay --nodes "$NODES" --pods "$TRACES/openb_pod_list_$trace.csv" \
            --policy "$policy" --seeds "$SEEDS" --json > "$OUT/$trace-$policy.json"
    done
    read -r fgd_seconds _ < <(statistic "$OUT/$trace-fgd.json" seconds_per_replay)
    read -r _ fgd_p99 < <(latency "$OUT/$trace-fgd.json")
    for policy in $POLICIES; do
        json="$OUT/$trace-$policy.json"
        read -r m100 s100 < <(statistic "$json" unallocated_percent_at_100)
        read -r m130 s130 < <(statistic "$json" unallocated_percent_at_130 || echo "- -")
        read -r seconds _ < <(statistic "$json" seconds_per_replay)
        read -r p50 p99 < <(latency "$json")
        awk -v t="$trace" -v p="$policy" -v m100="$m100" -v s100="$s100" -v pub="$(published "$trace" "$policy")" \
            -v m130="${m130:--}" -v s130="${s130:--}" -v pub130="$(published130 "$trace" "$policy")" \
            -v sec="$seconds" -v fsec="$fgd_seconds" -v p50="$p50" -v p99="$p99" -v fp99="$fgd_p99" 'BEGIN {
                a = sprintf("%6.2f ± %4.2f", m100, s100)
                b = (m130 == "-" || m130 == "") ? "-" : sprintf("%6.2f ± %4.2f", m130, s130)
                printf "%-11s %-10s | %-13s %9s | %-13s %9s | %9.3f %5.2fx | %8.1f %8.1f %5.2fx\n",
                    t, p, a, pub, b, pub130, sec, sec / fsec, p50, p99, p99 / fp99
            }'
    done
    read -r tessera _ < <(statistic "$OUT/$trace-tessera.json" unallocated_percent_at_100)
    read -r fgd _ < <(statistic "$OUT/$trace-fgd.json" unallocated_percent_at_100)
    awk -v t="$trace" -v tessera="$tessera" -v fgd="$fgd" -v pub="$(published "$trace" fgd)" 'BEGIN {
        if (pub == "-") { printf "%s: tessera %.2f, fgd %.2f (no published figure)\n", t, tessera, fgd; exit }
        printf "%s: tessera %.2f vs FGD published %.2f (%s); FGD here %.2f, %+.2f pp from published (%s)\n",
            t, tessera, pub, (tessera < pub ? "beats" : "DOES NOT BEAT"), fgd, fgd - pub,
            ((fgd - pub) <= 0.5 && (pub - fgd) <= 0.5 ? "within 0.5" : "OUTSIDE 0.5")
    }'
done
