#!/usr/bin/env node
// Differential test: random instruction sequences run natively (tests/diff/native.c) and in
// nestvm (build/core.wasm), then every GPR, RIP, defined flag, XMM register, MXCSR, the data
// buffer and exception vectors are compared.
//
//   node tests/diff/run.mjs --seed S --count N        run N cases of seed S
//   node tests/diff/run.mjs --seed S --case K         replay case K (prints everything)
// Options: --cpl 0|3 (default: 3 for odd seeds, 0 for even), --wasm PATH (default build/core.wasm), --show N (detailed
// mismatches printed, default 10), --classes (group failures by first failing instruction).
import { spawnSync, execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { Worker } from "node:worker_threads";
import { genCase, formatUnits, CODE, DATA, DATA_SIZE, STATUS } from "./gen.mjs";
import { ensureNative, runNative, initialData, nativeSelfTest } from "./native.mjs";
import { Vm, endMarker } from "./nestvm.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

// ---------------------------------------------------------------- arguments
const args = process.argv.slice(2);
function opt(name, def) {
  const i = args.indexOf("--" + name);
  if (i < 0) return def;
  const v = args[i + 1];
  return v === undefined || v.startsWith("--") ? true : v;
}
const seed = Number(opt("seed", Math.floor(Date.now() / 1000)));
const single = opt("case", null);
const count = single !== null ? 1 : Number(opt("count", 1000));
const first = single !== null ? Number(single) : Number(opt("first", 0));
// CPL of the nestvm side: odd seeds run at CPL 3, even seeds at CPL 0, unless given.
const cpl = Number(opt("cpl", seed % 2 ? 3 : 0));
const wasmPath = resolve(root, opt("wasm", "build/core.wasm"));
const show = Number(opt("show", single !== null ? 1 : 10));
const classes = opt("classes", false) !== false || single !== null;
const noMask = opt("no-mask", false) !== false;   // diagnostic: compare undefined flags too
console.log(`seed ${seed} (cases ${first}..${first + count - 1}, cpl ${cpl})`);

// ---------------------------------------------------------------- comparison
const REG = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const hex = (v, n = 16) => "0x" + BigInt(v).toString(16).padStart(n, "0");
const STOPS = ["budget exhausted (hang?)", "hlt", "shutdown (triple fault / exception not delivered)", "host stop"];

function compare(c, n, v) {
  const d = [];
  if (v.trap) return [{ what: "wasm trap", text: `nestvm trapped: ${v.trap}` }];
  if (v.status < 0) {
    return [{ what: "no end", text: `nestvm stopped: ${STOPS[v.stop] ?? v.stop} at rip ${hex(v.rip)} after ${v.icount} instructions; native ${n.status ? "raised #" + n.vector + " at " + hex(n.rip) : "completed"}` }];
  }
  if (n.status !== v.status || (n.status && (n.vector !== v.vector || n.rip !== v.rip))) {
    const s = (x) => x.status ? `exception ${x.vector} at ${hex(x.rip)}` : "completed";
    return [{ what: "outcome", text: `native ${s(n)}, nestvm ${s(v)}` }];
  }
  if (n.rip !== v.rip) d.push({ what: "rip", text: `rip: native ${hex(n.rip)} nestvm ${hex(v.rip)}` });
  for (let i = 0; i < 16; i++) {
    if (n.gpr[i] !== v.gpr[i]) d.push({ what: REG[i], text: `${REG[i]}: native ${hex(n.gpr[i])} nestvm ${hex(v.gpr[i])}` });
  }
  let mask = BigInt(noMask ? STATUS | 0x400 : c.flagMask);
  if (n.status) { // at an exception, flags as of the faulting instruction: mask every flag the case may leave undefined
    let und = 0;
    for (const u of c.units) if (u.und) und |= u.und;
    mask &= BigInt(~und & (STATUS | 0x400));
  }
  if ((n.rflags & mask) !== (v.rflags & mask))
    d.push({ what: "rflags", text: `rflags (mask ${hex(mask, 3)}): native ${hex(n.rflags & mask, 4)} nestvm ${hex(v.rflags & mask, 4)}` + flagNames(n.rflags & mask, v.rflags & mask) });
  for (let i = 0; i < 16; i++) {
    const a = n.xmm.subarray(i * 16, i * 16 + 16), b = v.xmm.subarray(i * 16, i * 16 + 16);
    if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0)
      d.push({ what: "xmm" + i, text: `xmm${i}: native ${xmmHex(a)} nestvm ${xmmHex(b)}` });
  }
  if (!v.noMx && n.mxcsr !== v.mxcsr) d.push({ what: "mxcsr", text: `mxcsr: native ${hex(n.mxcsr, 8)} nestvm ${hex(v.mxcsr, 8)}` });
  const offs = new Set([...n.diffs.keys(), ...v.diffs.keys()]);
  const init = v.init || initialData(c);
  const memd = [];
  for (const o of [...offs].sort((a, b) => a - b)) {
    const nv = n.diffs.has(o) ? n.diffs.get(o) : init[o / 4], vv = v.diffs.has(o) ? v.diffs.get(o) : init[o / 4];
    if (nv !== vv) memd.push(`  [${hex(DATA + o, 8)}] native ${hex(nv, 8)} nestvm ${hex(vv, 8)} (initial ${hex(init[o / 4], 8)})`);
  }
  if (memd.length) d.push({ what: "memory", text: "memory:\n" + memd.slice(0, 16).join("\n") + (memd.length > 16 ? `\n  ... ${memd.length - 16} more` : "") });
  if (n.status && n.vector === 14 && BigInt(n.faultAddr) !== BigInt(v.cr2))
    d.push({ what: "cr2", text: `#PF address: native ${hex(n.faultAddr)} nestvm ${hex(v.cr2)}` });
  if (n.status && n.vector === 14 && cpl === 3 && (n.err & 7) !== (v.err & 7))
    d.push({ what: "errcode", text: `#PF error code (P/W/U): native ${hex(n.err & 7, 1)} nestvm ${hex(v.err & 7, 1)}` });
  if (n.status && n.vector === 13 && n.err !== v.err)
    d.push({ what: "errcode", text: `#GP error code: native ${hex(n.err, 4)} nestvm ${hex(v.err, 4)}` });
  return d;
}
function xmmHex(a) { let s = ""; for (let i = 15; i >= 0; i--) { s += a[i].toString(16).padStart(2, "0"); if (i === 8) s += "_"; } return s; }
function flagNames(a, b) {
  const names = [[0x1, "CF"], [0x4, "PF"], [0x10, "AF"], [0x40, "ZF"], [0x80, "SF"], [0x800, "OF"], [0x400, "DF"]];
  const x = a ^ b;
  return " (differ: " + names.filter(([m]) => x & BigInt(m)).map(([, n]) => n).join(" ") + ")";
}

function disasm(code) {
  const dir = mkdtempSync(join(tmpdir(), "diff-"));
  try {
    const f = join(dir, "case.bin");
    writeFileSync(f, code);
    const r = spawnSync("objdump", ["-D", "-b", "binary", "-mi386:x86-64", `--adjust-vma=${hex(CODE, 8)}`, f], { encoding: "utf8" });
    if (r.status !== 0) return "(objdump unavailable)";
    return r.stdout.split("\n").filter((l) => /^\s+[0-9a-f]+:/.test(l)).join("\n");
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

// Truncate a case after unit k (a unit boundary outside jump bodies).
function truncated(c, k) {
  const units = c.units.slice(0, k + 1);
  const code = [];
  for (const u of units) code.push(...u.bytes);
  const und = units[k].und || 0;
  return { ...c, code: Uint8Array.from(code), units, flagMask: (STATUS & ~und) | 0x400 };
}

// ---------------------------------------------------------------- main
ensureNative();
nativeSelfTest();
let vm;
try { vm = new Vm(wasmPath, cpl); } catch (err) {
  console.error(`cannot load ${wasmPath}: ${err.message} (build it with node scripts/build.mjs)`);
  console.log(`0 passed, ${count} failed`);
  process.exit(1);
}
const endBytes = endMarker(vm);
if (!vm.hasMx) console.log("note: core exports no getMxcsr/setMxcsr: using LDMXCSR/STMXCSR in guest code instead");
// Watchdog: a core stuck inside one run() call cannot be interrupted from this thread, so a
// worker watches a progress counter and kills the process with a replay hint.
const progress = new Int32Array(new SharedArrayBuffer(8));
new Worker(`
  const { workerData } = require("node:worker_threads");
  const p = new Int32Array(workerData.sab);
  let last = -1, since = Date.now();
  setInterval(() => {
    if (Atomics.load(p, 1) !== last) { last = Atomics.load(p, 1); since = Date.now(); return; }
    if (Date.now() - since > workerData.limit) {
      require("node:fs").writeSync(2, "\nnestvm did not return from run() on case " + Atomics.load(p, 0) +
        ": replay with node tests/diff/run.mjs --seed " + workerData.seed + " --case " + Atomics.load(p, 0) + "\n");
      process.kill(process.pid, "SIGKILL");
    }
  }, 1000);
`, { eval: true, workerData: { sab: progress.buffer, seed, limit: Number(process.env.DIFF_WATCHDOG_MS || 120000) } }).unref();
let passed = 0, failed = 0, shown = 0, icount = 0, nativeExc = 0;
let tGen = 0, tNat = 0, tVm = 0;
const failures = [];
const sigCount = new Map();
function signature(c, n, v, d) {
  if (d[0].what === "outcome" || d[0].what === "no end" || d[0].what === "wasm trap") {
    const rip = v.status === 1 ? v.rip : n.rip;
    const u = c.units.find((x) => BigInt(CODE + x.at) === rip);
    return `${d[0].what} ${n.status}/${n.vector} ${v.status}/${v.vector} ${u ? u.tag : ""}`;
  }
  return d.map((x) => REG.includes(x.what) ? "gpr" : x.what.replace(/\d+$/, "")).join(",");
}
// Chunks keep memory flat: generate, run natively, run in nestvm, compare, drop.
const CHUNK = 5000;
for (let s0 = 0; s0 < count; s0 += CHUNK) {
  const n0 = Math.min(CHUNK, count - s0);
  const ta = Date.now();
  const cases = [];
  for (let i = 0; i < n0; i++) cases.push(genCase(seed, first + s0 + i));
  const tb = Date.now();
  const natives = runNative(cases);
  Atomics.add(progress, 1, 1);
  const tc = Date.now();
  for (let i = 0; i < n0; i++) {
    const c = cases[i], n = natives[i];
    if (n.status) nativeExc++;
    Atomics.store(progress, 0, c.index); Atomics.add(progress, 1, 1);
    const v = vm.run(c, endBytes);
    if (v.trap) vm = new Vm(wasmPath, cpl);   // a trapped core may hold half-updated state
    icount += v.icount;
    const d = compare(c, n, v);
    if (single !== null) {
      console.log(`case ${c.index}: ${c.code.length} bytes, native ${n.status ? "exception " + n.vector + " at " + hex(n.rip) : "completed"}, nestvm ${v.icount} instructions`);
      console.log(formatUnits(c));
      console.log(disasm(c.code));
      console.log("initial: " + c.gpr.map((x, j) => `${REG[j]}=${hex(x)}`).join(" "));
      console.log(`initial: rflags=${hex(c.rflags, 4)} mxcsr=${hex(c.mxcsr, 8)} flagMask=${hex(c.flagMask, 3)}`);
      for (let j = 0; j < 16; j++) console.log(`initial: xmm${j}=${xmmHex(c.xmm.subarray(j * 16, j * 16 + 16))}`);
      console.log("native:  " + n.gpr.map((x, j) => `${REG[j]}=${hex(x)}`).join(" ") + ` rflags=${hex(n.rflags, 4)} mxcsr=${hex(n.mxcsr, 8)}`);
      if (n.status) console.log(`native:  exception ${n.vector} error code ${hex(n.err, 4)} address ${hex(n.faultAddr)}`);
    }
    if (d.length === 0) { passed++; continue; }
    failed++;
    // Keep a varied sample for --classes: at most 20 cases per kind of difference.
    const sg = signature(c, n, v, d);
    const seen = sigCount.get(sg) || 0;
    if (seen < 20 && failures.length < 600) failures.push({ c, n, v, d });
    sigCount.set(sg, seen + 1);
    if (shown < show) {
      shown++;
      console.log(`\nMISMATCH case ${c.index} (seed ${seed}): ${d.map((x) => x.what).join(", ")}`);
      console.log("bytes: " + Array.from(c.code, (b) => b.toString(16).padStart(2, "0")).join(" "));
      console.log(disasm(c.code));
      for (const x of d) console.log("  " + x.text);
      console.log(`replay: node tests/diff/run.mjs --seed ${seed} --case ${c.index}`);
    }
  }
  tGen += tb - ta; tNat += tc - tb; tVm += Date.now() - tc;
}

// Classes: for each sampled failure, find the shortest failing prefix; its last
// instruction is the culprit.
if (failures.length && classes) {
  const sample = failures;
  const jobs = [];
  for (const f of sample) {
    for (let k = 0; k < f.c.units.length; k++) {
      const u = f.c.units[k];
      if (u.main && !u.body) jobs.push({ f, k, t: truncated(f.c, k) });
    }
  }
  const nres = runNative(jobs.map((j) => j.t));
  const byCase = new Map();
  jobs.forEach((j, i) => {
    if (byCase.get(j.f) !== undefined) return;
    Atomics.store(progress, 0, j.f.c.index); Atomics.add(progress, 1, 1);
    const v = vm.run(j.t, endBytes);
    if (v.trap) vm = new Vm(wasmPath, cpl);
    const d = compare(j.t, nres[i], v);
    if (d.length) byCase.set(j.f, { k: j.k, d, t: j.t, n: nres[i], v });
  });
  const cls = new Map();
  const hx = (u) => u.bytes.map((x) => x.toString(16).padStart(2, "0")).join(" ");
  for (const f of sample) {
    const b = byCase.get(f);
    let culprit = null;
    if (b) {
      const us = b.t.units;
      // An exception points at its instruction; otherwise the last unit of the prefix (with
      // the whole jumped-over body when the prefix ends with one).
      const excRip = b.d[0].what === "outcome" ? (b.v.status === 1 ? b.v.rip : b.n.rip) : null;
      const at = excRip !== null ? us.findIndex((u) => BigInt(CODE + u.at) === excRip) : -1;
      if (at >= 0) culprit = { tag: us[at].tag, bytes: hx(us[at]) };
      else {
        let j = b.k;
        while (j > 0 && us[j - 1].body) j--;
        const body = us.slice(j, b.k + 1).filter((u) => u.tag !== "setup");
        culprit = { tag: body.map((u) => u.tag).join("/"), bytes: body.map(hx).join(" | ") };
      }
    }
    const key = b ? `${culprit.tag} [${culprit.bytes}]: ${b.d.map((x) => x.what).join(",")}` : `(whole case only): ${f.d.map((x) => x.what).join(",")}`;
    const kind = (w) => REG.includes(w) ? "gpr" : w.replace(/\d+$/, "");
    const short = b ? `${culprit.tag}: ${[...new Set(b.d.map((x) => kind(x.what)))].join(",")}` : key;
    if (!cls.has(short)) cls.set(short, { n: 0, ex: f, key, detail: b ? b.d.map((x) => x.text).join(" | ") : "" });
    cls.get(short).n++;
  }
  console.log(`\nkinds of difference over all ${failed} failing cases (whole case):`);
  for (const [k, n] of [...sigCount].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${String(n).padStart(6)}  ${k}`);
  console.log(`\nmismatch classes (first failing instruction, over a sample of ${sample.length} failing cases):`);
  for (const [k, x] of [...cls].sort((a, b) => b[1].n - a[1].n)) {
    console.log(`${String(x.n).padStart(6)}  ${k}\n        e.g. ${x.key}\n        ${x.detail.slice(0, 300)}\n        replay: node tests/diff/run.mjs --seed ${seed} --case ${x.ex.c.index}`);
  }
}
console.log(`\ngenerate ${tGen} ms, native ${tNat} ms, nestvm+compare ${tVm} ms; ${icount} guest instructions; ${nativeExc} cases end in an exception natively`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
