// The PMU with two vCPUs (docs/pmu.md): each vCPU has its own counters, controls and overflow
// status, and a counter overflow with INT sends the PMI to that vCPU's local APIC only (LVT
// performance-counter entry, masked afterwards).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../build/host.mjs";

const CS = 1;
const PMC0 = 0xc1, A_PMC0 = 0x4c1, EVTSEL0 = 0x186, FIXED0 = 0x309, FIXED_CTRL = 0x38d;
const STATUS = 0x38e, GCTRL = 0x38f;
const EN = 1n << 22n, OS = 1n << 17n, USR = 1n << 16n, INT = 1n << 20n;
const TOP = 1n << 48n;

test("two vCPUs count on their own counters; the PMI goes to the overflowing vCPU's APIC", async () => {
  const m = await Machine.create({ memBytes: 8 << 20, cpus: 2 });
  const core = m.core, raw = core.raw;
  m.ram.set([0xeb, 0xfe], 0x1000);   // jmp $ (one instruction per step, IF = 0)
  const msr = (i) => BigInt.asUintN(64, raw.getMsr(i));
  for (const i of [0, 1]) {
    m.selectCpu(i);
    core.setSegment(CS, 0x08, 0, 0xffffffff, 0xc09b);
    core.setCr(0, 0x11);
    core.rflags = 2n;
    core.rip = 0x1000n;
    const apic = m.apics[i];
    apic.mmioWrite(0xf0, 4, 0x1ff);            // software-enable the APIC
    apic.mmioWrite(0x340, 4, 0x40 + i);        // LVT performance counter: fixed, vector 0x40 + i
    assert.ok(raw.setMsr(GCTRL, 0n));
  }
  // vCPU 0: fixed counter 0 (instructions retired). vCPU 1: PMC0 counting instructions from -50,
  // with INT.
  m.selectCpu(0);
  assert.ok(raw.setMsr(FIXED_CTRL, 3n));
  assert.ok(raw.setMsr(GCTRL, 1n << 32n));
  m.selectCpu(1);
  assert.ok(raw.setMsr(EVTSEL0, EN | OS | USR | INT | 0xc0n));
  assert.ok(raw.setMsr(A_PMC0, TOP - 50n));
  assert.ok(raw.setMsr(GCTRL, 1n));
  const steps = [[0, 1000], [1, 30], [0, 500], [1, 30], [0, 7]];
  for (const [i, n] of steps) {
    m.selectCpu(i);
    core.run(n);
  }
  m.selectCpu(0);
  assert.equal(msr(FIXED0), 1507n, "vCPU 0 counted its own 1507 instructions");
  assert.equal(msr(PMC0), 0n, "vCPU 0's PMC0 did not run");
  assert.equal(msr(STATUS), 0n);
  assert.equal(msr(GCTRL), 1n << 32n);
  m.selectCpu(1);
  assert.equal(msr(PMC0), 10n, "vCPU 1: -50 + 60 instructions");
  assert.equal(msr(FIXED0), 0n);
  assert.equal(msr(STATUS), 1n, "vCPU 1: PMC0 overflowed");
  assert.equal(msr(GCTRL), 1n);
  const irr = (a, v) => (a.irr[v >> 5] >>> (v & 31)) & 1;
  assert.equal(irr(m.apics[1], 0x41), 1, "PMI pending in vCPU 1's APIC");
  assert.equal(m.apics[1].lvt[2] & 0x10000, 0x10000, "its LVT performance-counter entry is masked");
  assert.equal(irr(m.apics[0], 0x40), 0, "nothing for vCPU 0");
  assert.equal(m.apics[0].lvt[2] & 0x10000, 0);
});
