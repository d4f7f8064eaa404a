import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../../build/host.mjs";

// The machine loop is tested against a scripted stand-in core (fixtures/fake-core.ts) so
// that timers, HLT, interrupts, stop and abort handling do not depend on the CPU.
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
let fake;
before(() => {
  const out = join(mkdtempSync(join(tmpdir(), "nestvm-")), "fake.wasm");
  execFileSync(join(root, "node_modules/.bin/asc"), [join(root, "tests/host/fixtures/fake-core.ts"), "--runtime", "stub", "--outFile", out]);
  fake = new Uint8Array(readFileSync(out));
});
const mk = (opts = {}) => Machine.create({ memBytes: 4 << 20, wasm: fake, ...opts });

test("unclaimed ports and MMIO read all-ones, writes are ignored", async () => {
  const m = await Machine.create({ memBytes: 4 << 20 });
  assert.equal(m.io.read(0x1234, 1), 0xff);
  assert.equal(m.io.read(0x1234, 2), 0xffff);
  assert.equal(m.io.read(0x1234, 4), 0xffffffff);
  m.io.write(0x1234, 4, 0);
  assert.equal(m.io.read(0x1234, 4), 0xffffffff);
  assert.equal(m.mmio.read(0xfee00000, 4), 0xffffffff);
  assert.equal(m.mmio.read(0xfee00000, 1), 0xff);
  assert.equal(m.io.read(0x80, 1), 0xff);
  m.io.write(0x80, 1, 0x42);
  assert.equal(m.post.last, 0x42);
  // a 16-bit access to the byte-wide UART is split: LSR and MSR
  assert.equal(m.io.read(0x3fd, 2), 0xb060);
  assert.throws(() => m.io.register(0x3f8, 1, { read: () => 0, write: () => {} }), /already claimed/);
});

test("memory size is checked", async () => {
  await assert.rejects(Machine.create({ memBytes: 5 * 2 ** 30 }), /between 1 MiB and 3 GiB/);
});

test("the real core: an invalid instruction stream ends in 'shutdown', not an exception", async () => {
  const m = await Machine.create({ memBytes: 4 << 20 });
  m.loadFlat(new Uint8Array([0x0f, 0xff]));   // UD0 -> #UD with no IDT
  const r = await m.run({ maxSeconds: 5 });
  assert.ok(["shutdown", "halt", "exit"].includes(r.reason), r.reason);
});

test("debug exit: status (v << 1) | 1, run returns 'exit'", async () => {
  const m = await mk();
  m.core.setReg(0, 3); m.core.setReg(1, 0x21);
  const r = await m.run({ maxSeconds: 5 });
  assert.equal(r.reason, "exit");
  assert.equal(r.exitCode, 0x43);
  assert.equal(r.instructions, 1n);
});

test("triple fault -> shutdown; port 0x92 reset -> shutdown; HLT with IF=0 -> halt", async () => {
  let m = await mk();
  m.core.setReg(0, 2);
  assert.equal((await m.run()).reason, "shutdown");
  m = await mk();
  m.io.write(0x92, 1, 0x01);
  const r = await m.run();
  assert.equal(r.reason, "shutdown");
  assert.match(r.message, /0x92/);
  m = await mk();
  m.core.setReg(0, 1);
  assert.equal((await m.run({ maxSeconds: 5 })).reason, "halt");
});

test("core abort becomes reason 'error' with the message", async () => {
  const m = await mk();
  m.core.setReg(0, 4);
  const r = await m.run({ maxSeconds: 5 });
  assert.equal(r.reason, "error");
  assert.match(r.message, /fake core abort/);
});

test("instruction and time limits -> timeout; stop() -> stopped; views survive memory growth", async () => {
  const m = await mk();
  m.core.setReg(0, 0);
  const r = await m.run({ maxInstructions: 1_000_000 });
  assert.equal(r.reason, "timeout");
  assert.equal(r.instructions, 1_000_000n);
  const r2 = await m.run({ maxSeconds: 0.05 });
  assert.equal(r2.reason, "timeout");
  assert.ok(r2.seconds >= 0.05 && r2.seconds < 2, String(r2.seconds));
  setTimeout(() => m.stop(), 20);
  assert.equal((await m.run({ maxSeconds: 10 })).reason, "stopped");
  m.ram[0x1000] = 0x5a;
  m.core.setReg(0, 5);
  await m.run({ maxInstructions: 10 });
  assert.equal(m.ram[0x1000], 0x5a);          // re-created view over the grown buffer
  m.ram[0x1001] = 0xa5;
  assert.equal(new Uint8Array(m.core.raw.memory.buffer)[m.core.ramBase + 0x1001], 0xa5);
});

function programPit(m, mode, count) {
  const w = (p, v) => m.io.write(p, 1, v);
  w(0x20, 0x11); w(0x21, 0x20); w(0x21, 0x04); w(0x21, 0x01); w(0x21, 0xfe); // only IRQ0
  w(0x43, 0x30 | (mode << 1)); w(0x40, count & 0xff); w(0x40, count >> 8);
}

test("icount mode: HLT skips virtual time to the next PIT tick; IRQ0 wakes the CPU", async () => {
  const m = await mk({ tsc: "icount" });
  programPit(m, 2, 11932);                    // ~10 ms period
  m.core.rflags = 0x202n;
  m.core.setReg(0, 6); m.core.setReg(1, 50);  // 50 timer interrupts, then exit
  const t0 = Date.now();
  const r = await m.run({ maxSeconds: 10 });
  assert.equal(r.reason, "exit");
  assert.equal(r.exitCode, (50 << 1) | 1);
  assert.equal(m.core.getReg(2), 0x20n);      // vector of IRQ0
  const vt = Number(m.core.getReg(4));         // virtual ns at the 50th interrupt
  assert.ok(vt >= 50 * 11932 * 838.09 && vt < 51 * 11932 * 838.1, String(vt));
  assert.ok(Date.now() - t0 < 2000, "virtual time should not be slept through");
});

test("realtime mode: HLT sleeps until the PIT deadline (mode 3, 5 ms period)", async () => {
  const m = await mk({ tsc: "realtime" });
  programPit(m, 3, 5966);                     // ~5 ms
  m.core.rflags = 0x202n;
  m.core.setReg(0, 6); m.core.setReg(1, 10);
  const t0 = performance.now();
  const r = await m.run({ maxSeconds: 10 });
  const ms = performance.now() - t0;
  assert.equal(r.reason, "exit");
  assert.ok(ms >= 45 && ms < 1000, `took ${ms} ms`);
});

test("serial input wakes a halted CPU", async () => {
  const m = await mk({ tsc: "realtime" });
  const w = (p, v) => m.io.write(p, 1, v);
  w(0x20, 0x11); w(0x21, 0x20); w(0x21, 0x04); w(0x21, 0x01); w(0x21, 0xef); // only IRQ4
  w(0x3f9, 0x01);                              // UART RDA interrupt
  m.core.rflags = 0x202n;
  m.core.setReg(0, 6); m.core.setReg(1, 1);
  setTimeout(() => m.sendSerial("k"), 30);
  const r = await m.run({ maxSeconds: 10 });
  assert.equal(r.reason, "exit");
  assert.equal(m.core.getReg(2), 0x24n);
  assert.ok(r.seconds >= 0.02, String(r.seconds));
});

test("runImage returns the serial text", async () => {
  const img = new Uint8Array(64);
  const r = await (await import("../../build/host.mjs")).runImage(img, { format: "flat", memBytes: 4 << 20, wasm: fake, maxSeconds: 0.02 });
  assert.equal(r.reason, "timeout");
  assert.equal(r.serial, "");
});

// fixtures/timer.S assembled (as --32; ld -m elf_i386 -Ttext 0x100000 --oformat binary):
// PIC + PIT ch0 mode 2 at ~1 ms, STI/HLT loop, prints 'T' per IRQ0, exits with the count (20).
const TIMER_BIN = Uint8Array.from("b85a00100066a370011000c1e81066a3760110000f011d78011000b011e620e6a0b020e621b028e6a1b004e621b002e6a1b001e621e6a1b0fee621b0ffe6a1b034e643b0a9e640b004e64031dbfbf483fb1472fafa88d8e6f4f450524366baf803b054eeb020e6205a58cf8d742600900000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000800008e0000070170001000".match(/../g), (h) => parseInt(h, 16));

test("real core: PIT IRQ0 through the PIC wakes HLT; 20 ticks then debug exit", async () => {
  for (const tsc of ["realtime", "icount"]) {
    let serial = "";
    const m = await Machine.create({ memBytes: 4 << 20, tsc, serialOut: (b) => { serial += new TextDecoder().decode(b); } });
    m.loadFlat(TIMER_BIN);
    const t0 = performance.now();
    const r = await m.run({ maxSeconds: 10 });
    const ms = performance.now() - t0;
    assert.equal(r.reason, "exit", `${tsc}: ${r.reason} ${r.message ?? ""}`);
    assert.equal(r.exitCode, (20 << 1) | 1);
    assert.equal(serial, "T".repeat(20));
    if (tsc === "realtime") assert.ok(ms >= 19, `realtime run took only ${ms} ms`);
    else assert.ok(m.nowNs() >= 20 * 1193 * 838.09, String(m.nowNs()));  // virtual time skipped ahead
  }
});

test("icount mode is deterministic: same instructions and virtual time on every run", async () => {
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const m = await Machine.create({ memBytes: 4 << 20, tsc: "icount" });
    m.loadFlat(TIMER_BIN);
    const r = await m.run({ maxSeconds: 10 });
    runs.push([r.reason, r.instructions, m.nowNs()]);
  }
  assert.deepEqual(runs[0], runs[1]);
  assert.equal(runs[0][0], "exit");
});
