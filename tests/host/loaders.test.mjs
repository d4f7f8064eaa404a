import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine, LoadError, MBI_ADDR, MMAP_ADDR, GDT_ADDR, SEG } from "../../build/host.mjs";

const MAGIC = 0x1badb002;
function mbHeader(flags, fields = []) {
  const h = new DataView(new ArrayBuffer(12 + 4 * fields.length));
  h.setUint32(0, MAGIC, true); h.setUint32(4, flags, true); h.setUint32(8, (-(MAGIC + flags)) >>> 0, true);
  fields.forEach((f, i) => h.setUint32(12 + 4 * i, f, true));
  return new Uint8Array(h.buffer);
}

// ELF32 with one PT_LOAD: file offset 0x1000 -> paddr, memsz > filesz (bss).
function elf32({ paddr = 0x100000, vaddr = 0xc0100000, entry = 0x100010, filesz = 0x40, memsz = 0x3000, machine = 3, phnum = 1, truncate } = {}) {
  const size = 0x1000 + filesz;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  dv.setUint16(16, 2, true); dv.setUint16(18, machine, true); dv.setUint32(20, 1, true);
  dv.setUint32(24, entry, true); dv.setUint32(28, 52, true);
  dv.setUint16(40, 52, true); dv.setUint16(42, 32, true); dv.setUint16(44, phnum, true);
  const ph = 52;
  dv.setUint32(ph, 1, true); dv.setUint32(ph + 4, 0x1000, true); dv.setUint32(ph + 8, vaddr, true);
  dv.setUint32(ph + 12, paddr, true); dv.setUint32(ph + 16, filesz, true); dv.setUint32(ph + 20, memsz, true);
  dv.setUint32(ph + 24, 5, true);
  b.set(mbHeader(0x3), 0x1000);            // page-align + memory info requested
  for (let i = 12; i < filesz; i++) b[0x1000 + i] = i;  // recognisable "code"
  return truncate ? b.subarray(0, truncate) : b;
}

const u32 = (m, a) => new DataView(m.ram.buffer, m.ram.byteOffset).getUint32(a, true);
const u64 = (m, a) => Number(new DataView(m.ram.buffer, m.ram.byteOffset).getBigUint64(a, true));
const cstr = (m, a) => { let s = ""; while (m.ram[a]) s += String.fromCharCode(m.ram[a++]); return s; };

test("multiboot ELF32: segments at paddr, bss zeroed, info structure, modules, entry state", async () => {
  const m = await Machine.create({ memBytes: 128 << 20 });
  m.ram.fill(0xcc, 0x100000, 0x110000);
  const mod1 = new Uint8Array(5000).fill(7), mod2 = new Uint8Array([1, 2, 3]);
  const r = m.loadMultiboot(elf32(), { name: "kern.elf", append: "arg1 arg2",
    modules: [{ data: mod1, cmdline: "mod1.bin foo=1" }, { data: mod2, cmdline: "mod2.bin" }] });
  assert.equal(r.entry, 0x100010);
  assert.equal(u32(m, 0x100000), MAGIC);
  assert.equal(m.ram[0x100020], 0x20);
  assert.equal(m.ram[0x100040], 0);          // bss start
  assert.equal(m.ram[0x102fff], 0);          // bss end
  assert.equal(m.ram[0x10f000], 0xcc);       // untouched past the kernel, info and modules
  // info structure
  assert.equal(u32(m, MBI_ADDR), 0x24f);
  assert.equal(u32(m, MBI_ADDR + 4), 639);
  assert.equal(u32(m, MBI_ADDR + 8), ((128 << 20) - 0x20000 - 0x100000) / 1024);
  assert.equal(u32(m, MBI_ADDR + 12), 0x8000ffff);
  assert.equal(cstr(m, u32(m, MBI_ADDR + 16)), "kern.elf arg1 arg2");
  assert.equal(cstr(m, u32(m, MBI_ADDR + 64)), "nestvm");
  assert.equal(u32(m, MBI_ADDR + 20), 2);
  const mods = u32(m, MBI_ADDR + 24);
  assert.equal(mods, 0x103000);              // page-aligned end of the kernel
  const s1 = u32(m, mods), e1 = u32(m, mods + 4), s2 = u32(m, mods + 16), e2 = u32(m, mods + 20);
  assert.equal(s1 & 0xfff, 0); assert.equal(e1 - s1, 5000); assert.equal(m.ram[s1 + 4999], 7);
  assert.equal(s2, (e1 + 0xfff) & ~0xfff); assert.equal(e2 - s2, 3); assert.deepEqual([...m.ram.subarray(s2, e2)], [1, 2, 3]);
  assert.equal(cstr(m, u32(m, mods + 8)), "mod1.bin foo=1");
  assert.equal(cstr(m, u32(m, mods + 24)), "mod2.bin");
  // memory map
  assert.equal(u32(m, MBI_ADDR + 48), MMAP_ADDR);
  const len = u32(m, MBI_ADDR + 44);
  const map = [];
  for (let o = MMAP_ADDR; o < MMAP_ADDR + len; o += 4 + u32(m, o)) map.push([u64(m, o + 4), u64(m, o + 12), u32(m, o + 20)]);
  assert.deepEqual(map, [
    [0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2],
    [0x100000, (128 << 20) - 0x20000 - 0x100000, 1], [(128 << 20) - 0x20000, 0x20000, 2], [0xfffc0000, 0x40000, 2],
  ]);
  // entry state
  const c = m.core;
  assert.equal(c.getReg(0), 0x2badb002n);
  assert.equal(c.getReg(3), BigInt(MBI_ADDR));
  assert.equal(c.rip, 0x100010n);
  assert.equal(c.rflags, 2n);
  assert.equal(c.getCr(0) & 0x80000001n, 1n);
  assert.deepEqual(c.getSegment(SEG.CS), { sel: 8, base: 0n, limit: 0xffffffff, attr: 0xc09b });
  assert.deepEqual(c.getSegment(SEG.DS), { sel: 0x10, base: 0n, limit: 0xffffffff, attr: 0xc093 });
  assert.deepEqual(c.getSegment(SEG.SS), { sel: 0x10, base: 0n, limit: 0xffffffff, attr: 0xc093 });
  // GDT descriptors the guest can reload
  assert.equal(u32(m, GDT_ADDR + 8), 0x0000ffff); assert.equal(u32(m, GDT_ADDR + 12), 0x00cf9a00);
  assert.equal(u32(m, GDT_ADDR + 16), 0x0000ffff); assert.equal(u32(m, GDT_ADDR + 20), 0x00cf9200);
});

test("multiboot a.out kludge (flag 16): load/bss/entry address fields", async () => {
  const m = await Machine.create({ memBytes: 16 << 20 });
  const img = new Uint8Array(0x200).fill(0x90);
  img.set(mbHeader(0x10000, [0x200040, 0x200000, 0, 0x202000, 0x200080]), 0x40);
  m.ram.fill(0xcc, 0x200000, 0x205000);
  const r = m.loadMultiboot(img, { name: "k.bin" });
  assert.equal(r.entry, 0x200080);
  assert.equal(u32(m, 0x200040), MAGIC);
  assert.equal(m.ram[0x2001ff], 0x90);
  assert.equal(m.ram[0x200200], 0); assert.equal(m.ram[0x201fff], 0); assert.equal(m.ram[0x204000], 0xcc);
  assert.equal(cstr(m, u32(m, MBI_ADDR + 16)), "k.bin ");   // QEMU: "<name> <append>"
  assert.equal(m.core.rip, 0x200080n);
  assert.equal(u32(m, MBI_ADDR + 8), ((16 << 20) - 0x20000 - 0x100000) / 1024);
});

test("multiboot: bad images are rejected with one clear line", async () => {
  const m = await Machine.create({ memBytes: 16 << 20 });
  const bad = (img, re) => assert.throws(() => m.loadMultiboot(img, { name: "x" }), (e) => e instanceof LoadError && re.test(e.message) && !e.message.includes("\n"));
  bad(new Uint8Array(100), /not a multiboot image/);
  bad(elf32({ truncate: 0x1010 }), /truncated ELF/);
  bad(elf32({ paddr: 0x4000000 }), /outside guest RAM/);
  bad(elf32({ machine: 62 }), /64-bit/);
  const noElf = new Uint8Array(64); noElf.set(mbHeader(0x3), 0);
  bad(noElf, /not an ELF/);
  const badAddr = new Uint8Array(64); badAddr.set(mbHeader(0x10000, [0x1000, 0x2000, 0, 0, 0x2000]), 0);
  bad(badAddr, /header_addr/);
});

test("flat binary: protected mode at 1 MiB, real mode at 0x7c00", async () => {
  const m = await Machine.create({ memBytes: 4 << 20 });
  const img = new Uint8Array([0xf4, 0xeb, 0xfd]);
  const r = m.loadFlat(img);
  assert.deepEqual(r, { addr: 0x100000, entry: 0x100000, mode: "protected" });
  assert.deepEqual([...m.ram.subarray(0x100000, 0x100003)], [0xf4, 0xeb, 0xfd]);
  assert.equal(m.core.rip, 0x100000n);
  assert.equal(m.core.getSegment(SEG.CS).attr, 0xc09b);
  const r2 = m.loadFlat(img, { mode: "real" });
  assert.equal(r2.addr, 0x7c00);
  assert.equal(m.ram[0x7c00], 0xf4);
  assert.equal(m.core.rip, 0x7c00n);
  assert.deepEqual(m.core.getSegment(SEG.CS), { sel: 0, base: 0n, limit: 0xffff, attr: 0x9b });
  assert.equal(m.core.getCr(0) & 1n, 0n);
  assert.equal(m.core.getReg(2), 0x80n);
  assert.throws(() => m.loadFlat(new Uint8Array(0x400000)), /outside guest RAM/);
  assert.throws(() => m.loadFlat(new Uint8Array(0)), /empty/);
});

test("multiboot: a kernel linked over the map/info block (0x9000-0x95ff) keeps its own bytes, as in QEMU", async () => {
  // QEMU's multiboot option ROM builds the e820 map and info block first and copies the kernel
  // last; kvm-unit-tests' realmode.flat (linked at 0x8000) has code at 0x9000 that must survive.
  const m = await Machine.create({ memBytes: 32 << 20 });
  const img = elf32({ paddr: 0x8000, vaddr: 0x8000, entry: 0x8010, filesz: 0x1800, memsz: 0x1800 });
  const r = m.loadMultiboot(img, { name: "low.elf" });
  assert.equal(r.loadAddr, 0x8000);
  // file byte i (i >= 12) of the segment is i & 0xff: check at the map and info block addresses
  assert.equal(m.ram[MMAP_ADDR], (MMAP_ADDR - 0x8000) & 0xff);
  assert.equal(m.ram[MMAP_ADDR + 4], (MMAP_ADDR + 4 - 0x8000) & 0xff);
  assert.equal(m.ram[MBI_ADDR + 48], (MBI_ADDR + 48 - 0x8000) & 0xff);
  assert.equal(m.core.getReg(3), BigInt(MBI_ADDR));
});
