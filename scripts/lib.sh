# Shared by the test scripts (source it): pass/fail counters and the closing line, a clock, mpirun with the flags
# this machine needs, and a PNG check by an independent decoder (Python's zlib and struct).

passed=0; failed=0
pass() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }
# finish NAME: prints "NAME: N passed, M failed"; the status is 0 only when nothing failed.
finish() { echo "$1: $passed passed, $failed failed"; [ "$failed" = 0 ]; }
# now: seconds since the epoch (ns resolution); since T: seconds elapsed since T, to 0.1 s.
now() { date +%s.%N; }
since() { python3 -c "print(round($(now) - $1, 1))"; }

# mpi NP ARGS...: mpirun -np NP ARGS, adding --allow-run-as-root for root and --oversubscribe for more
# ranks than cores (counting every app context: `mpi 2 A : -np 1 B` is 3 ranks), ended after MPI_TIMEOUT
# seconds (default 300). ARGS may start with more mpirun flags (`-x VAR`, `--mca K V`).
mpi() { mpi_command "$@"; "${mpi_cmd[@]}"; }

# mpi_command [--foreground] NP ARGS...: sets the array mpi_cmd to the command line `mpi` runs, for a caller
# that needs it as one plain command: under another runner (`timeout 60 "${mpi_cmd[@]}"`), or started with
# `&` so that $! is the timeout process itself and not a subshell. --foreground: `timeout --foreground`,
# which signals only mpirun and not its process group (Open MPI takes a second SIGTERM as "terminate now").
mpi_command() {
  local foreground=()
  if [ "$1" = --foreground ]; then foreground=(--foreground); shift; fi
  local np=$1; shift
  local flags=(-np "$np") ranks=$np previous="" arg
  for arg in "$@"; do [ "$previous" = -np ] && ranks=$((ranks + arg)); previous=$arg; done
  [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
  [ "$ranks" -gt "$(nproc)" ] && flags+=(--oversubscribe)
  mpi_cmd=(timeout "${foreground[@]}" "${MPI_TIMEOUT:-300}" mpirun "${flags[@]}" "$@")
}

# check_pngs [--size WxH] FILE...: every file is a PNG whose chunks' CRCs hold and whose image data
# inflates to exactly its rows (and, with --size, has that size).
check_pngs() {
  local size=""
  if [ "${1:-}" = --size ]; then size=$2; shift 2; fi
  python3 - "$size" "$@" <<'PY'
import struct, sys, zlib
size = sys.argv[1]
for path in sys.argv[2:]:
    d = open(path, 'rb').read()
    assert d[:8] == b'\x89PNG\r\n\x1a\n', (path, 'signature')
    p, idat, w, h, color = 8, b'', 0, 0, 0
    while p < len(d):
        n, k = struct.unpack('>I4s', d[p:p + 8]); body = d[p + 8:p + 8 + n]
        assert zlib.crc32(k + body) == struct.unpack('>I', d[p + 8 + n:p + 12 + n])[0], (path, k)
        if k == b'IHDR': w, h, depth, color = struct.unpack('>IIBB', body[:10])
        if k == b'IDAT': idat += body
        p += 12 + n
    assert len(zlib.decompress(idat)) == h * (1 + w * (3 if color == 2 else 1)), path
    assert not size or f"{w}x{h}" == size, (path, f"{w}x{h}", size)
PY
}
