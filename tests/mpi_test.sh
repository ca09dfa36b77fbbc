#!/bin/sh
# Training over MPI (docs/mpi.md), run by `make mpi-test`:
#   - 2 processes x 1 thread and 3 processes train byte for byte the model of 1 process x 2
#     threads (train and distill);
#   - pretrain over 2 processes is reproducible and its result trains;
#   - a run stopped after an epoch by 2 processes resumes with 1 and with 3 processes to the
#     uninterrupted model, byte for byte; one stopped by 3 resumes with 2 (no dev set, so the
#     last weights are compared: the sharded update's moments travel to the checkpoint);
#   - failures: a rank that cannot read its data, a corrupt checkpoint read by rank 0, ranks
#     with different settings, and a rank killed mid-run end every rank with an error
#     (non-zero exit) within a timeout, never a hang; the killed run's checkpoint still
#     resumes.
# MILLE=path/to/mille (default build/mille); needs mpirun (openmpi-bin).
set -u
MILLE=${MILLE:-build/mille}
MILLE=$(cd "$(dirname "$MILLE")" && pwd)/$(basename "$MILLE")
SAMPLE=$(pwd)/data/sample
command -v mpirun >/dev/null || { echo "mpi_test: mpirun not found (apt-get install openmpi-bin)"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
MPIRUN="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
# no network probing on a CI machine: the ranks of one host talk through shared memory
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    echo "FAIL: $*"
    fail=$((fail + 1))
}
# run NAME TIMEOUT CMD...: CMD's exit code in $rc, its stderr in err, bounded by TIMEOUT s
run() {
    name=$1 limit=$2
    shift 2
    timeout -k 5 "$limit" "$@" >out 2>err
    rc=$?
    [ $rc = 124 ] || [ $rc = 137 ] && bad "$name: no exit within ${limit}s (hang)"
}
same() { # same NAME A B
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi
}
A="--data $SAMPLE --locales en-US,ja-JP,fr-FR --dim 32 --hidden 32 --buckets 20000 --seed 3 --quiet"

# ---- 1 process = 2 processes = 3 processes ------------------------------------------------
run "1 process" 120 "$MILLE" train $A --epochs 3 --threads 2 --out one.model
[ $rc = 0 ] && ok || { bad "1 process: exit $rc"; cat err; }
run "2 processes" 120 $MPIRUN -np 2 "$MILLE" train $A --epochs 3 --threads 1 --out two.model
[ $rc = 0 ] && ok || { bad "2 processes: exit $rc"; cat err; }
same "2 processes x 1 thread vs 1 process x 2 threads" one.model two.model
grep -q '"exact_match"' out && [ "$(grep -c '"model"' out)" = 1 ] && ok ||
    bad "2 processes: expected one summary line, got: $(cat out)"
grep -q "bytes sent" err && ok || bad "2 processes: no exchange report on stderr"
run "3 processes" 120 $MPIRUN -np 3 "$MILLE" train $A --epochs 3 --threads 1 --out three.model
[ $rc = 0 ] && ok || { bad "3 processes: exit $rc"; cat err; }
same "3 processes vs 1 process" one.model three.model
# more processes than shards is refused, by every rank at once
run "too many processes" 60 $MPIRUN -np 3 "$MILLE" train $A --epochs 1 --shards 2 --out x.model
[ $rc != 0 ] && grep -q "shards" err && ok || bad "3 processes over 2 shards: exit $rc"

# ---- distill: a student of one.model --------------------------------------------------------
D="--teacher one.model --data $SAMPLE --locales en-US,ja-JP,fr-FR --dim 16 --hidden 16 --buckets 8192 --epochs 2 --copies 1 --quiet"
run "distill, 1 process" 120 "$MILLE" distill $D --threads 2 --out s1.model
[ $rc = 0 ] && ok || { bad "distill 1 process: exit $rc"; cat err; }
run "distill, 2 processes" 120 $MPIRUN -np 2 "$MILLE" distill $D --threads 1 --out s2.model
[ $rc = 0 ] && ok || { bad "distill 2 processes: exit $rc"; cat err; }
same "distill: 2 processes vs 1" s1.model s2.model

# ---- pretrain: local copies averaged; reproducible for a fixed process count ----------------
P="--text $SAMPLE/en-US.jsonl.gz --text $SAMPLE/fr-FR.jsonl.gz --dim 16 --buckets 8192 --epochs 2 --threads 1 --quiet"
run "pretrain, 2 processes" 120 $MPIRUN -np 2 "$MILLE" pretrain $P --out p1.model
[ $rc = 0 ] && [ "$(grep -c pretrained out)" = 1 ] && ok || { bad "pretrain 2 processes: exit $rc"; cat err; }
run "pretrain, 2 processes again" 120 $MPIRUN -np 2 "$MILLE" pretrain $P --out p2.model
same "pretrain: 2 processes twice" p1.model p2.model
run "train --init from it" 120 "$MILLE" train --data $SAMPLE --locales en-US --init p1.model \
    --epochs 1 --hidden 16 --out i.model --quiet
[ $rc = 0 ] && ok || { bad "train --init of the 2-process pretraining: exit $rc"; cat err; }

# ---- resume with another process count -----------------------------------------------------
# one epoch is an evaluation point: stopping there and resuming is the uninterrupted run
run "2 processes, stopped" 120 $MPIRUN -np 2 "$MILLE" train $A --epochs 3 --threads 1 \
    --out r.model --stop-after-epochs 1
[ $rc = 0 ] && ok || { bad "stopped run: exit $rc"; cat err; }
cp r.model.ckpt r2.ckpt
run "resume with 1 process" 120 "$MILLE" train $A --epochs 3 --threads 2 --out r.model --resume
[ $rc = 0 ] && ok || { bad "resume 1 process: exit $rc"; cat err; }
same "stopped by 2 processes, resumed by 1" one.model r.model
cp r2.ckpt r3.model.ckpt
run "resume with 3 processes" 120 $MPIRUN -np 3 "$MILLE" train $A --epochs 3 --threads 1 \
    --out r3.model --resume
[ $rc = 0 ] && ok || { bad "resume 3 processes: exit $rc"; cat err; }
same "stopped by 2 processes, resumed by 3" one.model r3.model

# the sharded update: every rank's AdamW moments reach rank 0's checkpoint. Without a dev
# set the last weights are the result (model selection could hide a wrong resume)
N="$A --epochs 3 --dev-locales none"
run "no dev, 1 process" 120 "$MILLE" train $N --threads 2 --out n1.model
[ $rc = 0 ] && ok || { bad "no dev, 1 process: exit $rc"; cat err; }
run "no dev, 3 processes, stopped" 120 $MPIRUN -np 3 "$MILLE" train $N --threads 1 \
    --out n3.model --stop-after-epochs 1
[ $rc = 0 ] && ok || { bad "no dev, stopped by 3: exit $rc"; cat err; }
run "no dev, resume with 2 processes" 120 $MPIRUN -np 2 "$MILLE" train $N --threads 1 \
    --out n3.model --resume
[ $rc = 0 ] && ok || { bad "no dev, resume by 2: exit $rc"; cat err; }
same "no dev: stopped by 3 processes, resumed by 2" n1.model n3.model
grep -q "ms updating this rank's share" err && ok || bad "no step report of the sharded update"

# ---- failures end every rank ----------------------------------------------------------------
# rank 1 cannot read its data: one message, naming the file, from rank 1
cat >rank1bad.sh <<EOF
#!/bin/sh
if [ "\$OMPI_COMM_WORLD_RANK" = 1 ]; then exec "$MILLE" train --data $T/missing.jsonl "\$@"; fi
exec "$MILLE" train --data $SAMPLE "\$@"
EOF
run "rank 1 cannot read" 60 $MPIRUN -np 2 sh rank1bad.sh --locales en-US --epochs 1 --out f.model \
    --quiet
[ $rc = 1 ] && ok || bad "unreadable file on rank 1: exit $rc (expected 1)"
n=$(grep -c "^mille train:" err)
[ "$n" = 1 ] && grep -q "rank 1 of 2.*missing.jsonl" err && ok ||
    { bad "unreadable file on rank 1: expected one message from rank 1, got:"; cat err; }
# a corrupt checkpoint, read by rank 0 only
printf 'not a checkpoint' >c.model.ckpt
run "corrupt checkpoint" 60 $MPIRUN -np 2 "$MILLE" train $A --epochs 1 --out c.model --resume
[ $rc = 1 ] && grep -q "c.model.ckpt" err && [ "$(grep -c "^mille train:" err)" = 1 ] && ok ||
    { bad "corrupt checkpoint: exit $rc"; cat err; }
# ranks with other settings (here: seeds) would train different models: refused
cat >rank1seed.sh <<EOF
#!/bin/sh
exec "$MILLE" train "\$@" --seed "\$((OMPI_COMM_WORLD_RANK + 1))"
EOF
run "different settings" 60 $MPIRUN -np 2 sh rank1seed.sh --data $SAMPLE --locales en-US \
    --epochs 1 --out d.model --quiet
[ $rc = 1 ] && grep -q "differ from rank 0" err && ok || { bad "different seeds: exit $rc"; cat err; }
# a rank killed mid-run: every rank ends, non-zero, within the timeout; the checkpoint of the
# last evaluation is intact and resumes
$MPIRUN -np 2 "$MILLE" train $A --epochs 400 --patience 1000 --threads 1 --out k.model \
    >kout 2>kerr &
MP=$!
i=0
while [ ! -f k.model.ckpt ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
victim=$(pgrep -P $MP | tail -1)
if [ -n "$victim" ]; then kill -9 "$victim"; else bad "killed rank: no rank to kill"; fi
i=0
while kill -0 $MP 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $MP 2>/dev/null; then
    bad "killed rank: the other rank still runs after 60 s (hang)"
    kill -9 $MP
fi
wait $MP
krc=$?
[ $krc != 0 ] && ok || bad "killed rank: exit $krc (expected non-zero)"
if [ -n "$(pgrep -P $MP 2>/dev/null)" ]; then bad "killed rank: ranks left running"; else ok; fi
run "resume the killed run" 120 "$MILLE" train $A --epochs 400 --patience 1000 --threads 2 \
    --out k.model --resume --stop-after-epochs 1
[ $rc = 0 ] && ok || { bad "resume after the killed run: exit $rc"; cat err; }

echo "mpi_test: $pass passed, $fail failed"
[ $fail = 0 ]
