#!/bin/bash
# Instruction counts of the SQLite worker's per-message work (decode + store + commit), issue #11.
# usage: bench/callgrind/store-loop.sh NAME DIST [MESSAGES]
#   DIST: a dist/ directory (this tree's, or an old build's) - compare two builds on the same input.
# Runs store-loop.mjs under callgrind with instrumentation off until its warm-up is done, then on for
# the measured batches only, off again before close. One output per thread (--separate-threads):
# $OUT/cg.NAME.out-01 is the thread that decodes and writes; V8's compiler threads are the others.
# --single-threaded-gc keeps all of V8's GC work on that thread, so that it is counted at all (V8's
# helper threads would take part of it). Its share still depends on where the window starts (±1.5k
# instructions a message over 20k messages): compare builds over 60k, or look at the non-GC parts.
# Rollups are written at close only (FLUSH): under valgrind a 1 s flush timer fires every few batches.
set -eu
name=$1; dist=$(realpath "$2"); n=${3:-20000}
out=${OUT:-/tmp/mqlite-callgrind}; mkdir -p "$out"; tag=$out/cg.$name
here=$(dirname "$(realpath "$0")")
rm -f "$tag".pid "$tag".go "$tag".done "$tag".stop "$tag".out*
CG=$tag DIST=$dist N=$n WARM=${WARM:-10000} FLUSH=${FLUSH:-100000000} valgrind --tool=callgrind \
  --separate-threads=yes --instr-atstart=no --callgrind-out-file="$tag".out \
  node --single-threaded-gc "$here/store-loop.mjs" > "$tag".log 2>&1 &
while [ ! -f "$tag".pid ]; do sleep 0.5; done
flock "$out"/vg.lock callgrind_control -i on "$(cat "$tag".pid)" >/dev/null; touch "$tag".go
while [ ! -f "$tag".done ]; do sleep 0.5; done
flock "$out"/vg.lock callgrind_control -i off "$(cat "$tag".pid)" >/dev/null; touch "$tag".stop
wait
total=$(callgrind_annotate "$tag".out-01 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
echo "$name: $((total / n)) instructions a message ($tag.out-01)"
