#!/bin/sh
# Training over MPI on one machine (docs/mpi.md): the same model, the same steps, trained by
# 1 process x T threads and by T processes x 1 thread; prints the training throughput
# (utterances/s over the optimizer steps, dev evaluations and data loading excluded), the
# per-step compute / wait / exchange / update / gather times and the bytes sent per step (all
# ranks), and checks that the two runs wrote the same model byte for byte (correctness before
# timing).
#
#   sh bench/mpi_bench.sh            # MASSIVE=dir MILLE=build/mille LOCALES=... STEPS=... T=2
#
# Machine-readable lines: "mpi_bench procs=P threads=T utt_per_s=... ms_step=... ..."
# Run it alone (flock /tmp/mille-heavy.lock on a shared machine): it uses every core.
set -eu
MASSIVE=${MASSIVE:-../shared/massive-1.1}
MILLE=${MILLE:-build/mille}
LOCALES=${LOCALES:-en-US,fr-FR,de-DE,ja-JP}
BATCH=${BATCH:-64}
STEPS=${STEPS:-300} # optimizer steps timed (one epoch of BATCH*STEPS utterances)
T=${T:-2}
REPS=${REPS:-3} # runs of each; the median is reported
EXTRA=${EXTRA:-} # more train options (model shape: the default is the all-locale model's)
[ -d "$MASSIVE" ] || { echo "mpi_bench: MASSIVE data not found at $MASSIVE" >&2; exit 1; }
MPIRUN="mpirun --oversubscribe --bind-to none"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
export OMPI_MCA_btl=self,vader
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
N=$((BATCH * STEPS))
A="--data $MASSIVE --locales $LOCALES --dev-locales en-US --max-train $N --epochs 1 --batch $BATCH $EXTRA"

# one run: procs threads out -> the step report line of rank 0
one() {
    if [ "$1" = 1 ]; then
        "$MILLE" train $A --threads "$2" --out "$3" >"$W/out" 2>"$W/err"
    else
        $MPIRUN -np "$1" "$MILLE" train $A --threads "$2" --out "$3" >"$W/out" 2>"$W/err"
    fi || { cat "$W/err" >&2; exit 1; }
    grep "ms per step" "$W/err"
}

# fields of a step report line
field() { sed -n "s/.*$1.*/\\1/p"; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench() { # procs threads
    : >"$W/ms"
    : >"$W/lines"
    for r in $(seq "$REPS"); do
        one "$1" "$2" "$W/m_$1x$2.model" >>"$W/lines"
    done
    ms=$(field 'steps: \([0-9.]*\) ms per step' <"$W/lines" | median)
    comp=$(field '(\([0-9.]*\) computing' <"$W/lines" | median)
    wait=$(field ', \([0-9.]*\) waiting' <"$W/lines" | median)
    xch=$(field ', \([0-9.]*\) exchanging' <"$W/lines" | median)
    rowsms=$(field 'of which \([0-9.]*\) the embedding' <"$W/lines" | median)
    bytes=$(field '; \([0-9]*\) bytes sent per step' <"$W/lines" | median)
    dense=$(field 'dense gradient \([0-9]*\) floats' <"$W/lines" | median)
    rows=$(field ', \([0-9]*\) embedding rows' <"$W/lines" | median)
    upd=$(field '; \([0-9.]*\) ms updating' <"$W/lines" | median)
    gath=$(field ', \([0-9.]*\) ms gathering the updated' <"$W/lines" | median)
    adds=$(field ', \([0-9.]*\) ms adding word' <"$W/lines" | median)
    dim=$(sed -n 's/.* dim=\([0-9]*\) .*/\1/p' "$W/err" | head -1)
    buckets=$(sed -n 's/.* buckets=\([0-9]*\) .*/\1/p' "$W/err" | head -1)
    ups=$(awk -v b="$BATCH" -v ms="$ms" 'BEGIN {printf "%.0f", b * 1000 / ms}')
    echo "mpi_bench procs=$1 threads=$2 utt_per_s=$ups ms_step=$ms compute_ms=$comp wait_ms=$wait exchange_ms=$xch rows_ms=$rowsms update_ms=$upd gather_ms=$gath adds_ms=$adds bytes_step=$bytes dense_floats=$dense rows_step=$rows batch=$BATCH steps=$STEPS dim=$dim buckets=$buckets"
}

echo "mpi_bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(mpirun --version | head -1)"
echo "mpi_bench: locales $LOCALES, $STEPS steps of $BATCH utterances, $REPS runs each (median)"
bench 1 "$T"
bench "$T" 1
if cmp -s "$W/m_1x$T.model" "$W/m_${T}x1.model"; then
    echo "mpi_bench: the $T-process model equals the 1-process model byte for byte"
else
    echo "mpi_bench: FAIL: the $T-process model differs from the 1-process model" >&2
    exit 1
fi
