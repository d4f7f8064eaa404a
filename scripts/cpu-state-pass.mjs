// Build post-pass: gives the compiled core per-vCPU state switching (docs/smp.md).
//
// The architectural state of the one CPU the core emulates lives in two places: mutable wasm
// globals and the static data of linear memory [0, __heap_base) (registers, segments, TLB,
// FPU/SSE, VMCS cache, ...). This pass reads the finished wasm and adds three exports that
// cover ALL of both, so no hand-written list can go stale when someone adds state:
//   cpuStateBytes() -> u32   size of one save area
//   cpuSave(ptr)             every mutable global, then a copy of [0, staticEnd())
//   cpuLoad(ptr)             the reverse
// Every mutable global gets an 8-byte slot (i32/f32 use the low half); the static copy starts at
// the first 64-byte boundary after the slots. It runs on the optimized module, so globals that the
// optimizer turned into constants are not pinned as mutable (the hot path is unchanged).
import binaryen from "binaryen";
import { readFileSync, writeFileSync } from "node:fs";

export function addCpuState(bytes) {
  const m = binaryen.readBinary(bytes);
  m.setFeatures(binaryen.Features.All);
  const globals = [];
  for (let i = 0; i < m.getNumGlobals(); i++) {
    const g = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
    if (g.mutable && !g.module) globals.push(g);
    else if (g.mutable) throw new Error(`cpu-state-pass: imported mutable global ${g.name} cannot be saved`);
  }
  for (const g of globals) {
    if (![binaryen.i32, binaryen.i64, binaryen.f32, binaryen.f64].includes(g.type)) {
      throw new Error(`cpu-state-pass: global ${g.name} has a type this pass does not save`);
    }
  }
  // staticEnd(): the exported function assembly/cpu/vcpu.ts provides (__heap_base).
  let staticEndFn;
  for (let i = 0; i < m.getNumExports(); i++) {
    const e = binaryen.getExportInfo(m.getExportByIndex(i));
    if (e.name === "staticEnd" && e.kind === binaryen.ExternalFunction) staticEndFn = e.value;
  }
  if (!staticEndFn) throw new Error("cpu-state-pass: the core does not export staticEnd()");
  const slots = globals.length * 8;
  const dataOff = (slots + 63) & ~63;
  // The static length is a constant in practice; read it from staticEnd's body when it is one.
  const body = binaryen.getFunctionInfo(m.getFunction(staticEndFn)).body;
  let info = binaryen.getExpressionInfo(body);
  for (;;) {   // unwrap (return x) / (block x) as the debug build emits them
    if (info.id === binaryen.ReturnId && info.value) info = binaryen.getExpressionInfo(info.value);
    else if (info.id === binaryen.BlockId && info.children.length === 1) info = binaryen.getExpressionInfo(info.children[0]);
    else break;
  }
  let staticLen;
  if (info.id === binaryen.ConstId) staticLen = info.value;
  else if (info.id === binaryen.GlobalGetId) {
    const gi = binaryen.getGlobalInfo(m.getGlobal(info.name));
    const ii = binaryen.getExpressionInfo(gi.init);
    if (gi.mutable || ii.id !== binaryen.ConstId) throw new Error("cpu-state-pass: staticEnd() is not constant");
    staticLen = ii.value;
  } else throw new Error("cpu-state-pass: staticEnd() is not constant");
  staticLen = (staticLen + 7) & ~7;

  const ptr = () => m.local.get(0, binaryen.i32);
  const save = [], load = [];
  globals.forEach((g, k) => {
    const off = k * 8;
    const get = m.global.get(g.name, g.type);
    switch (g.type) {
      case binaryen.i32:
        save.push(m.i32.store(off, 4, ptr(), get));
        load.push(m.global.set(g.name, m.i32.load(off, 4, ptr())));
        break;
      case binaryen.i64:
        save.push(m.i64.store(off, 8, ptr(), get));
        load.push(m.global.set(g.name, m.i64.load(off, 8, ptr())));
        break;
      case binaryen.f32:
        save.push(m.f32.store(off, 4, ptr(), get));
        load.push(m.global.set(g.name, m.f32.load(off, 4, ptr())));
        break;
      case binaryen.f64:
        save.push(m.f64.store(off, 8, ptr(), get));
        load.push(m.global.set(g.name, m.f64.load(off, 8, ptr())));
        break;
    }
  });
  const dataPtr = () => m.i32.add(ptr(), m.i32.const(dataOff));
  save.push(m.memory.copy(dataPtr(), m.i32.const(0), m.i32.const(staticLen)));
  load.unshift(m.memory.copy(m.i32.const(0), dataPtr(), m.i32.const(staticLen)));
  const total = (dataOff + staticLen + 63) & ~63;
  m.addFunction("cpu-state/cpuSave", binaryen.i32, binaryen.none, [], m.block(null, save));
  m.addFunction("cpu-state/cpuLoad", binaryen.i32, binaryen.none, [], m.block(null, load));
  m.addFunction("cpu-state/cpuStateBytes", binaryen.none, binaryen.i32, [], m.i32.const(total));
  m.addFunctionExport("cpu-state/cpuSave", "cpuSave");
  m.addFunctionExport("cpu-state/cpuLoad", "cpuLoad");
  m.addFunctionExport("cpu-state/cpuStateBytes", "cpuStateBytes");
  if (!m.validate()) throw new Error("cpu-state-pass: the module does not validate");
  const out = m.emitBinary();
  m.dispose();
  return { bytes: out, globals: globals.length, staticLen, total };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  for (const f of process.argv.slice(2)) {
    const r = addCpuState(readFileSync(f));
    writeFileSync(f, r.bytes);
    console.log(`${f}: ${r.globals} globals, ${r.staticLen} static bytes, ${r.total} bytes per vCPU`);
  }
}
