#!/bin/bash
# The IMAP tokenizer under libFuzzer (make fuzz), briefly: first the
# checked-in corpus alone (real server responses, literals, errors), then
# a bounded random run seeded from it. A crash, a leak or a sanitizer
# report fails the test; the offending input is kept under
# build-san/t/fuzz/ (replay: build-fuzz/fuzz_imap_parse FILE).
# Skipped when the fuzzer is not built (no clang: make check builds it when
# clang is installed).
. "$TOP/t/lib/common.sh"
t_init fuzz_imap_parse

bin="$TOP/build-fuzz/fuzz_imap_parse"
corpus="$TOP/t/fuzz/corpus/imap_parse"
[ -x "$bin" ] || t_skip_all "$bin not built (needs clang: make fuzz)"
# FUZZ_SECONDS: a longer or shorter random run (t/run allows 600 s in all).
secs="${FUZZ_SECONDS:-20}"
art="$TOP/build-san/t/fuzz"
mkdir -p "$art" "$T/new"

# Same lengths as the tokenizer's limits in the target: up to 4 KB.
run_fuzz() { # NAME ARGS...: ok/not ok from libFuzzer's exit status
	local name=$1; shift
	if timeout $((secs + 60)) "$bin" -max_len=4096 -artifact_prefix="$art/" \
		-print_final_stats=1 "$@" >"$T/$name.log" 2>&1; then
		t_ok "$name"
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
			"$T/$name.log" >&2
	else
		cat "$T/$name.log" >&2
		t_fail "$name" "$(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$T/$name.log") (input kept in $art)"
	fi
}

n=$(find "$corpus" -type f | wc -l)
if [ "$n" -ge 8 ]; then t_ok "corpus is there"; else t_fail "corpus is there" "$n files in $corpus"; fi
run_fuzz "corpus replays cleanly" -runs=0 "$corpus"
# New inputs go to the first directory: a scratch one, never the corpus.
run_fuzz "random inputs for ${secs}s" -runs=500000 -max_total_time="$secs" \
	"$T/new" "$corpus"
t_done
