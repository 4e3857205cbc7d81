# Shared by the benchmark scripts (source it).

# best wall seconds of RUNS runs of "$@" (output discarded, failures ignored)
best() {
  local b=""
  for _ in $(seq "$RUNS"); do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    b=$(python3 -c "t=$e-$s; b='$b'; print(t if not b or t<float(b) else b)")
  done
  echo "$b"
}

# peak RSS in KiB of "$@" (output discarded; a failing command still counts)
rss() { { /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -1; }
