#!/usr/bin/env bash
# How durable appends scale with concurrent writers: commit_table (Spool's
# group commit through the embeddable Log, and one thread doing pwrite +
# fdatasync per record) at 1 to 256 writers, optionally interleaved with an
# external harness for the Go library github.com/alialaee/logfile.
#
#   bash benches/writers.sh
#   WRITERS=1,4,16 RECORDS=2000 REPS=1 bash benches/writers.sh     # quick look
#   LOGFILE_BENCH=/path/to/logfile-bench bash benches/writers.sh
#
# Each repetition runs commit_table once (3 timed runs per writer count and
# baseline) and then, when LOGFILE_BENCH names an executable, that harness
# once. This script never builds the harness and the repository holds no
# copy of it: it is another project's code. Its interface:
#   $LOGFILE_BENCH RECORDS DIR W1 W2 ...
#   prints per writer count W one line: W,median_records_per_s,run1,run2,run3
#
# Writes $OUT/writers.csv (OUT defaults to benches/results), one row per
# timed run:
#   system,writers,rep,records_per_s,fsyncs,records
# with system spool, fsync-prealloc, fsync-growing (writers 1) or logfile
# (fsyncs and records empty); rep numbers runs 1.. across repetitions. Then
# prints the medians as a markdown table and draws $OUT/writers.svg.
#
# Data goes to a fresh directory under SPOOL_BENCH_DIR (default /var/tmp),
# which must be a real disk (on tmpfs fdatasync costs nothing); it is
# removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

WRITERS=${WRITERS:-1,2,4,8,16,32,64,128,256}
WRITERS=${WRITERS// /,}
RECORDS=${RECORDS:-20000}
REPS=${REPS:-3}
OUT=${OUT:-benches/results}
BASE=${SPOOL_BENCH_DIR:-/var/tmp}
LOGFILE_BENCH=${LOGFILE_BENCH:-}

if ! [[ $WRITERS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]]; then
    echo "WRITERS must be writer counts above 0 separated by commas, e.g. 1,4,16 (got $WRITERS)" >&2
    exit 2
fi
for v in RECORDS REPS; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "$v must be a whole number above 0 (got ${!v})" >&2
        exit 2
    fi
done
if [ -n "$LOGFILE_BENCH" ] && [ ! -x "$LOGFILE_BENCH" ]; then
    echo "LOGFILE_BENCH=$LOGFILE_BENCH is not an executable file" >&2
    exit 2
fi
if [ "$(df --output=fstype "$BASE" | tail -1)" = tmpfs ]; then
    echo "$BASE is tmpfs, where fdatasync is free: set SPOOL_BENCH_DIR to a directory on a disk" >&2
    exit 2
fi

WORK=$(mktemp -d "$BASE/spool-writers.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

cargo build --release -q -p spool-benches --bin commit_table --bin spool-plot
BIN=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$OUT"
CSV=$OUT/writers.csv
echo "system,writers,rep,records_per_s,fsyncs,records" >"$CSV"

echo "machine: $(nproc) cores, $(uname -sr), $(df --output=fstype "$WORK" | tail -1) at $WORK; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "writers $WRITERS; $RECORDS records of 200 B per timed run; $REPS repetition(s)${LOGFILE_BENCH:+; logfile: $LOGFILE_BENCH}"
echo

for rep in $(seq 1 "$REPS"); do
    # commit_table numbers its runs 1..k; shift them past earlier repetitions.
    rm -f "$WORK/commit.csv"
    "$BIN/commit_table" --writers "$WRITERS" --csv "$WORK/commit.csv" "$RECORDS" "$WORK" >&2
    awk -F, -v OFS=, -v rep="$rep" 'NR == FNR { if (FNR > 1 && $3 > k) k = $3; next }
        FNR > 1 { $3 += (rep - 1) * k; print }' "$WORK/commit.csv" "$WORK/commit.csv" >>"$CSV"
    if [ -n "$LOGFILE_BENCH" ]; then
        mkdir "$WORK/logfile"
        # shellcheck disable=SC2086 # one argument per writer count
        "$LOGFILE_BENCH" "$RECORDS" "$WORK/logfile" ${WRITERS//,/ } >"$WORK/logfile.out"
        rm -rf "$WORK/logfile"
        awk -F, -v OFS=, -v rep="$rep" '{ k = NF - 2
            for (i = 3; i <= NF; i++) print "logfile", $1, (rep - 1) * k + i - 2, $i, "", "" }' \
            "$WORK/logfile.out" >>"$CSV"
    fi
    echo "repetition $rep of $REPS done" >&2
done

echo "rows: $CSV"
"$BIN/spool-plot" writers "$CSV" "$OUT/writers.svg"
echo
echo "figure: $OUT/writers.svg"
