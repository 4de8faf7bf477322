#!/usr/bin/env bash
# Coverage-guided fuzzing of lvsd's decoders with AFL++ (cargo afl, stable Rust). Not part of CI:
# CI replays the saved corpus (tests/fuzz_corpus.rs). Runs the targets one at a time, each for
# SECONDS or until EXECS executions, minimizes what it found back into fuzz/corpus/<target>/
# (afl-cmin; crash-* regression inputs are kept), keeps crashing inputs under target/afl/crashes/
# and prints a table: target, executions, corpus size, crashes, hangs.
#
# usage: scripts/fuzz.sh [-t SECONDS] [-n EXECS] [--no-minimize] [TARGET...]   (default: all, 60 s)
set -euo pipefail
cd "$(dirname "$0")/.."

secs=60 execs="" minimize=1 targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        -t) secs="$2"; shift 2 ;;
        -n) execs="$2"; shift 2 ;;
        --no-minimize) minimize=0; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done

# cargo-afl from crates.io builds AFL++ from the source it ships; once per toolchain.
command -v cargo-afl >/dev/null || cargo install --locked cargo-afl
cargo afl config --build >/dev/null 2>&1 || true   # fails when already built: fine
help=$(cargo afl fuzz -h 2>&1 || true)   # afl-fuzz -h exits 1
[[ "$help" == *afl-fuzz* ]] || { echo "AFL++ is not usable (cargo afl config --build)" >&2; exit 1; }

# A target dir of its own: instrumented objects never mix with the normal build's.
export CARGO_TARGET_DIR="$PWD/target/afl"
cargo afl build --profile fuzz -p lvsd-fuzz
bin="$CARGO_TARGET_DIR/fuzz/lvsd-fuzz"

if [ ${#targets[@]} -eq 0 ]; then
    # The names, from the replayer's usage line.
    read -r -a targets <<<"$("$bin" 2>&1 | sed -n 's/.*targets: //p')"
fi

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1
export AFL_TMPDIR=/dev/shm TMPDIR=/dev/shm   # the config target writes its files per execution
stat() { sed -n "s/^$2 *: *//p" "$1/default/fuzzer_stats"; }
rows=()
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t" out="$CARGO_TARGET_DIR/out/$t"
    [ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || scripts/fuzz-seeds "$t"
    rm -rf "$out"; mkdir -p "$(dirname "$out")"
    limit=(-V "$secs")
    [ -n "$execs" ] && limit+=(-E "$execs")
    [ -f "fuzz/dict/$t.dict" ] && limit+=(-x "fuzz/dict/$t.dict")
    echo "== $t: ${limit[*]}" >&2
    # -t: a config with a long ~SEQ takes a while; past 2 s an input counts as a hang.
    cargo afl fuzz -i "$corpus" -o "$out" "${limit[@]}" -t 2000 -- "$bin" "$t" >"$out.log" 2>&1 ||
        { tail -20 "$out.log" >&2; echo "afl-fuzz failed on $t (log $out.log)" >&2; exit 1; }
    crashes=$(stat "$out" saved_crashes) hangs=$(stat "$out" saved_hangs)
    if [ "$crashes" != 0 ]; then
        mkdir -p "$CARGO_TARGET_DIR/crashes/$t"
        cp "$out"/default/crashes/id* "$CARGO_TARGET_DIR/crashes/$t/"
    fi
    if [ "$minimize" = 1 ]; then
        min="$out.min"
        rm -rf "$min"
        cargo afl cmin -i "$out/default/queue" -o "$min" -t 2000 -- "$bin" "$t" >"$out.cmin.log" 2>&1 ||
            { tail -20 "$out.cmin.log" >&2; echo "afl-cmin failed on $t" >&2; exit 1; }
        find "$corpus" -type f ! -name 'crash-*' -delete
        for f in "$min"/*; do
            cp "$f" "$corpus/q-$(md5sum <"$f" | cut -c1-12)"
        done
    fi
    files=$(find "$corpus" -type f | wc -l) bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    rows+=("$(printf '%-15s %12s %7s %9s %8s %6s' "$t" "$(stat "$out" execs_done)" "$files" "$bytes" "$crashes" "$hangs")")
done

printf '%-15s %12s %7s %9s %8s %6s\n' target executions files bytes crashes hangs
printf '%s\n' "${rows[@]}"
echo "(corpus: fuzz/corpus/<target> after minimization; crashing inputs: $CARGO_TARGET_DIR/crashes/<target>)"
