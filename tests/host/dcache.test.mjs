// The decoded-block cache (assembly/cpu/dcache.ts) with the real build: code rewritten by
// another vCPU and by the host (a DMA-like write into guest RAM) between slices is seen at
// once; the cache is shared and outside the per-vCPU save area; turning it off gives the
// same results. The wasm-level cases (stores into the running block, alias mappings, INVLPG,
// modes, block limits) are tests/as/dcache.spec.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../build/host.mjs";

const CS = 1, SS = 2, DS = 3, FS = 4, ES = 0, GS = 5;
const RUN_BUDGET = 0;

// Flat 32-bit protected mode, paging off.
function flat32(core) {
  core.setSegment(CS, 0x08, 0, 0xffffffff, 0xc09b);
  for (const s of [ES, SS, DS, FS, GS]) core.setSegment(s, 0x10, 0, 0xffffffff, 0xc093);
  core.setCr(0, 0x11);
  core.rflags = 2n;
}

for (const cached of [true, false]) {
  test(`code rewritten by another vCPU and by the host between slices (cache ${cached ? "on" : "off"})`, async () => {
    const m = await Machine.create({ memBytes: 4 << 20, cpus: 2 });
    const core = m.core;
    core.raw.setDecodeCache(cached);
    // vCPU 0 at 0x2000: L: add eax, 1; jmp L     (imm8 at 0x2002)
    m.ram.set([0x83, 0xc0, 0x01, 0xeb, 0xfb], 0x2000);
    // vCPU 1 at 0x3000: mov byte [0x2002], 5; jmp $
    m.ram.set([0xc6, 0x05, 0x02, 0x20, 0x00, 0x00, 0x05, 0xeb, 0xfe], 0x3000);
    for (const i of [0, 1]) { m.selectCpu(i); flat32(core); core.setReg(0, 0n); }
    m.selectCpu(1); core.rip = 0x3000n;
    m.selectCpu(0); core.rip = 0x2000n;
    assert.equal(core.run(1000), RUN_BUDGET);   // 500 adds of 1: the loop's block is cached
    assert.equal(core.getReg(0), 500n);
    m.selectCpu(1);
    assert.equal(core.run(100), RUN_BUDGET);    // vCPU 1 rewrites vCPU 0's immediate
    assert.equal(m.ram[0x2002], 5);
    m.selectCpu(0);
    assert.equal(core.run(1000), RUN_BUDGET);   // 500 adds of 5
    assert.equal(core.getReg(0), 500n + 2500n);
    m.ram[0x2002] = 7;                          // the host writes guest RAM (like a DMA)
    assert.equal(core.run(1000), RUN_BUDGET);
    assert.equal(core.getReg(0), 3000n + 3500n);
    m.ram.set([0x83, 0xe8, 0x02], 0x2000);      // now: sub eax, 2
    assert.equal(core.run(1000), RUN_BUDGET);
    assert.equal(core.getReg(0), 6500n - 1000n);
  });
}

test("the cache is not in the per-vCPU save area", async () => {
  const m = await Machine.create({ memBytes: 4 << 20, cpus: 2 });
  // docs/smp.md: ~140 KB of registers, TLB and other static state; the cache is ~1.5 MiB.
  assert.ok(m.core.cpuStateBytes > 0 && m.core.cpuStateBytes < 512 * 1024, `${m.core.cpuStateBytes} bytes`);
});
