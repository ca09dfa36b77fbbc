#!/bin/sh
# Ablations on 10 diverse locales (dev partition), 6 epochs each; one line of JSON per run.
# usage: dev/ablate.sh MILLE_BINARY OUTDIR "name|options" ...
set -eu
bin=$1 out=$2
shift 2
L=en-US,fr-FR,de-DE,ja-JP,zh-CN,th-TH,ar-SA,hi-IN,ru-RU,km-KH
M=${MASSIVE:-../shared/massive-1.1}
mkdir -p "$out"
for spec in "$@"; do
    name=${spec%%|*}
    opts=${spec#*|}
    start=$(date +%s)
    # shellcheck disable=SC2086
    res=$("$bin" train --data "$M" --locales $L --out "$out/$name.model" --epochs 6 --patience 100 --quiet $opts)
    echo "$name $(( $(date +%s) - start ))s $opts $res" | tee -a "$out/results.txt"
done
