#!/usr/bin/env python3
"""Writes the Bochs test disk: boot sector, stage2 (padded to 16 KiB, loaded at 0x8000) and the
bundle (at 0xC000): "MBND", count, mem_upper_kib, entries {offset, size, cmdline[56]}, files.
Usage: mkdisk.py OUT boot.bin stage2.bin MEGS kernel.elf [module.elf ...]"""
import struct, sys, os
out, boot, stage2, megs, files = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
boot = bytearray(open(boot, 'rb').read())
stage2 = open(stage2, 'rb').read()
assert len(boot) == 512 and boot[510:] == b'\x55\xaa', 'boot sector'
assert len(stage2) <= 0x4000, 'stage2 larger than 16 KiB'
stage2 = stage2.ljust(0x4000, b'\0')
hdr_len = 12 + 64 * len(files)
blobs, off, ents = [], (hdr_len + 15) & ~15, b''
for f in files:
    data = open(f, 'rb').read()
    name = os.path.basename(f).encode()[:55]
    ents += struct.pack('<II56s', off, len(data), name)
    blobs.append((off, data))
    off = (off + len(data) + 15) & ~15
bundle = bytearray(off)
bundle[0:hdr_len] = b'MBND' + struct.pack('<II', len(files), (megs - 1) * 1024) + ents
for o, d in blobs:
    bundle[o:o + len(d)] = d
payload = stage2 + bytes(bundle)
payload += b'\0' * (-len(payload) % 512)
nsect = len(payload) // 512
assert 0x8000 + len(payload) <= 0x90000, 'bundle does not fit below 0x90000'
boot[0x1fa:0x1fc] = struct.pack('<H', nsect)
disk = bytes(boot) + payload
size = 4 * 16 * 63 * 512   # 4 cylinders, 16 heads, 63 sectors
assert len(disk) <= size
open(out, 'wb').write(disk.ljust(size, b'\0'))
