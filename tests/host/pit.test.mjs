import { test } from "node:test";
import assert from "node:assert/strict";
import { Pit8254, Pic8259, IoBus, PIT_HZ } from "../../build/host.mjs";

const TICK = 1e9 / PIT_HZ;
function mk() {
  const clock = { t: 0 };
  const io = new IoBus();
  const pit = new Pit8254(() => clock.t);
  const pic = new Pic8259();
  pit.setIrq0 = (l) => pic.setIrq(0, l);
  pit.pulseIrq0 = () => pic.pulseIrq(0);
  pit.attach(io); pic.attach(io);
  const w = (p, v) => io.write(p, 1, v), r = (p) => io.read(p, 1);
  w(0x20, 0x11); w(0x21, 0x20); w(0x21, 0x04); w(0x21, 0x01); w(0x21, 0x00);
  return { clock, io, pit, pic, w, r };
}
const latch0 = ({ w, r }) => { w(0x43, 0x00); return r(0x40) | (r(0x40) << 8); };

test("PIT: mode 2 counts down at 1.193182 MHz and raises IRQ0 once per period", () => {
  const env = mk(); const { clock, pit, pic, w } = env;
  w(0x43, 0x34);                       // ch0, LSB/MSB, mode 2
  w(0x40, 1193 & 0xff); w(0x40, 1193 >> 8);
  assert.equal(latch0(env), 1193);
  clock.t = 100 * TICK;
  assert.equal(latch0(env), 1093);
  pit.tick(clock.t);
  assert.equal(pic.intrLevel, false);
  assert.equal(pit.nextDeadline(clock.t), 1193 * TICK);
  clock.t = 1193 * TICK; pit.tick(clock.t);
  assert.equal(pic.intrLevel, true);
  assert.equal(pic.acknowledge(), 0x20);
  w(0x20, 0x20);
  clock.t = 2000 * TICK; pit.tick(clock.t);
  assert.equal(pic.intrLevel, false);  // second period not over yet
  clock.t = 2386 * TICK; pit.tick(clock.t);
  assert.equal(pic.intrLevel, true);
  assert.equal(latch0(env), 1193);     // reloaded at the period boundary
});

test("PIT: mode 3 square wave halves the period in the counter and toggles OUT", () => {
  const env = mk(); const { clock, pit, pic, w, r } = env;
  w(0x43, 0x36);                       // ch0 LSB/MSB mode 3
  w(0x40, 100); w(0x40, 0);
  assert.equal(latch0(env), 100);
  clock.t = 10 * TICK;
  assert.equal(latch0(env), 80);       // decrements by 2
  w(0x43, 0xe2);                       // read-back status of ch0
  assert.equal(r(0x40) & 0x80, 0x80);  // OUT high in the first half
  clock.t = 60 * TICK;
  w(0x43, 0xe2);
  assert.equal(r(0x40), 0x36);         // OUT low, count valid, rw=3, mode 3, binary
  clock.t = 100 * TICK; pit.tick(clock.t);
  assert.equal(pic.intrLevel, true);
  assert.equal(pit.nextDeadline(clock.t), 200 * TICK);
});

test("PIT: mode 0 interrupt on terminal count; LSB-only access; read-back latch", () => {
  const env = mk(); const { clock, pit, pic, w, r } = env;
  w(0x43, 0x10);                       // ch0, LSB only, mode 0
  w(0x40, 50);
  pit.tick(clock.t);
  assert.equal(pic.intrLevel, false);
  clock.t = 20 * TICK;
  assert.equal(r(0x40), 30);           // live LSB read
  w(0x43, 0xd2);                       // read-back: latch count of ch0
  clock.t = 25 * TICK;
  assert.equal(r(0x40), 30);           // latched value, not 25
  clock.t = 50 * TICK; pit.tick(clock.t);
  assert.equal(pic.intrLevel, true);
  assert.equal(pit.nextDeadline(clock.t), Infinity);
});

test("PIT: BCD counting", () => {
  const env = mk(); const { clock, w } = env;
  w(0x43, 0x35);                       // ch0 LSB/MSB mode 2 BCD
  w(0x40, 0x00); w(0x40, 0x10);        // 1000 decimal
  clock.t = 1 * TICK;
  assert.equal(latch0(env), 0x0999);
});

test("PIT: channel 2 gated by port 0x61, OUT visible in bit 5", () => {
  const env = mk(); const { clock, w, r } = env;
  w(0x43, 0xb0);                       // ch2, LSB/MSB, mode 0
  w(0x42, 10); w(0x42, 0);
  assert.equal(r(0x61) & 0x21, 0x00);  // gate off, OUT low
  w(0x61, 0x01);                       // gate on: counting starts now
  clock.t = 5 * TICK;
  assert.equal(r(0x61) & 0x20, 0);
  clock.t = 10 * TICK;
  assert.equal(r(0x61) & 0x21, 0x21);  // terminal count reached
});
