// SMP: per-vCPU state in one wasm core (cpuSave/cpuLoad from scripts/cpu-state-pass.mjs), INIT
// and SIPI, and the --smp option. The end-to-end guest is tests/e2e/smp.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import { Machine } from "../../build/host.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const RUN_BUDGET = 0;
const CS = 1, SS = 2, DS = 3, FS = 4, ES = 0;
const LSTAR = 0xc0000082, SYSENTER_EIP = 0x176;

// Flat 32-bit protected mode with 32-bit paging at CR3; code at 0x1000 reads [0x400000] into
// EAX, code at 0x1100 runs CPUID leaf 1; both then spin (jmp $) until the budget ends.
function setupRam(ram) {
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  ram.set([0x8b, 0x05, 0x00, 0x00, 0x40, 0x00, 0xeb, 0xfe], 0x1000);    // mov eax,[0x400000]; jmp $
  ram.set([0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0xeb, 0xfe], 0x1100); // mov eax,1; cpuid; jmp $
  for (let i = 0; i < 1024; i++) dv.setUint32(0x11000 + 4 * i, (i << 12) | 3, true);   // identity 0-4M
  // vCPU 0: PD 0x10000, linear 0x400000 -> 0x200000; vCPU 1: PD 0x20000, -> 0x300000
  dv.setUint32(0x10000, 0x11000 | 3, true); dv.setUint32(0x10004, 0x12000 | 3, true); dv.setUint32(0x12000, 0x200000 | 3, true);
  dv.setUint32(0x20000, 0x11000 | 3, true); dv.setUint32(0x20004, 0x22000 | 3, true); dv.setUint32(0x22000, 0x300000 | 3, true);
  dv.setUint32(0x200000, 0xaaaa0000, true);
  dv.setUint32(0x300000, 0xbbbb1111, true);
}
function protectedMode(core, cr3) {
  core.setSegment(CS, 0x08, 0, 0xffffffff, 0xc09b);
  for (const s of [ES, SS, DS, FS, 5]) core.setSegment(s, 0x10, 0, 0xffffffff, 0xc093);
  core.setCr(4, 0);
  core.setCr(3, cr3);
  core.setCr(0, 0x80000011);
  core.rflags = 2n;
}
const runAt = (m, rip) => { m.core.rip = BigInt(rip); return m.core.run(10); };

test("two vCPUs keep their own registers, segments, CRs, MSRs, x87/SSE state and TLB", async () => {
  const m = await Machine.create({ memBytes: 8 << 20, cpus: 2 });
  const core = m.core, raw = core.raw;
  setupRam(m.ram);
  const xmm = () => new Uint8Array(raw.memory.buffer, raw.xmmPtr(), 16);
  const per = [
    { cr3: 0x10000, rbx: 0x1111n, fs: 0x7000n, lstar: 0xffff800000001000n, sysenter: 0x1234n, mxcsr: 0x1f80, xmm0: 0x11, mem: 0xaaaa0000n },
    { cr3: 0x20000, rbx: 0x2222n, fs: 0x9000n, lstar: 0xffff800000002000n, sysenter: 0x5678n, mxcsr: 0x9fc0, xmm0: 0x22, mem: 0xbbbb1111n },
  ];
  for (const i of [0, 1]) {
    m.selectCpu(i);
    const p = per[i];
    protectedMode(core, p.cr3);
    core.setReg(3, p.rbx);
    core.setSegment(FS, 0x10, p.fs, 0xffffffff, 0xc093);
    assert.ok(raw.setMsr(LSTAR, p.lstar));
    assert.ok(raw.setMsr(SYSENTER_EIP, p.sysenter));
    raw.setMxcsr(p.mxcsr);
    xmm().fill(p.xmm0);
  }
  // Two rounds: in the second the TLB of each vCPU already holds linear 0x400000, and only
  // that vCPU's own entry may be used (a shared TLB would give the other mapping).
  for (let round = 0; round < 2; round++) {
    for (const i of [0, 1]) {
      m.selectCpu(i);
      const p = per[i];
      assert.equal(runAt(m, 0x1000), RUN_BUDGET);
      assert.equal(core.getReg(0), p.mem, `vCPU ${i} round ${round}: EAX from its own page tables`);
      assert.equal(core.getReg(3), p.rbx);
      assert.equal(core.getSegment(FS).base, p.fs);
      assert.equal(core.getCr(3), BigInt(p.cr3));
      assert.equal(core.getCr(0), 0x80000011n);
      assert.equal(BigInt.asUintN(64, raw.getMsr(LSTAR)), p.lstar);
      assert.equal(BigInt.asUintN(64, raw.getMsr(SYSENTER_EIP)), p.sysenter);
      assert.equal(raw.getMxcsr() >>> 0, p.mxcsr);
      assert.deepEqual([...xmm()], new Array(16).fill(p.xmm0));
      // CPUID.1:EBX[31:24] is this vCPU's initial APIC ID.
      assert.equal(runAt(m, 0x1100), RUN_BUDGET);
      assert.equal(Number(core.getReg(3) >> 24n), i);
      core.setReg(3, p.rbx);
    }
  }
  // x87 control word: FLDCW on each vCPU, then FNSTCW on each reads back its own.
  const dv = new DataView(m.ram.buffer, m.ram.byteOffset);
  m.ram.set([0xd9, 0x2d, 0x00, 0x13, 0x00, 0x00, 0xeb, 0xfe], 0x1200);   // fldcw [0x1300]; jmp $
  m.ram.set([0xd9, 0x3d, 0x20, 0x13, 0x00, 0x00, 0xeb, 0xfe], 0x1210);   // fnstcw [0x1320]; jmp $
  const cw = [0x027f, 0x0e7f];
  for (const i of [0, 1]) { dv.setUint16(0x1300, cw[i], true); m.selectCpu(i); runAt(m, 0x1200); }
  for (const i of [1, 0]) { m.selectCpu(i); runAt(m, 0x1210); assert.equal(dv.getUint16(0x1320, true), cw[i], `vCPU ${i} FPU CW`); }
  assert.ok(m.sched.switches >= 4);
});

test("the save/load pass covers every mutable global of the core", () => {
  for (const f of ["build/core.wasm", "build/core.debug.wasm"]) {
    let bytes;
    try { bytes = readFileSync(join(root, f)); } catch { continue; }
    const mod = binaryen.readBinary(bytes);
    const mutable = new Set();
    for (let i = 0; i < mod.getNumGlobals(); i++) {
      const g = binaryen.getGlobalInfo(mod.getGlobalByIndex(i));
      if (g.mutable) mutable.add(g.name);
    }
    let saveFn, loadFn;
    for (let i = 0; i < mod.getNumExports(); i++) {
      const e = binaryen.getExportInfo(mod.getExportByIndex(i));
      if (e.name === "cpuSave") saveFn = e.value;
      if (e.name === "cpuLoad") loadFn = e.value;
    }
    assert.ok(saveFn && loadFn, `${f}: cpuSave/cpuLoad exported`);
    const saved = new Set(), loaded = new Set();
    let copies = 0;
    for (const c of binaryen.getExpressionInfo(binaryen.getFunctionInfo(mod.getFunction(saveFn)).body).children) {
      const x = binaryen.getExpressionInfo(c);
      if (x.id === binaryen.StoreId) saved.add(binaryen.getExpressionInfo(x.value).name);
      if (x.id === binaryen.MemoryCopyId) copies++;
    }
    for (const c of binaryen.getExpressionInfo(binaryen.getFunctionInfo(mod.getFunction(loadFn)).body).children) {
      const x = binaryen.getExpressionInfo(c);
      if (x.id === binaryen.GlobalSetId) loaded.add(x.name);
    }
    assert.ok(mutable.size > 100, `${f}: ${mutable.size} mutable globals`);
    assert.deepEqual([...saved].sort(), [...mutable].sort(), `${f}: cpuSave stores every mutable global`);
    assert.deepEqual([...loaded].sort(), [...mutable].sort(), `${f}: cpuLoad sets every mutable global`);
    assert.equal(copies, 1, `${f}: cpuSave copies the static data`);
    mod.dispose();
  }
});

test("APs wait for SIPI; INIT resets to the INIT state (SDM Table 9-1), SIPI starts at V<<8:0", async () => {
  const m = await Machine.create({ memBytes: 4 << 20, cpus: 3 });
  assert.deepEqual(m.sched.vcpus.map((v) => v.state), ["run", "sipi", "sipi"]);
  assert.deepEqual(m.apics.map((a) => a.id), [0, 1, 2]);
  assert.equal(m.apics[0].base & 0x100, 0x100, "BSP flag only on vCPU 0");
  assert.equal(m.apics[1].base & 0x100, 0);
  const core = m.core, raw = core.raw;
  // Give vCPU 1 a running state, MSRs and SSE state that INIT must keep.
  m.selectCpu(1);
  protectedMode(core, 0x10000);
  core.setReg(0, 0x1234n);
  raw.setMsr(LSTAR, 0xffff800000004000n);
  raw.setMxcsr(0x9f80);
  m.sched.vcpus[1].state = "run";
  m.selectCpu(0);
  const icr = (dest, lo) => { m.apics[0].mmioWrite(0x310, 4, dest << 24); m.apics[0].mmioWrite(0x300, 4, lo); };
  icr(1, 0x4500);                                  // INIT, assert, to APIC ID 1
  assert.ok(m.sched.hasEvents);
  m.sched.processEvents();
  assert.equal(m.sched.vcpus[1].state, "sipi");
  m.selectCpu(1);
  assert.equal(core.getReg(0), 0n);
  assert.equal(core.getReg(2), 0x600n, "EDX = family/model/stepping");
  assert.equal(core.getCr(0), 0x10n, "CR0: PG/PE cleared, CD/NW as before (clear)");
  assert.equal(core.getCr(3), 0n);
  assert.equal(core.rip, 0xfff0n);
  assert.equal(core.getSegment(CS).base, 0xffff0000n);
  assert.equal(BigInt.asUintN(64, raw.getMsr(LSTAR)), 0xffff800000004000n, "MSRs survive INIT");
  assert.equal(raw.getMxcsr() >>> 0, 0x9f80, "MXCSR survives INIT");
  m.selectCpu(0);
  icr(1, 0x4612);                                  // SIPI vector 0x12
  icr(2, 0x4634);                                  // SIPI vector 0x34 to vCPU 2
  m.sched.processEvents();
  assert.deepEqual(m.sched.vcpus.map((v) => v.state), ["run", "run", "run"]);
  for (const [i, v] of [[1, 0x12], [2, 0x34]]) {
    m.selectCpu(i);
    const cs = core.getSegment(CS);
    assert.equal(cs.sel, v << 8);
    assert.equal(cs.base, BigInt(v << 12));
    assert.equal(core.rip, 0n);
  }
  // A second SIPI to a running vCPU is ignored.
  m.selectCpu(1); core.rip = 0x55n; m.selectCpu(0);
  icr(1, 0x4677);
  m.sched.processEvents();
  m.selectCpu(1);
  assert.equal(core.rip, 0x55n);
  assert.equal(core.getSegment(CS).sel, 0x1200);
});

test("cpus is checked; fw_cfg and the MADT report it", async () => {
  await assert.rejects(Machine.create({ memBytes: 4 << 20, cpus: 0 }), /cpus must be 1\.\.16/);
  await assert.rejects(Machine.create({ memBytes: 4 << 20, cpus: 17 }), /cpus must be 1\.\.16/);
  const m = await Machine.create({ memBytes: 4 << 20, cpus: 5 });
  m.io.write(0x510, 2, 0x05);                      // FW_CFG_NB_CPUS
  assert.equal(m.io.read(0x511, 1) | (m.io.read(0x511, 1) << 8), 5);
  // MADT: one processor local APIC entry (type 0, length 8) per vCPU, APIC ID = index.
  const ram = m.ram;
  const s = new TextDecoder("latin1").decode(ram.subarray(0xe0000, 0x100000));
  let at = s.indexOf("APIC");
  assert.ok(at >= 0, "MADT found");
  at += 0xe0000;
  const len = ram[at + 4] | (ram[at + 5] << 8);
  const ids = [];
  for (let o = at + 44; o < at + len; o += ram[o + 1]) if (ram[o] === 0) ids.push(ram[o + 3]);
  assert.deepEqual(ids, [0, 1, 2, 3, 4]);
});

test("nestvm --smp: range check with a one-line error, and a 4-CPU guest", () => {
  const cli = join(root, "build/nestvm.mjs");
  for (const bad of ["0", "17", "two"]) {
    const r = spawnSync(process.execPath, [cli, "run", join(root, "guests/bin/hello.elf"), "--smp", bad], { encoding: "utf8" });
    assert.equal(r.status, 64);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /invalid --smp/);
  }
  const r = spawnSync(process.execPath, [cli, "run", join(root, "guests/bin/smp.elf"), "--smp", "4", "--max-seconds", "60"], { encoding: "utf8" });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /# 11 tests: 11 ok, 0 not ok/);
});

test("scheduler: an AP halted with IF=0 does not stop the machine; all halted with IF=0 is 'halt'", async () => {
  // BSP (real mode at 0x7c00): count ECX down from 100000, then write 0 to isa-debug-exit.
  // AP (SIPI vector 0x08 -> 0800:0000): cli; hlt.
  const bsp = [0x66, 0xb9, 0xa0, 0x86, 0x01, 0x00,   // mov ecx, 100000
    0x66, 0x49, 0x75, 0xfc,                           // 1: dec ecx; jnz 1b
    0x31, 0xc0, 0xe6, 0xf4];                           // xor ax,ax; out 0xf4, al
  const m = await Machine.create({ memBytes: 4 << 20, cpus: 2, tsc: "icount" });
  m.loadFlat(new Uint8Array(bsp), { mode: "real" });
  m.ram.set([0xfa, 0xf4], 0x8000);
  m.sched.sipi(1, 0x08);
  const r = await m.run({ maxSeconds: 20 });
  assert.equal(r.reason, "exit", r.message);
  assert.equal(m.sched.vcpus[1].instructions, 2n, "the AP ran cli; hlt and then slept");
  assert.equal(m.sched.vcpus[1].halted, true);
  assert.ok(m.sched.vcpus[0].instructions > 200000n);
  assert.equal(r.instructions, m.sched.vcpus[0].instructions + m.sched.vcpus[1].instructions);

  const m2 = await Machine.create({ memBytes: 4 << 20, cpus: 3 });
  m2.loadFlat(new Uint8Array([0xfa, 0xf4]), { mode: "real" });   // BSP: cli; hlt
  m2.ram.set([0xfa, 0xf4], 0x8000);
  m2.sched.sipi(2, 0x08);                                          // vCPU 1 stays in wait-for-SIPI
  const r2 = await m2.run({ maxSeconds: 20 });
  assert.equal(r2.reason, "halt");
  assert.deepEqual(m2.sched.vcpus.map((v) => v.state), ["run", "sipi", "run"]);
});
