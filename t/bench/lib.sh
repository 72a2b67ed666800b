# shellcheck shell=bash
# t/bench/lib.sh - what the benches (t/bench/run, t/bench/interimap)
# share; sourced after t/lib/common.sh.
#
#   BENCH_HIGHPERF   Dovecot's high-performance login mode, for
#                    DOVECOT_EXTRA_CONF
#   bench_cpu PID    the CPU a process and its live children spent

# Dovecot's high-performance login mode: imap-login and imap processes
# started ahead, as busy servers are set up, so that a short session
# measures the client more than the server's process starts.
# shellcheck disable=SC2034 # (the benches')
BENCH_HIGHPERF="service imap-login {
  service_count = 0
  process_min_avail = 1
}
service imap {
  process_min_avail = 1
}"

# bench_cpu PID: CPU seconds (utime+stime+cutime+cstime) of a process and
# of its live children: a child's time reaches its parent's cutime and
# cstime only once reaped, and the Dovecot master's imap processes
# started ahead, like its LMTP ones, stay around between connections.
bench_cpu() {
	local p kids
	kids=$(cat /proc/"$1"/task/*/children 2>/dev/null)
	for p in "$1" $kids; do cat "/proc/$p/stat" 2>/dev/null; done |
		awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 }
			END { printf "%.2f", t / hz }'
}
