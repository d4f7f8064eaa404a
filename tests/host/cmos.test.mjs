import { test } from "node:test";
import assert from "node:assert/strict";
import { Cmos, IoBus } from "../../build/host.mjs";

function mk(memBytes, epochMs) {
  const clock = { t: 0 };
  const io = new IoBus();
  const c = new Cmos(() => clock.t, memBytes, epochMs);
  c.attach(io);
  const rd = (i) => { io.write(0x70, 1, i); return io.read(0x71, 1); };
  const wr = (i, v) => { io.write(0x70, 1, i); io.write(0x71, 1, v); };
  return { clock, io, c, rd, wr };
}
const T = Date.UTC(2026, 10, 24, 15, 4, 59);  // Tue 2026-11-24 15:04:59 UTC

test("CMOS: memory size bytes as QEMU fills them (128 MiB)", () => {
  const { rd } = mk(128 << 20, T);
  assert.equal(rd(0x15) | (rd(0x16) << 8), 640);
  assert.equal(rd(0x17) | (rd(0x18) << 8), 0xffff);  // 127 MiB in KiB, capped at 0xffff
  assert.equal(rd(0x30) | (rd(0x31) << 8), 0xffff);
  assert.equal(rd(0x34) | (rd(0x35) << 8), (112 << 20) / 65536);
  assert.equal(rd(0x5b) | rd(0x5c) | rd(0x5d), 0);
});

test("CMOS: small memory", () => {
  const { rd } = mk(8 << 20, T);
  assert.equal(rd(0x17) | (rd(0x18) << 8), 7 * 1024);
  assert.equal(rd(0x34) | (rd(0x35) << 8), 0);
});

test("CMOS: time in BCD 24h, then binary, then 12h; virtual time advances it", () => {
  const { rd, wr, clock } = mk(16 << 20, T);
  assert.equal(rd(0x0b), 0x02);
  assert.equal(rd(0x00), 0x59); assert.equal(rd(0x02), 0x04); assert.equal(rd(0x04), 0x15);
  assert.equal(rd(0x06), 0x03);   // Tuesday = 3 (Sunday = 1)
  assert.equal(rd(0x07), 0x24); assert.equal(rd(0x08), 0x11); assert.equal(rd(0x09), 0x26); assert.equal(rd(0x32), 0x20);
  clock.t = 1e9;                  // one second later
  assert.equal(rd(0x00), 0x00); assert.equal(rd(0x02), 0x05);
  wr(0x0b, 0x06);                 // binary, 24h
  assert.equal(rd(0x04), 15); assert.equal(rd(0x00), 0);
  wr(0x0b, 0x04);                 // binary, 12h: 3 PM
  assert.equal(rd(0x04), 0x80 | 3);
  wr(0x0b, 0x00);                 // BCD 12h
  assert.equal(rd(0x04), 0x83);
});

test("CMOS: setting the clock with SET, status registers, NMI bit and RAM", () => {
  const { rd, wr, c, io, clock } = mk(16 << 20, T);
  wr(0x0b, 0x82);                 // SET, 24h BCD
  wr(0x04, 0x01); wr(0x02, 0x30); wr(0x00, 0x00);
  clock.t = 5e9;                  // frozen while SET
  assert.equal(rd(0x00), 0x00);
  wr(0x0b, 0x02);
  clock.t = 7e9;
  assert.equal(rd(0x04), 0x01); assert.equal(rd(0x02), 0x30); assert.equal(rd(0x00), 0x02);
  assert.equal(rd(0x0a) & 0x7f, 0x26);
  assert.equal(rd(0x0d), 0x80);
  io.write(0x70, 1, 0x80 | 0x40); assert.equal(c.nmiDisabled, true);
  io.write(0x71, 1, 0xab); assert.equal(rd(0x40), 0xab);
  assert.equal(c.nmiDisabled, false);
  clock.t = 7e9 + 1e9 - 100e3;    // within 244 us of the next update
  assert.equal(rd(0x0a) & 0x80, 0x80);
});

test("CMOS: periodic, update-ended and alarm interrupts set status C and IRQ8", () => {
  const { rd, wr, c, clock } = mk(16 << 20, T);
  const irq = [];
  c.setIrq = (l) => irq.push(l);
  wr(0x0a, 0x26);                 // 1024 Hz
  wr(0x0b, 0x42);                 // PIE, 24h BCD
  assert.equal(c.nextDeadline(0), 1e9 / 1024);
  clock.t = 1e9 / 1024 + 1; c.tick(clock.t);
  assert.deepEqual(irq, [true]);
  assert.equal(rd(0x0c), 0xc0);   // IRQF | PF
  assert.deepEqual(irq, [true, false]);
  assert.equal(rd(0x0c), 0x00);
  wr(0x0b, 0x12);                 // UIE only
  clock.t = 1e9 + 5; c.tick(clock.t);
  assert.equal(rd(0x0c) & 0x90, 0x90);  // IRQF | UF (PF is set too, but not enabled)
  // alarm at 15:05:01 (the clock started at 15:04:59; now 15:05:00)
  wr(0x01, 0x01); wr(0x03, 0x05); wr(0x05, 0x15);
  wr(0x0b, 0x22);                 // AIE
  clock.t = 2e9 + 5; c.tick(clock.t);
  assert.equal(rd(0x0c) & 0xb0, 0xb0);  // IRQF | AF (and UF)
  clock.t = 3e9 + 5; c.tick(clock.t);
  assert.equal(rd(0x0c) & 0xa0, 0x00);  // no match at 15:05:02
});
