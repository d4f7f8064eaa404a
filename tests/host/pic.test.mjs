import { test } from "node:test";
import assert from "node:assert/strict";
import { Pic8259, IoBus } from "../../build/host.mjs";

function mk() {
  const pic = new Pic8259();
  const io = new IoBus();
  pic.attach(io);
  const w = (p, v) => io.write(p, 1, v), r = (p) => io.read(p, 1);
  // Standard PC init: master base 0x20, slave base 0x28, cascade on IRQ2, 8086 mode.
  w(0x20, 0x11); w(0x21, 0x20); w(0x21, 0x04); w(0x21, 0x01);
  w(0xa0, 0x11); w(0xa1, 0x28); w(0xa1, 0x02); w(0xa1, 0x01);
  w(0x21, 0x00); w(0xa1, 0x00);
  return { pic, io, w, r };
}

test("PIC: priority, ISR/IRR reads, non-specific EOI", () => {
  const { pic, w, r } = mk();
  assert.equal(pic.intrLevel, false);
  pic.setIrq(3, true); pic.setIrq(1, true);
  assert.equal(pic.intrLevel, true);
  assert.equal(r(0x20), 0x0a);                // IRR (default read)
  assert.equal(pic.acknowledge(), 0x21);      // IRQ1 beats IRQ3
  w(0x20, 0x0b);                              // OCW3: read ISR
  assert.equal(r(0x20), 0x02);
  assert.equal(pic.intrLevel, false);         // IRQ3 blocked by IRQ1 in service
  w(0x20, 0x20);                              // EOI
  assert.equal(pic.intrLevel, true);
  assert.equal(pic.acknowledge(), 0x23);
  assert.equal(r(0x20), 0x08);
  w(0x20, 0x63);                              // specific EOI IRQ3
  assert.equal(r(0x20), 0x00);
});

test("PIC: masking via OCW1, edge triggering needs a new rising edge", () => {
  const { pic, w, r } = mk();
  w(0x21, 0x01);
  assert.equal(r(0x21), 0x01);
  pic.setIrq(0, true);
  assert.equal(pic.intrLevel, false);         // masked
  w(0x21, 0x00);
  assert.equal(pic.intrLevel, true);
  assert.equal(pic.acknowledge(), 0x20);
  w(0x20, 0x20);
  assert.equal(pic.intrLevel, false);         // line still high, but no new edge
  pic.setIrq(0, false); pic.setIrq(0, true);
  assert.equal(pic.intrLevel, true);
});

test("PIC: cascade through IRQ2 and slave vectors", () => {
  const { pic, w, r } = mk();
  pic.setIrq(12, true);
  assert.equal(pic.intrLevel, true);
  assert.equal(pic.acknowledge(), 0x2c);
  w(0x0a0, 0x0b); assert.equal(r(0xa0), 0x10); // slave ISR bit 4
  w(0x020, 0x0b); assert.equal(r(0x20), 0x04); // master ISR bit 2
  pic.setIrq(1, true);                          // IRQ1 has higher priority than IRQ2
  assert.equal(pic.acknowledge(), 0x21);
});

test("PIC: spurious IRQ7 / IRQ15", () => {
  const { pic, w, r } = mk();
  assert.equal(pic.acknowledge(), 0x27);       // nothing pending
  w(0x20, 0x0b); assert.equal(r(0x20), 0x00);  // ISR not set for a spurious IRQ
});

test("PIC: auto-EOI and level-triggered ELCR", () => {
  const { pic, io, w, r } = mk();
  w(0x20, 0x11); w(0x21, 0x30); w(0x21, 0x04); w(0x21, 0x03); // ICW4 AEOI
  pic.setIrq(5, true);
  assert.equal(pic.acknowledge(), 0x35);
  w(0x20, 0x0b); assert.equal(r(0x20), 0x00);  // no ISR bit in AEOI mode
  io.write(0x4d1, 1, 0xff);
  assert.equal(io.read(0x4d1, 1), 0xde);       // IRQ8 and IRQ13 cannot be level
  io.write(0x4d0, 1, 0xff);
  assert.equal(io.read(0x4d0, 1), 0xf8);
  pic.setIrq(10, true);
  assert.equal(pic.acknowledge(), 0x2a);
  w(0xa0, 0x20); w(0x20, 0x20);
  assert.equal(pic.intrLevel, true);           // level input still asserted: requests again
  pic.setIrq(10, false);
  assert.equal(pic.intrLevel, false);
});

test("PIC: rotate on non-specific EOI changes priority", () => {
  const { pic, w } = mk();
  pic.setIrq(0, true);
  assert.equal(pic.acknowledge(), 0x20);
  w(0x20, 0xa0);                               // rotate on non-specific EOI: IRQ0 now lowest
  pic.setIrq(7, true); pic.setIrq(0, false); pic.setIrq(0, true);
  assert.equal(pic.acknowledge(), 0x27);
});

test("PIC: poll mode", () => {
  const { pic, w, r } = mk();
  pic.setIrq(6, true);
  w(0x20, 0x0c);                               // OCW3 poll
  assert.equal(r(0x20), 0x86);
  w(0x20, 0x0b); assert.equal(r(0x20), 0x40);  // polled IRQ is in service
});
