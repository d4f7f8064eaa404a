#!/usr/bin/env bash
# Runs one VMX test program under Bochs 2.7 (the reference software VMX) and prints its serial
# output, through the minivisor's Bochs runner (minivisor/bochs: boot sector + multiboot loader).
# Usage: guests/vmxtests/bochs.sh guests/bin/vmxtests-NAME.elf
# Env: BOCHS_CPU (default corei7_skylake_x), BOCHS_TIMEOUT seconds (default 120), KEEP=dir.
# Exit status 0 when the program got to its last line and printed no FAIL line.
set -euo pipefail
out="$(BOCHS_TIMEOUT="${BOCHS_TIMEOUT:-120}" DONE_RE='^vmxtests: done' OK_RE='^vmxtests: done' \
  "$(dirname "$0")/../minivisor/bochs/run.sh" "$1")" || true
printf '%s\n' "$out"
grep -q "^vmxtests: done" <<<"$out" && ! grep -q "^FAIL" <<<"$out"
