import { test } from "node:test";
import assert from "node:assert/strict";
import { IoApic, LocalApic, ApicBus, Machine } from "../../build/host.mjs";

// A local APIC + IOAPIC on a bus, driven by a settable virtual clock.
function rig() {
  const clock = { t: 0, nowNs() { return this.t; } };
  const bus = new ApicBus();
  const apic = new LocalApic(0, clock);
  bus.add(apic);
  const io = new IoApic();
  io.deliver = (m) => bus.deliver(m);
  bus.onEoi = (v) => io.eoi(v);
  const nmis = [];
  bus.onNmi = (i) => nmis.push(i);
  const sel = (r) => io.write(0, 4, r);
  const ioR = (r) => { sel(r); return io.read(0x10, 4); };
  const ioW = (r, v) => { sel(r); io.write(0x10, 4, v); };
  const ack = () => apic.acknowledge();
  apic.writeReg(0xf0, 0x1ff);   // software enable, spurious vector 0xff
  return { clock, bus, apic, io, ioR, ioW, ack, nmis };
}

test("IOAPIC: ID/version/arbitration registers", () => {
  const { ioR, ioW } = rig();
  assert.equal(ioR(1), 0x00170020);          // 24 entries, version 0x20
  ioW(1, 0); assert.equal(ioR(1), 0x00170020);
  ioW(0, 0xffffffff); assert.equal(ioR(0), 0x0f000000);
  assert.equal(ioR(2), 0x0f000000);
  ioW(2, 0); assert.equal(ioR(2), 0x0f000000);
  assert.equal(ioR(0x10), 0x10000);           // masked after reset
  ioW(0x11, 0x12345678); assert.equal(ioR(0x11), 0x12000000);
});

test("IOAPIC edge: masked edges are lost, unmasked edges deliver once; IRQ0 arrives on pin 2", () => {
  const { io, ioW, apic, ack } = rig();
  ioW(0x10 + 2 * 14, 0x10081);                 // pin 14 vector 0x81 edge, masked
  io.setIrq(14, true); io.setIrq(14, false);
  assert.equal(apic.pendingVector(), -1);
  ioW(0x10 + 2 * 14, 0x81);                    // unmask: the lost edge stays lost
  assert.equal(apic.pendingVector(), -1);
  io.setIrq(14, true);
  assert.equal(ack(), 0x81);
  assert.equal(apic.readReg(0x180 + 0x40) & 2, 0);   // TMR clear for edge
  io.setIrq(14, true);                         // no new edge while high
  apic.eoi();
  assert.equal(apic.pendingVector(), -1);
  ioW(0x10 + 2 * 2, 0x30);                     // pin 2 = ISA IRQ0
  io.setIrq(0, true);
  assert.equal(ack(), 0x30);
});

test("IOAPIC level: remote IRR until EOI broadcast, re-delivery while asserted, masking", () => {
  const { io, ioW, ioR, apic, ack } = rig();
  ioW(0x10 + 2 * 13, 0x8077);                  // pin 13 vector 0x77 level
  io.setIrq(13, true);
  assert.ok(io.remoteIrr(13));
  assert.equal(ioR(0x10 + 26) & 0x4000, 0x4000);
  assert.equal(ack(), 0x77);
  assert.ok(apic.tmr[0x77 >> 5] & (1 << (0x77 & 31)));
  apic.eoi();                                  // line still high: delivered again
  assert.ok(io.remoteIrr(13));
  assert.equal(ack(), 0x77);
  io.setIrq(13, false);
  apic.eoi();
  assert.ok(!io.remoteIrr(13));
  assert.equal(apic.pendingVector(), -1);
  // masked while asserted: nothing; unmask: delivered
  ioW(0x10 + 26, 0x18078);
  io.setIrq(13, true);
  assert.equal(apic.pendingVector(), -1);
  ioW(0x10 + 26, 0x8078);
  assert.equal(ack(), 0x78);
  // EOI register (version 0x20) clears remote IRR too
  io.setIrq(13, false);
  io.write(0x40, 4, 0x78);
  assert.ok(!io.remoteIrr(13));
});

test("APIC: version, ID, priorities (vector>>4 vs PPR), highest-ISR EOI", () => {
  const { apic, ack } = rig();
  assert.equal(apic.readReg(0x30), 0x50014);
  assert.equal(apic.readReg(0x20), 0);
  apic.acceptFixed(0x45, false);
  apic.acceptFixed(0x62, false);
  assert.equal(ack(), 0x62);
  assert.equal(apic.readReg(0xa0), 0x60);      // PPR = ISR class
  assert.equal(apic.pendingVector(), -1);       // 0x45 blocked by 0x62 in service
  apic.acceptFixed(0x6f, false);
  assert.equal(apic.pendingVector(), -1);       // same class: blocked
  apic.acceptFixed(0x71, false);
  assert.equal(ack(), 0x71);
  apic.eoi();                                   // clears 0x71 (highest ISR)
  assert.equal(apic.readReg(0x130) >>> 0, 1 << 2);   // ISR word 3 (0x60-0x7f): only 0x62 left
  apic.eoi();
  assert.equal(ack(), 0x6f);
  apic.eoi();
  apic.writeReg(0x80, 0x50);                    // TPR blocks 0x45
  assert.equal(apic.readReg(0xa0), 0x50);
  assert.equal(apic.pendingVector(), -1);
  apic.writeReg(0x80, 0x3f);
  assert.equal(apic.readReg(0xa0), 0x3f);
  assert.equal(ack(), 0x45);
  apic.eoi();
  assert.equal(apic.readReg(0xa0), 0x3f);
});

test("APIC: ICR self-IPI, shorthands, NMI, illegal vector, logical destinations", () => {
  const { apic, ack, nmis } = rig();
  apic.writeReg(0x300, 0x40040);                // self shorthand, fixed, vector 0x40
  assert.equal(ack(), 0x40); apic.eoi();
  apic.writeReg(0x310, 0); apic.writeReg(0x300, 0x41);   // physical dest 0
  assert.equal(ack(), 0x41); apic.eoi();
  apic.writeReg(0x310, 0x01000000); apic.writeReg(0x300, 0x42);  // dest 1: nobody
  assert.equal(apic.pendingVector(), -1);
  apic.writeReg(0x300, 0x80043);                // all including self
  assert.equal(ack(), 0x43); apic.eoi();
  apic.writeReg(0x300, 0xc0044);                // all excluding self
  assert.equal(apic.pendingVector(), -1);
  apic.writeReg(0x310, 0); apic.writeReg(0x300, 0x4400);   // NMI to APIC 0 (self shorthand is fixed-only)
  assert.deepEqual(nmis, [0]);
  apic.writeReg(0x280, 0); apic.writeReg(0x300, 0x40005);   // vector 5: send illegal vector
  apic.writeReg(0x280, 0);
  assert.equal(apic.readReg(0x280), 0x20);
  apic.writeReg(0xd0, 0x02000000);              // logical ID bit 1, flat model
  apic.writeReg(0x310, 0x06000000); apic.writeReg(0x300, 0x800 | 0x46);
  assert.equal(ack(), 0x46); apic.eoi();
  apic.writeReg(0xe0, 0x0fffffff);              // cluster model: cluster 0, member bit 1
  assert.equal(apic.readReg(0xe0) >>> 0, 0x0fffffff);
  apic.writeReg(0x310, 0x12000000); apic.writeReg(0x300, 0x800 | 0x47);  // cluster 1: no
  assert.equal(apic.pendingVector(), -1);
  apic.writeReg(0x310, 0x02000000); apic.writeReg(0x300, 0x800 | 0x48);
  assert.equal(ack(), 0x48); apic.eoi();
});

test("APIC timer: one-shot, periodic, divide, current count from virtual time", () => {
  const { clock, apic, ack } = rig();
  apic.writeReg(0x3e0, 0xb);                    // divide by 1
  apic.writeReg(0x320, 0x50);                   // one-shot, vector 0x50
  apic.writeReg(0x380, 1000);
  clock.t = 400;
  assert.equal(apic.readReg(0x390), 600);
  assert.equal(apic.nextDeadline(clock.t), 1000);
  apic.tick(999); assert.equal(apic.pendingVector(), -1);
  apic.tick(1000); assert.equal(ack(), 0x50); apic.eoi();
  clock.t = 5000;
  assert.equal(apic.readReg(0x390), 0);
  apic.tick(5000); assert.equal(apic.pendingVector(), -1);   // one-shot fires once
  apic.writeReg(0x3e0, 0x3);                    // divide by 16
  apic.writeReg(0x320, 0x20051);                // periodic
  apic.writeReg(0x380, 100);                    // period 1600 ns
  clock.t = 5000 + 800;
  assert.equal(apic.readReg(0x390), 50);
  apic.tick(6600); assert.equal(ack(), 0x51); apic.eoi();
  assert.equal(apic.nextDeadline(6600), 8200);
  clock.t = 8200 + 16 * 10;
  assert.equal(apic.readReg(0x390), 90);
  apic.writeReg(0x320, 0x30051);                // masked: no interrupt
  apic.tick(9800); assert.equal(apic.pendingVector(), -1);
});

test("APIC timer: TSC-deadline mode uses the guest TSC; mode switch disarms", () => {
  const clock = { t: 0, nowNs() { return this.t; }, tsc() { return BigInt(this.t * 2); }, tscPerNs() { return 2; } };
  const apic = new LocalApic(0, clock);
  new ApicBus().add(apic);
  apic.writeReg(0xf0, 0x1ff);
  apic.writeReg(0x320, 0x40060);                // TSC-deadline
  apic.writeReg(0x380, 5);                      // ignored in this mode
  assert.equal(apic.readReg(0x380), 0);
  assert.ok(apic.msrWrite(0x6e0, 2000n));
  assert.equal(apic.msrRead(0x6e0), 2000n);
  assert.equal(apic.nextDeadline(0), 1000);
  clock.t = 999; apic.tick(999); assert.equal(apic.pendingVector(), -1);
  clock.t = 1000; apic.tick(1000);
  assert.equal(apic.acknowledge(), 0x60);
  assert.equal(apic.msrRead(0x6e0), 0n);        // cleared when it fires
  apic.msrWrite(0x6e0, 10000n);
  apic.writeReg(0x320, 0x60);                   // back to one-shot: disarmed
  assert.equal(apic.msrRead(0x6e0), 0n);
  assert.equal(apic.nextDeadline(1000), Infinity);
});

test("APIC timer: one-shot <-> periodic keeps the count; an expired one-shot stays at 0", () => {
  const clock = { t: 0, nowNs() { return this.t; } };
  const apic = new LocalApic(0, clock);
  new ApicBus().add(apic);
  apic.writeReg(0xf0, 0x1ff);
  apic.writeReg(0x3e0, 0xb);                    // divide by 1
  apic.writeReg(0x320, 0x20060);                // periodic
  apic.writeReg(0x380, 100);
  clock.t = 250;
  assert.equal(apic.readReg(0x390), 50);        // third period, half way
  apic.writeReg(0x320, 0x60);                   // one-shot: the current period is the last
  assert.equal(apic.readReg(0x380), 100);       // TMICT kept
  assert.equal(apic.readReg(0x390), 50);
  assert.equal(apic.nextDeadline(250), 300);
  clock.t = 320;
  assert.equal(apic.readReg(0x390), 0);
  apic.writeReg(0x320, 0x20060);                // periodic again: stays at 0
  assert.equal(apic.readReg(0x390), 0);
  assert.equal(apic.nextDeadline(320), Infinity);
  apic.writeReg(0x380, 100);                    // a TMICT write restarts it
  clock.t = 330;
  assert.equal(apic.readReg(0x390), 90);
  apic.writeReg(0x320, 0x60);                   // one-shot mid-count
  assert.equal(apic.readReg(0x390), 90);
  assert.equal(apic.nextDeadline(330), 420);
});

test("APIC: software disable masks LVTs; IA32_APIC_BASE transitions; x2APIC MSRs", () => {
  const { apic } = rig();
  apic.writeReg(0x350, 0x700);
  apic.writeReg(0xf0, 0xff);
  assert.equal(apic.readReg(0x350), 0x10700);
  apic.writeReg(0x350, 0x700);
  assert.equal(apic.readReg(0x350), 0x10700);   // stays masked while software-disabled
  assert.equal(apic.writeBase(0xfee00000 | 0xc00), false);    // x2APIC not advertised: #GP
  apic.x2apicSupported = true;
  assert.equal(apic.writeBase(0xfee00000 | 0x400), false);    // EXTD without EN
  assert.equal(apic.msrRead(0x802), undefined);                // xAPIC mode: #GP
  assert.ok(apic.writeBase(0xfee00000 | 0xc00));
  assert.ok(apic.x2apic);
  assert.equal(apic.msrRead(0x803), 0x50014n);
  assert.equal(apic.msrRead(0x80d), 1n);                       // LDR from x2APIC ID 0
  assert.equal(apic.mmioRead(0x30, 4), 0xffffffff);
  assert.equal(apic.writeBase(0xfee00000 | 0x800), false);    // x2APIC -> xAPIC: #GP
  apic.msrWrite(0x80f, 0x1ffn);
  assert.ok(apic.msrWrite(0x83f, 0x55n));                      // SELF IPI
  assert.equal(apic.acknowledge(), 0x55);
  assert.equal(apic.msrWrite(0x80b, 1n), false);               // EOI must be 0
  assert.ok(apic.msrWrite(0x80b, 0n));
  assert.ok(apic.writeBase(0xfee00000));                       // disable
  assert.ok(!apic.hwEnabled);
  assert.equal(apic.readReg(0xf0), 0xff);
});

test("machine: PIC via LINT0 ExtINT; IOAPIC via the APIC; both see ISA IRQs", async () => {
  const m = await Machine.create({ memBytes: 4 << 20 });
  // 8259: ICW1-4, vector base 0x20, unmask IRQ4
  for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 4], [0x21, 1], [0x21, 0xef]]) m.io.write(p, 1, v);
  for (const [p, v] of [[0xa0, 0x11], [0xa1, 0x28], [0xa1, 2], [0xa1, 1], [0xa1, 0xff]]) m.io.write(p, 1, v);
  m.setIrq(4, true);
  assert.ok(m.intrLevel);
  assert.equal(m.intAck(), 0x24);
  m.io.write(0x20, 1, 0x20);
  m.setIrq(4, false);
  // mask LINT0: the PIC no longer reaches the CPU; route IRQ4 through the IOAPIC instead
  m.mmioWrite(0xfee000f0, 4, 0x1ff);
  m.mmioWrite(0xfee00350, 4, 0x10700);
  m.mmioWrite(0xfec00000, 4, 0x18); m.mmioWrite(0xfec00010, 4, 0x64);
  m.setIrq(4, true);
  assert.ok(m.intrLevel);
  assert.equal(m.intAck(), 0x64);
  assert.equal(m.mmioRead(0xfee00100 + 0x30, 4), 1 << 4);   // ISR bit 0x64
  m.mmioWrite(0xfee000b0, 4, 0);
  assert.equal(m.mmioRead(0xfee00100 + 0x30, 4), 0);
  assert.ok(!m.intrLevel);
  // TPR through MMIO shows in CR8
  m.mmioWrite(0xfee00080, 4, 0x70);
  assert.equal(m.core.getCr(8), 7n);
});

test("machine hooks for the core: IA32_APIC_BASE, TSC_DEADLINE, x2APIC MSRs, CR8 writes", async () => {
  const m = await Machine.create({ memBytes: 4 << 20 });
  const apic = m.apics[0];
  assert.equal(m.msrRead(0x1b), 0xfee00900n);
  assert.ok(apic.x2apicSupported);                              // the core advertises x2APIC
  assert.equal(m.msrWrite(0x1b, 0xfee00500n), false);          // EXTD without EN
  assert.equal(m.msrWrite(0x1b, 0x10000000900n), false);       // above MAXPHYADDR (40)
  assert.equal(m.msrRead(0x802), undefined);                    // xAPIC mode: x2APIC MSRs #GP
  assert.ok(m.msrWrite(0x1b, 0xfe000900n));                     // relocate
  assert.equal(apic.mmioBase, 0xfe000000);
  // The core's RDMSR/WRMSR of these MSRs reach the host (env.msrRead / env.msrWrite).
  assert.equal(BigInt.asUintN(64, m.core.raw.getMsr(0x1b)), 0xfe000900n);
  assert.equal(m.core.raw.setMsr(0x1b, 0xfe000a00n), 0);         // bit 9 reserved: #GP in the core
  assert.equal(m.core.raw.setMsr(0x830, 0n), 0);                 // xAPIC mode: the host says #GP
  assert.equal(apic.mmioBase, 0xfe000000);
  assert.equal(m.mmioRead(0xfe000030, 4), 0x50014);
  assert.equal(m.mmioRead(0xfee00030, 4), 0xffffffff);          // old window is gone
  m.mmioWrite(0xfe0000f0, 4, 0x1ff);
  apic.acceptFixed(0x35, false);
  assert.ok(m.intrLevel);
  m.tprWrite(4);                                                // CR8 = 4 blocks class 3
  assert.equal(apic.tpr, 0x40);
  assert.ok(!m.intrLevel);
  m.tprWrite(0);
  assert.ok(m.intrLevel);
  assert.ok(m.core.raw.setMsr(0x1b, 0xfee00d00n));              // through the core
  assert.ok(apic.x2apic);
  assert.ok(m.msrWrite(0x808, 0x20n));                          // x2APIC TPR
  assert.equal(m.core.getCr(8), 2n);
  assert.equal(m.msrRead(0x803), 0x50014n);
});
