#!/usr/bin/env bash
# Builds every guest into bin/<name>.elf (multiboot v1, ELF32), reproducibly:
# fixed flags, sorted inputs, relative paths, no build id, no timestamps, no debug info.
# Usage: guests/build.sh [outdir]   (default: guests/bin)   Optional: names of guests to build.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")"
OUT="${1:-bin}"; shift || true
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
OBJ="$(mktemp -d)"
trap 'rm -rf "$OBJ"' EXIT
CC="${CC:-gcc}"; LD="${LD:-ld}"; OBJCOPY="${OBJCOPY:-objcopy}"
BASE_CFLAGS=(-ffreestanding -nostdlib -nostdinc -isystem "$($CC -print-file-name=include)"
  -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables
  -fno-ident -fno-common -g0 -O2 -Wall -Wextra -Wno-unused-parameter -Ilib
  -ffile-prefix-map="$PWD"=. -fdebug-prefix-map="$PWD"=. -fmacro-prefix-map="$PWD"=.)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  # guests/<name>/ and the VMX test programs guests/vmxtests/<name>/ (image vmxtests-<name>.elf)
  names=($(for d in */build.conf vmxtests/*/build.conf; do [ -e "$d" ] && dirname "$d"; done | sort))
fi
for name in "${names[@]}"; do
  BITS=32; CFLAGS_EXTRA=""; SRC_DIR=""; EXTRA_SRCS=""
  # shellcheck disable=SC1090
  . "$name/build.conf"
  if [ "$BITS" = 64 ]; then
    ARCH=(-m64 -mno-red-zone -mcmodel=kernel); EMU=elf_x86_64
  else
    ARCH=(-m32 -march=i686); EMU=elf_i386
  fi
  mkdir -p "$OBJ/$name"
  objs=()
  SRC_DIR="${SRC_DIR:-$name}"
  # EXTRA_SRCS (build.conf): more sources shared with other guests, e.g. minivisor/vmentry.S
  for src in $(ls lib/*.c lib/*.S "$SRC_DIR"/*.c "$SRC_DIR"/*.S $EXTRA_SRCS 2>/dev/null | sort); do
    o="$OBJ/$name/$(echo "$src" | tr / _).o"
    # shellcheck disable=SC2086
    $CC "${ARCH[@]}" "${BASE_CFLAGS[@]}" $CFLAGS_EXTRA -c "$src" -o "$o"
    objs+=("$o")
  done
  libgcc="$($CC "${ARCH[@]}" -print-libgcc-file-name)"
  $LD -m $EMU -nostdlib --build-id=none -z max-page-size=4096 -z noexecstack \
      --no-warn-rwx-segments -T lib/link.ld -o "$OBJ/$name/image.elf" "${objs[@]}" "$libgcc"
  if [ "$BITS" = 64 ]; then
    $OBJCOPY -O elf32-i386 "$OBJ/$name/image.elf" "$OUT/${name//\//-}.elf"
  else
    cp "$OBJ/$name/image.elf" "$OUT/${name//\//-}.elf"
  fi
  chmod 644 "$OUT/${name//\//-}.elf"
done
# The toolchain the images were built with: repro.test.mjs only demands byte equality with it.
{ $CC --version | head -1; $LD --version | head -1; $OBJCOPY --version | head -1; } > "$OUT/TOOLCHAIN"
