import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../build/host.mjs";

async function mk() {
  const out = [];
  const m = await Machine.create({ memBytes: 4 << 20, serialOut: (b) => out.push(...b) });
  const irqs = [];
  const origSet = m.pic.setIrq.bind(m.pic);
  m.pic.setIrq = (irq, l) => { if (irq === 4) irqs.push(l); origSet(irq, l); };
  return { m, out, irqs, r: (off) => m.io.read(0x3f8 + off, 1), w: (off, v) => m.io.write(0x3f8 + off, 1, v) };
}

test("UART: transmit goes to serialOut; LSR THRE/TEMT; scratch register", async () => {
  const { m, out, r, w } = await mk();
  assert.equal(r(5), 0x60);
  w(0, 0x41); w(0, 0x42);
  m.uart.flush();
  assert.deepEqual(out, [0x41, 0x42]);
  w(7, 0x5a); assert.equal(r(7), 0x5a);
  assert.equal(r(6) & 0xf0, 0xb0);           // DCD, DSR, CTS
});

test("UART: DLAB selects the divisor latch", async () => {
  const { r, w } = await mk();
  w(3, 0x83); w(0, 0x01); w(1, 0x02);
  assert.equal(r(0), 0x01); assert.equal(r(1), 0x02); assert.equal(r(3), 0x83);
  w(3, 0x03);
  assert.equal(r(1), 0x00);                   // IER, not DLM
  w(1, 0x01); assert.equal(r(1), 0x01);
  w(3, 0x83); assert.equal(r(1), 0x02);       // divisor unchanged by the IER write
});

test("UART: receive, LSR.DR, RDA interrupt, IIR priorities and THRE interrupt", async () => {
  const { m, r, w, irqs } = await mk();
  assert.equal(r(2), 0x01);                   // no interrupt pending
  m.sendSerial("xy");
  assert.equal(r(5) & 1, 1);
  w(1, 0x01);                                 // ERBFI
  assert.equal(r(2), 0x04);
  assert.equal(irqs.at(-1), true);
  assert.equal(r(0), 0x78);                   // 'x' (non-FIFO: one byte at a time)
  assert.equal(r(0), 0x79);
  assert.equal(r(5) & 1, 0);
  assert.equal(r(2), 0x01);
  assert.equal(irqs.at(-1), false);
  w(1, 0x03);                                 // enabling ETBEI with THR empty raises THRE
  assert.equal(r(2), 0x02);
  assert.equal(r(2), 0x01);                   // reading IIR cleared it
  w(0, 0x20);                                 // each transmit raises it again
  assert.equal(r(2), 0x02);
});

test("UART: FIFO enable, trigger level and clear", async () => {
  const { m, r, w } = await mk();
  w(2, 0xc7);                                 // FIFO on, clear, trigger 14
  assert.equal(r(2) & 0xc0, 0xc0);
  m.sendSerial(new Uint8Array(20).fill(0x61));
  w(1, 0x01);
  assert.equal(r(2) & 0x0f, 0x04);            // 16 >= 14
  for (let i = 0; i < 10; i++) r(0);
  // 6 left in the FIFO + refilled from the 4 queued host bytes = 10 < 14: character timeout id
  assert.equal(r(2) & 0x0f, 0x0c);
  w(2, 0x03);                                 // clear receive FIFO (host queue already drained)
  assert.equal(r(5) & 1, 0);
  m.sendSerial("z");
  assert.equal(r(0), 0x7a);
});

test("UART: loopback wires TX to RX and MCR to MSR", async () => {
  const { m, out, r, w } = await mk();
  w(4, 0x10);
  assert.equal(r(6) & 0xf0, 0x00);
  w(0, 0x55);
  m.uart.flush();
  assert.deepEqual(out, []);                  // nothing leaves the chip
  assert.equal(r(5) & 1, 1);
  assert.equal(r(0), 0x55);
  w(0, 1); w(0, 2);                           // second byte overruns the 1-byte holding register
  assert.equal(r(5) & 0x03, 0x03);            // DR + OE
  assert.equal(r(5) & 0x02, 0);               // OE cleared by the read
  w(4, 0x1f);                                 // DTR RTS OUT1 OUT2
  assert.equal(r(6), 0xf0 | 0x03 | 0x08);     // CTS DSR RI DCD + delta bits DCTS DDSR DDCD
  assert.equal(r(6), 0xf0);                   // deltas cleared
});
