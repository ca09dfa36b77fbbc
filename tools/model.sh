#!/bin/sh
# make model: rebuild the model mille ships (models/mille.model) from MASSIVE 1.1, end to end:
#   1. two teachers (H=256, 3 conv layers; character n-grams 2..5 and 3..5, seeds 1 and 2),
#      trained side by side, one thread each;
#   2. their ensemble distilled into the student (H=128, 2 layers, 2^17 buckets) on the
#      labeled data plus one perturbed copy of every training utterance;
#   3. the student quantized to int8 (mille quantize);
#   4. each stage's cost, and the student's dev scores, printed; the f32 and int8 students
#      scored on dev (per locale) into OUT/*.dev.json for the model card.
# usage: sh tools/model.sh [OUT_DIR]    (MASSIVE=dir, BUILD=dir; TEACHER_MIN/STUDENT_MIN:
# minutes of each training stage; THREADS for the distillation). On this project's 2-core
# machine the defaults take about 2.5 hours; the model card (models/README.md) records the
# run that made the shipped file.
set -eu
cd "$(dirname "$0")/.."
B=${BUILD:-build}
M=${MASSIVE:-../shared/massive-1.1}
OUT=${1:-build/model}
TEACHER_MIN=${TEACHER_MIN:-80}
STUDENT_MIN=${STUDENT_MIN:-45}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
[ -d "$M" ] || { echo "make model: MASSIVE 1.1 not found at $M (set MASSIVE=dir)" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1
now() { date +%s; }
stage() { echo "make model: $1: $(($(now) - $2)) s" | tee -a "$OUT/stages.txt" >&2; }
: >"$OUT/stages.txt"

t=$(now)
for k in 1 2; do
    minn=$((k + 1))
    "$B/mille" train --data "$M" --out "$OUT/teacher$k.model" --minn $minn --seed $k \
        --threads 1 --epochs 6 --time-budget $((TEACHER_MIN * 60)) \
        >"$OUT/teacher$k.json" 2>"$OUT/teacher$k.log" &
done
wait
cat "$OUT/teacher1.json" "$OUT/teacher2.json"
stage "teachers (2 x 1 thread, side by side)" "$t"

t=$(now)
"$B/mille" distill --teacher "$OUT/teacher1.model" --teacher "$OUT/teacher2.model" --data "$M" \
    --out "$OUT/student.f32.model" --hidden 128 --layers 2 --buckets 131072 --copies 1 \
    --epochs 8 --threads "$THREADS" --time-budget $((STUDENT_MIN * 60)) \
    >"$OUT/student.json" 2>"$OUT/student.log"
cat "$OUT/student.json"
stage "distillation (labeling + student training)" "$t"

t=$(now)
"$B/mille" quantize "$OUT/student.f32.model" --out "$OUT/mille.model" >&2
stage "int8 quantization" "$t"

t=$(now)
for v in student.f32 mille; do
    "$B/mille" predict --model "$OUT/$v.model" "$M" --partitions dev >"$OUT/$v.pred.jsonl"
    "$B/mille" eval "$M" "$OUT/$v.pred.jsonl" --partition dev --json >"$OUT/$v.dev.json"
    "$B/mille" eval "$M" "$OUT/$v.pred.jsonl" --partition dev | tail -1 | sed "s/^/$v: /"
done
stage "dev evaluation" "$t"
echo "make model: the shipped file is $OUT/mille.model; copy it to models/mille.model" >&2
