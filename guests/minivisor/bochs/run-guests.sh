#!/usr/bin/env bash
# Runs every guest of guests/ that has an expected.txt (except the minivisor and its own L2
# payloads) as an L2 under the minivisor in Bochs, four at a time, and checks that each prints its
# QEMU expected.txt (check.mjs --as-l2). Takes about 3 minutes.
# NESTVM=/path/to/build/nestvm.mjs runs them in nestvm (its VMX) instead of Bochs.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
GUESTS="$(cd "$HERE/../.." && pwd)"
names=($(cd "$GUESTS" && for d in */expected.txt; do n="${d%/expected.txt}"; case "$n" in minivisor|l2-*) ;; *) echo "$n";; esac; done | sort))
# interrupts and interrupts32 both program the (passed-through) PIC and PIT: never in one group
names=($(printf '%s\n' "${names[@]}" | grep -vx interrupts32) interrupts32)
rc=0
for ((i = 0; i < ${#names[@]}; i += 4)); do
  group=("${names[@]:i:4}")
  mods=(); for n in "${group[@]}"; do mods+=("$GUESTS/bin/$n.elf"); done
  out="$(mktemp)"
  if [ -n "${NESTVM:-}" ]; then
    (cd "$GUESTS/bin" && IFS=, && timeout 600 node "$NESTVM" run minivisor.elf --initrd "${group[*]/%/.elf}" --max-seconds 300) > "$out"
    [ $? -eq 1 ] || rc=1   # isa-debug-exit 0 -> status 1, as in QEMU
  else
    NO_CHECK=1 BOCHS_TIMEOUT="${BOCHS_TIMEOUT:-300}" "$HERE/run.sh" "$GUESTS/bin/minivisor.elf" "${mods[@]}" > "$out" || rc=1
  fi
  node "$HERE/../check.mjs" --as-l2 "$out" || { rc=1; grep -a "^minivisor:" "$out"; }
  rm -f "$out"
done
exit $rc
