#!/bin/bash
# Every libFuzzer target, briefly. The convention (the Makefile's fuzz rule
# follows it too): a target NAME is t/fuzz/fuzz_NAME.c with a seed corpus
# directory t/fuzz/corpus/NAME/; `make fuzz` builds it as
# build-fuzz/fuzz_NAME; optional extra libFuzzer flags (one line, such as
# -max_len=4096) go in t/fuzz/fuzz_NAME.options. Adding a target needs no
# change here nor in the Makefile.
#
# For each target: the corpus is there, it replays cleanly on its own, then
# a bounded random run seeded from it. A crash, an abort() from the target's
# own checks, a leak or a sanitizer report fails the test; the offending
# input is kept as build-san/t/fuzz/NAME-crash-* (replay:
# build-fuzz/fuzz_NAME FILE). A target that is not built is skipped (no
# clang: make check builds them when clang is installed).
#
#   t/fuzz/run.sh [NAME...]     all targets, or only these
#   FUZZ_SECONDS=N              random run per target (default 10; t/run
#                               allows this script 600 s in all)
. "$TOP/t/lib/common.sh"
t_init fuzz

secs="${FUZZ_SECONDS:-10}"
art="$TOP/build-san/t/fuzz"
mkdir -p "$art"

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for src in "$TOP"/t/fuzz/fuzz_*.c; do
		[ -e "$src" ] || continue
		n=$(basename "$src" .c); n=${n#fuzz_}
		[ -d "$TOP/t/fuzz/corpus/$n" ] && names+=("$n")
	done
fi
[ ${#names[@]} -gt 0 ] || t_fail "targets" "no t/fuzz/fuzz_NAME.c with a t/fuzz/corpus/NAME/"

# run_fuzz NAME TEST ARGS...: ok/not ok from libFuzzer's exit status
run_fuzz() {
	local name=$1 test=$2; shift 2
	local log="$T/$name.$(printf '%s' "$test" | tr -c 'A-Za-z0-9' _).log"
	if timeout $((secs + 60)) "$bin" "${opts[@]}" -artifact_prefix="$art/$name-" \
		-print_final_stats=1 "$@" >"$log" 2>&1; then
		t_ok "$name: $test"
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
			"$log" >&2
	else
		cat "$log" >&2
		t_fail "$name: $test" "$(grep -m1 -E 'ERROR|SUMMARY|runtime error|^fuzz_' "$log") (input kept in $art)"
	fi
}

for name in "${names[@]}"; do
	bin="$TOP/build-fuzz/fuzz_$name"
	corpus="$TOP/t/fuzz/corpus/$name"
	if [ ! -x "$bin" ]; then
		t_skip "$name" "$bin not built (needs clang: make fuzz)"
		continue
	fi
	opts=()
	if [ -f "$TOP/t/fuzz/fuzz_$name.options" ]; then
		read -r -a opts <"$TOP/t/fuzz/fuzz_$name.options"
	fi
	n=$(find "$corpus" -type f 2>/dev/null | wc -l)
	if [ "$n" -ge 1 ]; then t_ok "$name: corpus is there ($n files)"
	else t_fail "$name: corpus is there" "no file in $corpus"; fi
	run_fuzz "$name" "corpus replays cleanly" -runs=0 "$corpus"
	# New inputs go to the first directory: a scratch one, never the corpus.
	mkdir -p "$T/new-$name"
	run_fuzz "$name" "random inputs (${secs}s at most)" -runs=500000 \
		-max_total_time="$secs" "$T/new-$name" "$corpus"
done
t_done
