import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../build/host.mjs";

// Hostile bzImage setup headers: every outcome is a LoadError with one line naming the problem,
// or a boot that ends architecturally (exit, halt, shutdown or the instruction limit), never a
// JS exception (RangeError, TypeError), an emulator error or a hang.

// The payload: out 0xf4, eax with eax = 0x21 (exit status 0x43).
const PAYLOAD = Uint8Array.from([0xb8, 0x21, 0, 0, 0, 0xe7, 0xf4, 0xf4]);
function bzImage({ setupSects = 1, version = 0x020f, loadflags = 1, code32 = 0x100000, initrdMax = 0x37ffffff,
  cmdlineSize = 2047, initSize = 0x10000, hdrLen = 0x6a, payload = PAYLOAD } = {}) {
  const pmOff = ((setupSects || 4) + 1) * 512;
  const img = new Uint8Array(Math.max(pmOff, 0x270) + payload.length);
  const dv = new DataView(img.buffer);
  img[0x1f1] = setupSects;
  img[0x1fe] = 0x55; img[0x1ff] = 0xaa;
  img[0x200] = 0xeb; img[0x201] = hdrLen;
  img.set([0x48, 0x64, 0x72, 0x53], 0x202);
  dv.setUint16(0x206, version, true);
  img[0x211] = loadflags;
  dv.setUint32(0x214, code32 >>> 0, true);
  dv.setUint32(0x22c, initrdMax >>> 0, true);
  dv.setUint32(0x238, cmdlineSize >>> 0, true);
  dv.setUint32(0x260, initSize >>> 0, true);
  img.set(payload, pmOff);
  return img;
}

// xorshift32: deterministic.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

const ARCH = new Set(["exit", "halt", "shutdown", "timeout"]);
async function attempt(m, img, opts, what) {
  m.reset();
  let r;
  try {
    r = m.loadLinux(img, opts);
  } catch (e) {
    assert.equal(e?.name, "LoadError", `${what}: ${e?.name}: ${e?.message}`);
    assert.ok(e.message.length > 0 && !e.message.includes("\n"), `${what}: one line: ${e.message}`);
    return { error: e.message };
  }
  const run = await m.run({ maxInstructions: 20000, maxSeconds: 2 });
  assert.ok(ARCH.has(run.reason), `${what}: ended with ${run.reason}: ${run.message}`);
  return { run, r };
}

test("Linux loader: targeted hostile setup headers", async () => {
  const m = await Machine.create({ memBytes: 16 << 20, tsc: "icount" });
  const dv = new DataView(m.ram.buffer, m.ram.byteOffset);
  // A sane image boots and exits through isa-debug-exit.
  let o = await attempt(m, bzImage(), {}, "sane");
  assert.equal(o.run.reason, "exit"); assert.equal(o.run.exitCode, 0x43);
  // setup_sects 0 means 4; 255 is a 128 KiB setup.
  o = await attempt(m, bzImage({ setupSects: 0 }), {}, "setup_sects 0"); assert.equal(o.run.exitCode, 0x43);
  o = await attempt(m, bzImage({ setupSects: 255 }), {}, "setup_sects 255"); assert.equal(o.run.exitCode, 0x43);
  // setup_sects beyond the file: truncated.
  const t = bzImage().subarray(0, 1024);
  assert.match((await attempt(m, t, {}, "no pm")).error, /truncated/);
  // code32_start anywhere: inside RAM (zeros), in the reset-vector stub, outside RAM, at 4 GiB - 1.
  for (const code32 of [0x1000, 0x9fc00, 0xf0000, 0xfff00, 16 << 20, 0x7fffffff, 0xfec00000, 0xfee00000, 0xfffffff0, 0xffffffff]) {
    o = await attempt(m, bzImage({ code32 }), {}, `code32_start ${code32.toString(16)}`);
    assert.ok(o.run, "loads (the kernel's own entry point is its business)");
  }
  // init_size huge: does not fit.
  assert.match((await attempt(m, bzImage({ initSize: 0xffffffff }), {}, "init_size")).error, /needs \d+ MiB of RAM/);
  assert.match((await attempt(m, bzImage({ initSize: 15 << 20 }), {}, "init_size 15M")).error, /needs 16 MiB of RAM/);
  // initrd_addr_max 0 or tiny: the initrd does not fit; without an initrd it does not matter.
  for (const initrdMax of [0, 1, 0xfff, 0x100000, 0x10ffff]) {
    assert.match((await attempt(m, bzImage({ initrdMax }), { initrd: new Uint8Array(100) }, "initrd_addr_max")).error, /initrd of 100 bytes does not fit/);
    assert.equal((await attempt(m, bzImage({ initrdMax }), {}, "initrd_addr_max, no initrd")).run.exitCode, 0x43);
  }
  // initrd_addr_max 0xffffffff: + 1 is 4 GiB, the initrd still goes below the top of RAM.
  o = await attempt(m, bzImage({ initrdMax: 0xffffffff }), { initrd: new Uint8Array(100).fill(7) }, "initrd_addr_max max");
  assert.ok(o.r.initrd.end <= (16 << 20) - 0x20000);
  // A failed initrd placement leaves the RAM as it was (checked before anything is written).
  m.reset(); m.ram[0x100000] = 0x5a;
  assert.throws(() => m.loadLinux(bzImage({ initrdMax: 0 }), { initrd: new Uint8Array(100) }), /does not fit/);
  assert.equal(m.ram[0x100000], 0x5a);
  // cmdline_size 0: only the empty command line fits.
  assert.match((await attempt(m, bzImage({ cmdlineSize: 0 }), { cmdline: "x" }, "cmdline_size 0")).error, /command line of 1 bytes is longer than the kernel's 0/);
  assert.equal((await attempt(m, bzImage({ cmdlineSize: 0 }), {}, "cmdline_size 0, empty")).run.exitCode, 0x43);
  // Header length byte 0xff: the copy stays inside the zero page and the loader's fields win.
  o = await attempt(m, bzImage({ hdrLen: 0xff }), { cmdline: "abc" }, "hdrlen 0xff");
  assert.equal(dv.getUint32(o.r.bootParams + 0x228, true), 0x20000);
  assert.equal(m.ram[o.r.bootParams + 0x1e8], 6);
  // Without an initrd, ramdisk_image/size from the file are not passed on to the kernel.
  const junk = bzImage(); new DataView(junk.buffer).setUint32(0x218, 0x12345678, true); new DataView(junk.buffer).setUint32(0x21c, 0x1000, true);
  o = await attempt(m, junk, {}, "ramdisk fields in the file");
  assert.equal(dv.getUint32(o.r.bootParams + 0x218, true), 0);
  assert.equal(dv.getUint32(o.r.bootParams + 0x21c, true), 0);
  // Odd versions: too old, exactly 2.03 (no init_size, no cmdline_size: 255), 2.09, 0xffff.
  for (const version of [0, 0x0100, 0x0202]) assert.match((await attempt(m, bzImage({ version }), {}, "old")).error, /too old/);
  for (const version of [0x0203, 0x0209, 0x020a, 0xffff]) assert.equal((await attempt(m, bzImage({ version }), {}, `v${version}`)).run.exitCode, 0x43);
  assert.match((await attempt(m, bzImage({ version: 0x0203 }), { cmdline: "x".repeat(256) }, "2.03 cmdline")).error, /longer than the kernel's 255/);
  // Truncated at every length around the header and the start of the kernel.
  const full = bzImage();
  for (let len = 0; len <= full.length; len++) {
    const r = await attempt(m, full.subarray(0, len), {}, `truncated to ${len}`);
    if (r.error) assert.match(r.error, /not a Linux bzImage|truncated/);
  }
  // The smallest machine (2 MiB): the kernel fits, a large init_size does not.
  const small = await Machine.create({ memBytes: 2 << 20, tsc: "icount" });
  assert.equal((await attempt(small, bzImage({ initSize: 0x1000 }), {}, "2 MiB")).run.exitCode, 0x43);
  assert.equal((await attempt(small, bzImage(), { initrd: new Uint8Array(0x80000) }, "2 MiB, initrd 512K")).run.exitCode, 0x43);
  assert.match((await attempt(small, bzImage(), { initrd: new Uint8Array(0xd1000) }, "2 MiB, initrd 836K")).error, /initrd of 856064 bytes does not fit below 0x1e0000/);
  assert.match((await attempt(small, bzImage({ initSize: 1 << 20 }), {}, "2 MiB, init_size 1M")).error, /needs 2 MiB of RAM to decompress \(have 2 MiB\)/);
  // A Uint8Array view into a larger buffer at an odd offset.
  const big = new Uint8Array(full.length + 3); big.set(full, 3);
  assert.equal((await attempt(m, big.subarray(3), {}, "offset view")).run.exitCode, 0x43);
});

test("Linux loader: seeded fuzz of the setup header", async () => {
  const m = await Machine.create({ memBytes: 8 << 20, tsc: "icount" });
  const next = rng(0x4c1e5eed);
  const t0 = Date.now();
  let loaded = 0, rejected = 0;
  const interesting = [0, 1, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x100000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  for (let i = 0; i < 1500; i++) {
    const pick = () => (next() & 1 ? interesting[next() % interesting.length] : next());
    const img = bzImage({ setupSects: next() % 3 === 0 ? next() & 0xff : 1, version: next() & 1 ? pick() & 0xffff : 0x0203 + (next() % 16),
      loadflags: next() & 0xff | (next() % 4 ? 1 : 0), code32: next() % 3 ? 0x100000 : pick(), initrdMax: pick(), cmdlineSize: pick(),
      initSize: next() % 3 ? next() % 0x800000 : pick(), hdrLen: next() & 0xff });
    // Random bytes over the header, then maybe a truncation.
    for (let k = next() % 8; k > 0; k--) img[0x1f1 + (next() % 0x80)] = next() & 0xff;
    const cut = next() % 4 === 0 ? next() % img.length : img.length;
    const opts = {};
    if (next() & 1) opts.cmdline = "y".repeat(next() % 600);
    if (next() & 1) opts.initrd = new Uint8Array(next() % 3 ? next() % 0x10000 : next() % (16 << 20));
    const r = await attempt(m, img.subarray(0, cut), opts, `fuzz #${i}`);
    if (r.error) rejected++; else loaded++;
  }
  assert.ok(loaded > 20 && rejected > 20, `both outcomes exercised: ${loaded} loaded, ${rejected} rejected`);
  assert.ok(Date.now() - t0 < 5000, `fuzz took ${Date.now() - t0} ms`);
});

test("Linux loader: a rejected bzImage does not replace the loaded image's reboot target", async () => {
  const m = await Machine.create({ memBytes: 4 << 20, tsc: "icount", reboot: true });
  // Real mode: inc byte [0x600]; cmp byte [0x600], 2; jb triple; mov al, [0x600]; out 0xf4, al; hlt
  // triple: lidt [0x7d00] (limit 0); int3 -> triple fault -> reboot (the image is loaded again).
  const img = new Uint8Array(0x200);
  img.set([0xfe, 0x06, 0x00, 0x06, 0x80, 0x3e, 0x00, 0x06, 0x02, 0x72, 0x06, 0xa0, 0x00, 0x06, 0xe6, 0xf4, 0xf4,
    0x0f, 0x01, 0x1e, 0x00, 0x7d, 0xcc]);
  m.loadFlat(img, { mode: "real" });
  assert.throws(() => m.loadLinux(bzImage({ initSize: 0xffffffff })), /needs 4097 MiB/);
  assert.throws(() => m.loadLinux(new Uint8Array(0x300)), /not a Linux bzImage/);
  const r = await m.run({ maxSeconds: 5 });
  assert.equal(r.reason, "exit", r.message);          // was 'error' with the LoadError, on the reboot
  assert.equal(r.exitCode, (2 << 1) | 1);
});
