#!/usr/bin/env bash
# Fuzzing: builds every cargo-fuzz target in fuzz/ once (one sanitizer build of the shared
# dependencies), runs each for a bounded time, and fails when any of them crashes or breaks a
# property. Targets and properties: RELIABILITY.md, "Fuzzing".
#
#   scripts/fuzz.sh                       # long mode: 10 minutes per target
#   CI=true scripts/fuzz.sh               # short mode: 30 seconds per target
#   FUZZ_TIME=120 scripts/fuzz.sh decidim feed    # chosen targets, chosen seconds each
#   FUZZ_KEEP=1 scripts/fuzz.sh           # keep what the runs found in fuzz/corpus/<target>/
#
# Without FUZZ_KEEP=1 each run starts from fuzz/corpus/<target>/ but writes what it finds to a
# temporary copy, so a run leaves git clean. A crash is saved under fuzz/artifacts/<target>/
# (ignored by git) and replayed with `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target>
# artifacts/<target>/crash-…`. cargo-fuzz needs nightly flags: the stable toolchain unlocks
# them with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if [ "${CI:-}" = true ] || [ "${1:-}" = --short ]; then
  [ "${1:-}" = --short ] && shift
  seconds=${FUZZ_TIME:-30}
else
  seconds=${FUZZ_TIME:-600}
fi
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi

# Longest input per target: query strings are short; upstream documents are not.
max_len() {
  case $1 in
    params | search_query | requests) echo 4096 ;;
    *) echo 65536 ;;
  esac
}

started=$SECONDS
echo "fuzz: building ${#targets[@]} targets (release, AddressSanitizer)"
cargo fuzz build -O
echo "fuzz: built in $((SECONDS - started)) s; ${seconds} s per target"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
printf '%-13s %10s %6s %7s %7s %7s  %s\n' target runs secs edges features corpus result
for t in "${targets[@]}"; do
  seeds=corpus/$t
  mkdir -p "$seeds" "artifacts/$t"
  if [ "${FUZZ_KEEP:-}" = 1 ]; then
    corpus=$seeds
  else
    corpus=$work/$t
    cp -r "$seeds" "$corpus"
  fi
  log=$work/$t.log
  t0=$SECONDS
  if cargo fuzz run -O "$t" "$corpus" -- \
      -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    failed+=("$t")
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-13s %10s %6s %7s %7s %7s  %s\n' "$t" "${runs:-?}" "$((SECONDS - t0))" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
  if [ "$result" = FAILED ]; then
    echo "---- $t: last lines of the log (the input is saved in fuzz/artifacts/$t/)"
    grep -v '^#[0-9]' "$log" | tail -40
    echo "----"
  fi
done
echo "fuzz: done in $((SECONDS - started)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
