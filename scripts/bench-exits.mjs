// npm run bench:exits (also `nestvm bench exits`): VM-exit round-trip latency.
//
// guests/bin/l2-bench.elf times round trips with RDTSC (lfence; rdtsc; lfence around one
// instruction, 64 each) for CPUID, VMCALL, IN from COM1's LSR (0x3fd), RDMSR(0x10) and an EPT
// violation (first touch of a never-touched page at 5 MiB + i*4 KiB) and prints min and mean
// guest TSC cycles. It runs:
//   nestvm L2      as an L2 under the minivisor (L1) in nestvm (release core, build/host.mjs
//                  runImage with modules, TSC in realtime mode: 2 cycles per host ns), so each
//                  round trip is L2 -> nestvm's VM exit -> L1 handler -> VMRESUME (emulated by
//                  nestvm) -> L2. The minivisor prints the mean L1 handler TSC cycles per exit
//                  reason (rdtsc right after vm_enter returns .. rdtsc after handle_exit): that is
//                  the L1 share. The rest of the round trip is L0 (nestvm's exit and entry path,
//                  including emulating VMRESUME), L1's entry stub (vmentry.S: GPR save/restore,
//                  VMRESUME) and the L2 instruction plus the RDTSC pair.
//   nestvm 1-level l2-bench as a plain multiboot guest in nestvm (no VMX: nestvm emulates the
//                  instruction directly; VMCALL is skipped there).
//   QEMU KVM       l2-bench as a plain guest under qemu-system-x86_64 -accel kvm: one level of
//                  hardware-assisted exits (here /dev/kvm is a paravirtual KVM, PVM). Cycles
//                  are the host TSC (converted with the host's TSC frequency).
//   QEMU TCG       the same in software (reference only: TCG's CPUID/IN/RDMSR are helper calls,
//                  not exits). Used as the one-level column if KVM cannot run the payload.
//   nestvm icount  the L2 run once more with the TSC in icount mode (1 instruction = 1 ns = 2
//                  cycles): the same figures are then instructions retired per round trip, total
//                  and in L1's handler (the rest: L1's entry stub, the L2 instruction, RDTSC pair).
// nestvm runs are repeated in one process (a warm-up run first, so the wasm is tiered up);
// per reason the median of the per-run means and the minimum of the mins are reported.
// Writes build/bench-exits.json.
//   --smoke        one warm-up + one measured nestvm run, one QEMU run each (CI: seconds)
//   --reps N       measured nestvm runs (default 9) / QEMU runs (default 3)
//   --no-qemu      nestvm columns only
//   --out FILE     write the JSON there instead of build/bench-exits.json
//   --tsc-mhz F    host TSC frequency for the QEMU columns (default: /proc/cpuinfo or dmesg)
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";
import { ROOT, imagePath, runQemu, qemuAvailable, kvmAvailable } from "../tests/qemu/qemu.mjs";

const argv = process.argv.slice(2);
const smoke = argv.includes("--smoke");
const noQemu = argv.includes("--no-qemu");
const argOf = (k) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
const reps = Number(argOf("--reps") ?? (smoke ? 1 : 9));
const qreps = Number(argOf("--reps") ?? (smoke ? 1 : 3));
const NESTVM_TSC_PER_NS = 2.0; // core TSC in realtime mode: 2 GHz nominal (host/machine.ts tscPerNs)

// Exit reasons: l2-bench's name -> the minivisor's statistics name.
const REASONS = [
  { key: "cpuid", l1: "cpuid", what: "CPUID leaf 0" },
  { key: "vmcall", l1: "vmcall", what: "VMCALL ping (L1 hypercall)" },
  // The minivisor's 'io' statistics also count the L2's COM1 output (one exit per character,
  // ~700, and L1 prints each line): their mean is not the LSR read's, so no split for io.
  { key: "io-in-0x3fd", l1: "io", mixed: true, what: "IN al, 0x3fd (COM1 LSR, emulated by L1)" },
  { key: "rdmsr-tsc", l1: "rdmsr", what: "RDMSR 0x10 (in L1's MSR bitmap)" },
  { key: "ept-violation", l1: "ept-violation", what: "first touch of a lazily backed page" },
];

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n === 0 ? null : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const minOf = (xs) => (xs.length ? Math.min(...xs) : null);

// "[l2-bench] info: cpuid min 15262 mean 34304 cycles (64 round trips)" (prefix only under L1)
function parseBench(serial) {
  const out = {};
  for (const m of serial.matchAll(/info: (\S+) min (\d+) mean (\d+) cycles \((\d+) round trips\)/g))
    out[m[1]] = { min: Number(m[2]), mean: Number(m[3]), n: Number(m[4]) };
  return out;
}
// "info:              cpuid       65 exits    19379 cycles/exit"
function parseL1(serial) {
  const out = {};
  for (const m of serial.matchAll(/info:\s+(\S+)\s+(\d+) exits\s+(\d+) cycles\/exit/g)) out[m[1]] = { exits: Number(m[2]), cycles: Number(m[3]) };
  const e = serial.match(/info:\s+(\d+) VM entries, (\d+) exits/);
  if (e) out._entries = Number(e[1]);
  return out;
}

// Host TSC frequency (MHz) for converting the QEMU/KVM guest's TSC cycles to ns.
function hostTscMhz() {
  const forced = argOf("--tsc-mhz");
  if (forced) return { mhz: Number(forced), source: "--tsc-mhz" };
  const d = spawnSync("dmesg", [], { encoding: "utf8" });
  const m = d.status === 0 && d.stdout.match(/tsc: (?:Refined TSC clocksource calibration: |Detected )([\d.]+) MHz/g);
  if (m && m.length) return { mhz: Number(m[m.length - 1].match(/([\d.]+) MHz/)[1]), source: "dmesg tsc" };
  try {
    const c = readFileSync("/proc/cpuinfo", "utf8").match(/cpu MHz\s*:\s*([\d.]+)/);
    if (c) return { mhz: Number(c[1]), source: "/proc/cpuinfo cpu MHz" };
  } catch { /* not Linux */ }
  return { mhz: null, source: "unknown" };
}

const result = { date: new Date().toISOString(), smoke, reps, machine: {}, reasons: {}, columns: {}, notes: [] };
try {
  const cpu = readFileSync("/proc/cpuinfo", "utf8");
  result.machine = { cpu: (cpu.match(/model name\s*:\s*(.*)/) || [])[1] ?? null, cpus: (cpu.match(/^processor\s*:/gm) || []).length,
    loadavg: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "), node: process.version };
} catch { result.machine = { node: process.version }; }

let failed = false;

// ---- nestvm: L2 under the minivisor, and one level ----
const hostPath = join(ROOT, "build", "host.mjs");
if (!existsSync(hostPath)) { result.notes.push("nestvm: build/host.mjs not built (npm run build)"); failed = true; }
else {
  const { runImage } = await import(pathToFileURL(hostPath).href);
  const bin = (n) => readFileSync(imagePath(n));
  const runL2 = async () => {
    const t0 = performance.now();
    const r = await runImage(bin("minivisor"), { name: "minivisor.elf", memBytes: 256 << 20, maxSeconds: 60, tsc: "realtime",
      modules: [{ data: bin("l2-bench"), cmdline: "l2-bench.elf" }] });
    return { r, ms: performance.now() - t0 };
  };
  const runL2icount = async () => {
    const r = await runImage(bin("minivisor"), { name: "minivisor.elf", memBytes: 256 << 20, maxSeconds: 60, tsc: "icount",
      modules: [{ data: bin("l2-bench"), cmdline: "l2-bench.elf" }] });
    return r;
  };
  const runL1only = async () => {
    const t0 = performance.now();
    const r = await runImage(bin("l2-bench"), { name: "l2-bench.elf", memBytes: 128 << 20, maxSeconds: 60, tsc: "realtime" });
    return { r, ms: performance.now() - t0 };
  };
  await runL2(); await runL1only(); // warm-up: wasm compile and tier-up
  const l2runs = [], onelvl = [];
  for (let i = 0; i < reps; i++) {
    const a = await runL2();
    if (a.r.exitCode !== 1) { result.notes.push(`nestvm L2: minivisor exited ${a.r.exitCode} (${a.r.reason}); serial:\n${a.r.serial}`); failed = true; break; }
    l2runs.push({ bench: parseBench(a.r.serial), l1: parseL1(a.r.serial), ms: a.ms, instructions: Number(a.r.instructions ?? 0) });
    const b = await runL1only();
    if (b.r.exitCode !== 1) { result.notes.push(`nestvm 1-level: l2-bench exited ${b.r.exitCode} (${b.r.reason})`); failed = true; break; }
    onelvl.push({ bench: parseBench(b.r.serial), ms: b.ms });
  }
  const ic = await runL2icount();
  const icBench = parseBench(ic.serial), icL1 = parseL1(ic.serial);
  if (ic.exitCode !== 1) { result.notes.push(`nestvm L2 (icount): minivisor exited ${ic.exitCode} (${ic.reason})`); failed = true; }
  if (l2runs.length) {
    result.columns.nestvmL2 = { runs: l2runs.length, wallMsMedian: median(l2runs.map((x) => x.ms)), instructionsPerRun: l2runs[0].instructions,
      l1Entries: l2runs[0].l1._entries ?? null };
    result.columns.nestvm1 = { runs: onelvl.length, wallMsMedian: median(onelvl.map((x) => x.ms)) };
  }
  for (const R of REASONS) {
    const means = l2runs.map((x) => x.bench[R.key]?.mean).filter((v) => v !== undefined);
    const mins = l2runs.map((x) => x.bench[R.key]?.min).filter((v) => v !== undefined);
    const l1c = l2runs.map((x) => x.l1[R.l1]?.cycles).filter((v) => v !== undefined);
    const l1n = l2runs.map((x) => x.l1[R.l1]?.exits).filter((v) => v !== undefined);
    const one = onelvl.map((x) => x.bench[R.key]?.mean).filter((v) => v !== undefined);
    const oneMin = onelvl.map((x) => x.bench[R.key]?.min).filter((v) => v !== undefined);
    if (l2runs.length && !means.length) { result.notes.push(`nestvm L2: no '${R.key}' line`); failed = true; }
    const cyc = median(means);
    const l1cyc = R.mixed ? null : median(l1c);
    const ns = cyc === null ? null : cyc / NESTVM_TSC_PER_NS;
    const l1ns = l1cyc === null ? null : l1cyc / NESTVM_TSC_PER_NS;
    result.reasons[R.key] = {
      what: R.what,
      nestvmL2: { cyclesMean: cyc, cyclesMin: minOf(mins), nsMean: ns, nsMin: minOf(mins) === null ? null : minOf(mins) / NESTVM_TSC_PER_NS,
        l1HandlerCycles: l1cyc, l1HandlerNs: l1ns, l1Exits: median(l1n), l1HandlerCyclesAllIoExits: R.mixed ? median(l1c) : undefined,
        l0AndRestNs: ns !== null && l1ns !== null ? ns - l1ns : null, l1Share: ns && l1ns !== null ? l1ns / ns : null },
      nestvmL2Insns: icBench[R.key] ? { total: icBench[R.key].mean / 2, l1Handler: icL1[R.l1] && !R.mixed ? icL1[R.l1].cycles / 2 : null,
        rest: icL1[R.l1] && !R.mixed ? (icBench[R.key].mean - icL1[R.l1].cycles) / 2 : null } : null,
      nestvm1: { cyclesMean: median(one), cyclesMin: minOf(oneMin), nsMean: median(one) === null ? null : median(one) / NESTVM_TSC_PER_NS },
    };
  }
  const io = l2runs[0]?.l1?.io?.exits;
  if (io) result.notes.push(`io: no L1/L0 split: the minivisor's 'io' handler mean covers all ${io} I/O exits (64 LSR reads plus the L2's COM1 output, which L1 prints line by line)`);
}

// ---- QEMU: KVM (PVM here), TCG reference ----
const qemuCol = async (accel, n) => {
  let best = null; const means = {}, mins = {};
  for (let i = 0; i < n; i++) {
    const r = await runQemu(imagePath("l2-bench"), { accel, timeoutSec: 60 });
    const b = parseBench(r.serial);
    if (r.status !== 1 || !b.cpuid) return { ok: false, status: r.status, timedOut: r.timedOut, stderr: r.stderr.slice(0, 400), serial: r.serial.slice(0, 400) };
    for (const [k, v] of Object.entries(b)) { (means[k] ??= []).push(v.mean); (mins[k] ??= []).push(v.min); }
    if (!best || r.seconds < best) best = r.seconds;
  }
  const per = {};
  for (const k of Object.keys(means)) per[k] = { cyclesMean: median(means[k]), cyclesMin: minOf(mins[k]) };
  return { ok: true, runs: n, wallSecondsBest: best, per };
};
if (noQemu) result.notes.push("qemu: skipped (--no-qemu)");
else if (!qemuAvailable()) result.notes.push("qemu: qemu-system-x86_64 not found; QEMU columns skipped");
else {
  const tsc = hostTscMhz();
  result.machine.hostTscMhz = tsc.mhz; result.machine.hostTscSource = tsc.source;
  const toNs = (c) => (c === null || c === undefined || !tsc.mhz ? null : (c * 1000) / tsc.mhz);
  const attach = (col, q) => {
    for (const R of REASONS) {
      const p = q.per[R.key];
      if (result.reasons[R.key]) result.reasons[R.key][col] = p ? { ...p, nsMean: toNs(p.cyclesMean), nsMin: toNs(p.cyclesMin) } : null;
    }
  };
  let kvmOk = false;
  if (!kvmAvailable()) result.notes.push("qemu-kvm: /dev/kvm not accessible; KVM column missing");
  else {
    const k = await qemuCol("kvm", qreps);
    if (k.ok) { kvmOk = true; result.columns.qemuKvm = { runs: k.runs, wallSecondsBest: k.wallSecondsBest }; attach("qemuKvm", k); }
    else result.notes.push(`qemu-kvm: PVM cannot run l2-bench (status ${k.status}${k.timedOut ? ", timed out" : ""}): ${k.stderr.trim().split("\n")[0] ?? ""}`);
  }
  // TCG: always in the full run as a labelled software reference; the fallback one-level column otherwise.
  if (!smoke || !kvmOk) {
    const t = await qemuCol("tcg", qreps);
    if (t.ok) { result.columns.qemuTcg = { runs: t.runs, wallSecondsBest: t.wallSecondsBest, fallback: !kvmOk }; attach("qemuTcg", t); }
    else result.notes.push(`qemu-tcg: l2-bench failed (status ${t.status})`);
  }
  if (tsc.mhz) result.notes.push(`QEMU columns: guest TSC cycles converted at the host TSC rate ${tsc.mhz} MHz (${tsc.source}); TCG's RDTSC is host-time based, its cycles are not instruction costs`);
}

// ---- report ----
const f = (v, d = 0) => (v === null || v === undefined ? "n/a" : v.toFixed(d));
const pct = (v) => (v === null || v === undefined ? "" : ` (${(v * 100).toFixed(0)}%)`);
const header = ["exit (64 round trips)", "nestvm L2 cycles mean/min", "nestvm L2 ns", "L1 handler ns", "L0+entry stub+insn ns", "insns total/L1/rest", "nestvm 1-level ns",
  result.columns.qemuKvm ? "QEMU KVM(PVM) 1-level ns" : "QEMU KVM (PVM)", "QEMU TCG 1-level ns (ref)"];
const rows = REASONS.map((R) => {
  const x = result.reasons[R.key] ?? {};
  const n = x.nestvmL2 ?? {};
  return [R.key, `${f(n.cyclesMean)} / ${f(n.cyclesMin)}`, f(n.nsMean), `${f(n.l1HandlerNs)}${pct(n.l1Share)}`,
    `${f(n.l0AndRestNs)}${pct(n.l1Share === null || n.l1Share === undefined ? null : 1 - n.l1Share)}`,
    x.nestvmL2Insns ? `${f(x.nestvmL2Insns.total)}/${f(x.nestvmL2Insns.l1Handler)}/${f(x.nestvmL2Insns.rest)}` : "n/a",
    R.key === "vmcall" ? "n/a (no L1)" : f(x.nestvm1?.nsMean),
    result.columns.qemuKvm ? (R.key === "vmcall" ? "n/a (no L1)" : f(x.qemuKvm?.nsMean)) : "cannot run / skipped",
    result.columns.qemuTcg ? (R.key === "vmcall" ? "n/a (no L1)" : f(x.qemuTcg?.nsMean)) : "skipped"];
});
const table = [header, header.map(() => "---"), ...rows];
const widths = header.map((_, i) => Math.max(...table.map((r) => r[i].length)));
const lines = table.map((r) => `| ${r.map((c, i) => (r[1] === "---" ? "-".repeat(widths[i]) : c.padEnd(widths[i]))).join(" | ")} |`);
console.log(`exit latency: l2-bench${smoke ? " (smoke)" : ""}, ${reps} measured nestvm run(s)${result.columns.qemuKvm ? `, ${result.columns.qemuKvm.runs} QEMU run(s)` : ""}; means are medians over runs`);
console.log(lines.join("\n"));
for (const note of result.notes) console.log(`note: ${note}`);
result.table = lines;
const outFile = argOf("--out") ?? join(ROOT, "build", "bench-exits.json");
if (!argOf("--out")) mkdirSync(join(ROOT, "build"), { recursive: true });
writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
process.exit(failed ? 1 : 0);
