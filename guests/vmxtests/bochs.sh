#!/usr/bin/env bash
# Runs one VMX test program under Bochs 2.7 (the reference software VMX) and prints its serial
# output. Reuses the minivisor's Bochs boot disk (minivisor/bochs: boot sector + multiboot loader).
# Usage: guests/vmxtests/bochs.sh guests/bin/vmxtests-NAME.elf
# Env: BOCHS_CPU (default corei7_skylake_x), BOCHS_TIMEOUT seconds (default 120), KEEP=dir.
set -euo pipefail
B="$(cd "$(dirname "$0")/../minivisor/bochs" && pwd)"
W="${KEEP:-$(mktemp -d)}"; mkdir -p "$W"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
CF=(-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -Os -fno-asynchronous-unwind-tables)
gcc "${CF[@]}" -c "$B/boot.S" -o "$W/boot.o"
ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$W/boot.bin" "$W/boot.o"
gcc "${CF[@]}" -c "$B/stage2_entry.S" -o "$W/s2e.o"
gcc "${CF[@]}" -c "$B/stage2.c" -o "$W/s2.o"
ld -m elf_i386 -Ttext 0x8000 -e _start --oformat binary -o "$W/stage2.bin" "$W/s2e.o" "$W/s2.o"
python3 "$B/mkdisk.py" "$W/disk.img" "$W/boot.bin" "$W/stage2.bin" 128 "$1"
cat > "$W/bochsrc" <<RC
megs: 128
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
rm -f "$W/disk.img.lock"
echo c > "$W/dbgcmds"
(cd "$W" && exec bochs -q -f "$W/bochsrc" -rc "$W/dbgcmds" </dev/null >"$W/bochs.stdout" 2>&1) &
BPID=$!
end=$((SECONDS + ${BOCHS_TIMEOUT:-120}))
# no isa-debug-exit in Bochs: stop at the final line
while kill -0 $BPID 2>/dev/null && [ $SECONDS -lt $end ]; do
  if grep -q "^vmxtests: done" "$W/serial.out" 2>/dev/null; then break; fi
  sleep 1
done
kill $BPID 2>/dev/null || true
wait $BPID 2>/dev/null || true
cat "$W/serial.out"
grep -q "^vmxtests: done" "$W/serial.out" && ! grep -q "^FAIL" "$W/serial.out"
