#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ on the stable toolchain (the coverage
# instrumentation cargo-fuzz adds, without cargo-fuzz or nightly) and runs each for a
# bounded time or number of executions, starting from the corpus kept in the repository
# (fuzz/corpus/<target>; new finds go to a scratch directory, so a run leaves the tree
# clean). A crash stops the run with the reproducer kept in fuzz/artifacts/<target>/.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     each target for SECONDS (default 30)
#        FUZZ_RUNS=10000000 scripts/fuzz.sh 0 TARGET  a fixed number of executions
#        FUZZ_MERGE=1 scripts/fuzz.sh ...             then merge the finds into the corpus
# Reproduce a crash: target/fuzz/<triple>/release/<target> fuzz/artifacts/<target>/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=${1:-30}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^mailroom-fuzz$')
fi
# libfuzzer-sys builds libFuzzer itself: it needs a C++ compiler.
if ! command -v c++ >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q g++ >/dev/null
fi
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$ROOT/target/fuzz}
# What cargo-fuzz passes (SanitizerCoverage for libFuzzer's guidance), minus the
# sanitizer (a nightly-only flag; the workspace forbids unsafe code).
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --locked --manifest-path fuzz/Cargo.toml --target "$TRIPLE" \
    $(printf -- '--bin %s ' "${TARGETS[@]}")
BIN=$CARGO_TARGET_DIR/$TRIPLE/release
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "$SCRATCH/$t"
    limit=(-max_total_time="$SECS")
    if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); fi
    max_len=4096
    [ "$t" = mime_structure ] && max_len=16384
    [ "$t" = imap_codec_diff ] && max_len=1024
    printf '\n--- %s\n' "$t"
    status=0
    "$BIN/$t" "${limit[@]}" -max_len=$max_len -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
        "$SCRATCH/$t" "fuzz/corpus/$t" >"$SCRATCH/$t.log" 2>&1 || status=$?
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)|ERROR|panicked|Test unit written|SUMMARY' \
        "$SCRATCH/$t.log" || true
    if [ "$status" != 0 ]; then
        tail -n 40 "$SCRATCH/$t.log" >&2
        echo "fuzz target $t failed: reproducer in fuzz/artifacts/$t/" >&2
        exit 1
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        # The smallest set of inputs that keeps every feature seen (old corpus + finds).
        mkdir -p "$SCRATCH/$t.min"
        "$BIN/$t" -set_cover_merge=1 -max_len=$max_len "$SCRATCH/$t.min" "fuzz/corpus/$t" "$SCRATCH/$t" \
            >/dev/null 2>&1
        rm -rf "fuzz/corpus/$t"
        mv "$SCRATCH/$t.min" "fuzz/corpus/$t"
        echo "corpus: $(find "fuzz/corpus/$t" -type f | wc -l) inputs"
    fi
done
