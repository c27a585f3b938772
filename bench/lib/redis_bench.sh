# Shared helpers for the shipper benchmarks (bench/shipper_redis, bench/shipper_rss).
# Sourced, not run. Callers set `work` (a private temp directory) and call
# bench_cleanup from their EXIT trap.
#
# Contract: every process started here is recorded in bench_pids and killed (by pid) by
# bench_cleanup; redis-server listens on 127.0.0.1 only, on a port the kernel picked.

bench_pids=()

bench_log() { printf '%s\n' "$*" >&2; }

bench_cleanup() {
  local pid
  for pid in "${bench_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${bench_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -n "${work:-}" && -d "$work" ]] && rm -rf "$work"
}

# A free loopback TCP port chosen by the kernel (bind to port 0, read it back, release).
bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Installs rsyslog and its omhiredis module if missing (idempotent).
bench_ensure_rsyslog() {
  if [[ -x /usr/sbin/rsyslogd && -e /usr/lib/x86_64-linux-gnu/rsyslog/omhiredis.so ]]; then return 0; fi
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  bench_log "installing rsyslog rsyslog-hiredis"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends rsyslog rsyslog-hiredis >/dev/null
}

# Starts a throwaway redis-server on a free loopback port; sets redis_port.
bench_start_redis() {
  redis_port="$(bench_free_port)"
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --dir "$work" --logfile "$work/redis.log" --daemonize no &
  bench_pids+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$redis_port" PING >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  bench_log "redis-server did not start"; cat "$work/redis.log" >&2; return 1
}

rcli() { redis-cli -p "$redis_port" "$@"; }

# Events in a logship stream: 1 per v1 (or plain) entry, `n` per batched v2 entry
# (docs/wire-format.md). XLEN counts entries, not events.
stream_events() {
  rcli --no-raw XRANGE "$1" - + | awk '
    /^ *[0-9]+\) 1\) "[0-9]+-[0-9]+"$/ { entries++; keyn = 0; next }   # an entry: its id
    {                                                  # a field name (odd) or value (even)
      match($0, /[0-9]+\) "/)
      pos = substr($0, RSTART, RLENGTH) + 0
      v = substr($0, RSTART + RLENGTH); sub(/"$/, "", v)
      if (keyn && pos % 2 == 0) { batched_events += v; batched++ }
      keyn = (pos % 2 == 1 && v == "n")
    }
    END { print entries - batched + batched_events + 0 }'
}

# utime+stime of a whole process (all threads), in seconds.
bench_cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# Peak resident set (VmHWM) in MB (10^6 bytes).
bench_hwm_mb() { awk '/^VmHWM:/ { printf "%.1f", $2 * 1024 / 1e6 }' "/proc/$1/status"; }

# Current resident set (VmRSS) in MB.
bench_rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 * 1024 / 1e6 }' "/proc/$1/status"; }

bench_now() { date +%s.%N; }

# ---- polling without starting processes ----
# A wait loop that runs redis-cli, date, awk and sleep every 50 ms starts ~100 processes a
# second, 10-20% of a core taken from what is being measured. These use bash alone: one
# Redis connection held open on fd 7, bash's clock, and a read with a timeout on a FIFO
# nobody writes to.

# Opens the connection to redis_port (once).
bench_resp_open() { exec 7<>"/dev/tcp/127.0.0.1/$redis_port"; }

# Sends one command; the reply's scalars (arrays flattened, nil as "") end up in
# bench_reply. Replies must not hold newlines in bulk strings (XINFO, XLEN, ... do not).
bench_resp() {
  local out="*$#"$'\r\n' a
  for a in "$@"; do out+="\$${#a}"$'\r\n'"$a"$'\r\n'; done
  printf '%s' "$out" >&7
  bench_reply=()
  bench_resp_read
}
bench_resp_read() {
  local line n i
  IFS= read -r line <&7
  line=${line%$'\r'}
  case ${line:0:1} in
    '*') n=${line:1}; for ((i = 0; i < n; i++)); do bench_resp_read; done ;;
    '$') n=${line:1}
         if ((n < 0)); then bench_reply+=(""); else IFS= read -r line <&7; bench_reply+=("${line%$'\r'}"); fi ;;
    '-') bench_log "redis: ${line:1}"; bench_reply+=("") ;;
    *) bench_reply+=("${line:1}") ;;
  esac
}

# Time stamps: ${EPOCHREALTIME/[.,]/} is microseconds since the epoch, without a process.

# Sets acked to the first "offset" of a logship checkpoint file (0 when unreadable).
bench_checkpoint_offset() {
  local text=""
  acked=0
  { IFS= read -r -d '' text <"$1"; } 2>/dev/null || true
  if [[ $text =~ \"offset\":\ *([0-9]+) ]]; then acked=${BASH_REMATCH[1]}; fi
}

# Sleeps without a process: a read timing out on a FIFO opened read-write (never EOF).
bench_sleep() {
  if [[ -z "${bench_tick_fd:-}" ]]; then
    mkfifo "$work/.tick" && exec {bench_tick_fd}<>"$work/.tick"
  fi
  read -r -t "$1" -u "$bench_tick_fd" _ || true
}
