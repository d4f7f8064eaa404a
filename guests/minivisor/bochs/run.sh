#!/usr/bin/env bash
# Boots the minivisor with L2 modules under Bochs (a software VMX implementation) and prints the
# serial output. Usage: guests/minivisor/bochs/run.sh [kernel.elf module.elf ...]
# Default: guests/bin/minivisor.elf guests/bin/l2-hello.elf guests/bin/l2-count.elf
# Needs: apt-get install bochs bochsbios vgabios bochs-term; gcc, ld, objcopy, python3.
# Env: BOCHS_CPU (default corei7_skylake_x), BOCHS_TIMEOUT seconds (default 300), KEEP=dir,
# DONE_RE: grep pattern of the serial line after which Bochs is stopped (default: the
# minivisor's last lines), OK_RE: pattern that makes the exit status 0 (default: all L2s exited 0).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
GUESTS="$(cd "$HERE/../.." && pwd)"
W="${KEEP:-$(mktemp -d)}"; mkdir -p "$W"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$GUESTS/bin/minivisor.elf" "$GUESTS/bin/l2-hello.elf" "$GUESTS/bin/l2-count.elf")
CF=(-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -Os -fno-asynchronous-unwind-tables)
gcc "${CF[@]}" -c "$HERE/boot.S" -o "$W/boot.o"
ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$W/boot.bin" "$W/boot.o"
gcc "${CF[@]}" -c "$HERE/stage2_entry.S" -o "$W/s2e.o"
gcc "${CF[@]}" -c "$HERE/stage2.c" -o "$W/s2.o"
ld -m elf_i386 -Ttext 0x8000 -e _start --oformat binary -o "$W/stage2.bin" "$W/s2e.o" "$W/s2.o"
MEGS=128
python3 "$HERE/mkdisk.py" "$W/disk.img" "$W/boot.bin" "$W/stage2.bin" $MEGS "${files[@]}"
cat > "$W/bochsrc" <<RC
megs: $MEGS
cpu: model=${BOCHS_CPU:-corei7_skylake_x}, ips=100000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=disk, path=$W/disk.img, mode=flat, cylinders=4, heads=16, spt=63
boot: disk
com1: enabled=1, mode=file, dev=$W/serial.out
display_library: rfb, options="timeout=0"
log: $W/bochs.log
panic: action=fatal
error: action=report
clock: sync=none, time0=1
RC
: > "$W/serial.out"
rm -f "$W/disk.img.lock"   # left behind when a previous Bochs was killed
echo c > "$W/dbgcmds"   # this Bochs build starts in its debugger: continue
(cd "$W" && exec bochs -q -f "$W/bochsrc" -rc "$W/dbgcmds" </dev/null >"$W/bochs.stdout" 2>&1) &
BPID=$!
end=$((SECONDS + ${BOCHS_TIMEOUT:-300}))
# isa-debug-exit does not exist in Bochs: stop once the minivisor prints its last line
while kill -0 $BPID 2>/dev/null && [ $SECONDS -lt $end ]; do
  if grep -q "${DONE_RE:-all L2 guests done\|minivisor: .*\(fail\|not allowed\|lacks\|no VMX\|not booted\|no L2\|out of memory\)}" "$W/serial.out" 2>/dev/null; then sleep 1; break; fi
  sleep 1
done
kill $BPID 2>/dev/null || true
wait $BPID 2>/dev/null || true
cat "$W/serial.out"
ok=0; grep -q "${OK_RE:-all L2 guests done, exit 0}" "$W/serial.out" || ok=1
# with the default modules, also compare with expected.txt per stream (report on stderr)
if [ $# -eq 0 ] && [ -z "${NO_CHECK:-}" ]; then node "$HERE/../check.mjs" "$W/serial.out" >&2 || ok=1; fi
exit $ok
