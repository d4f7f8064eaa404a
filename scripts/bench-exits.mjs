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
//   --linux        also the column "nestvm L2 under Linux KVM": Debian 12's Linux (L1) boots in
//                  nestvm (TSC realtime), loads Debian's kvm-intel and runs tests/linux/kvmbench.c
//                  (gcc -static), whose guest (L2) times the same round trips in 64-bit long mode
//                  and again in 32-bit protected mode; the same binary then runs on the host's
//                  /dev/kvm (PVM here) as its one-level reference. Fetches the kernel and
//                  busybox-static with apt-get into --linux-dir (default /tmp/nestvm-linux, shared
//                  with tests/linux/boot.mjs); ~1.5 min, mostly Linux booting in nestvm.
//                  The full run boots twice: Debian's defaults, and with mitigations=off (no PTI,
//                  retpolines, VERW, L1D flush); --smoke or --linux-fast: defaults only.
//   --linux-reps N kvmbench's measured repetitions (default 9; --smoke 2), after one warm-up
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";
import { ROOT, imagePath, runQemu, qemuAvailable, kvmAvailable } from "../tests/qemu/qemu.mjs";
import { fetchLinux, gccStatic } from "../tests/linux/debian.mjs";
import { cpioNewc, S_IFDIR, S_IFREG, S_IFCHR } from "../tests/linux/initramfs.mjs";

const argv = process.argv.slice(2);
const smoke = argv.includes("--smoke");
const noQemu = argv.includes("--no-qemu");
const withLinux = argv.includes("--linux");
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

// ---- Linux KVM as L1 (--linux): kvmbench's guest as an L2 in nestvm, and on the host's /dev/kvm ----
// kvmbench's tests; `row` is the l2-bench row they line up with in the main table.
const KVM_TESTS = [
  { key: "nop", what: "nothing between the RDTSC pairs (timing cost, no exit)" },
  { key: "cpuid", row: "cpuid", what: "CPUID leaf 0: exit, emulated in KVM (kernel)" },
  { key: "vmcall", row: "vmcall", what: "VMCALL RAX=0: exit, KVM answers -KVM_ENOSYS (kernel)" },
  { key: "io-in-0x3fd", row: "io-in-0x3fd", what: "IN al, 0x3fd: exit, KVM_EXIT_IO to kvmbench (userspace)" },
  { key: "rdmsr-apicbase", row: "rdmsr-tsc", what: "RDMSR 0x1b: exit, emulated in KVM (kernel)" },
  { key: "rdmsr-tsc", what: "RDMSR 0x10: KVM passes reads through (MSR bitmap), no exit" },
  { key: "ept-violation", row: "ept-violation", what: "first touch of a page of a fresh memslot: EPT violation, KVM faults it in (kernel)" },
];
// "kvmbench: rep 3 cpuid min 1234 mean 2345 cycles (64 round trips) stats: exits=65 halt_exits=1"
function parseKvmbench(text) {
  const per = {};
  for (const m of text.matchAll(/kvmbench: rep \d+ (\S+) min (\d+) median (\d+) mean (\d+) cycles \(\d+ round trips\)(?: stats:(.*))?/g)) {
    const p = (per[m[1]] ??= { means: [], medians: [], mins: [], stats: [] });
    p.means.push(Number(m[4])); p.medians.push(Number(m[3])); p.mins.push(Number(m[2]));
    const st = {};
    for (const kv of (m[5] ?? "").trim().split(/\s+/).filter(Boolean)) { const [k, v] = kv.split("="); st[k] = Number(v); }
    p.stats.push(st);
  }
  const out = {};
  for (const [k, p] of Object.entries(per)) {
    // KVM statistics per round trip: the median over repetitions of (delta - the final HLT's exit) / 64.
    const names = [...new Set(p.stats.flatMap((st) => Object.keys(st)))];
    const stats = {};
    for (const n of names) stats[n] = median(p.stats.map((st) => st[n] ?? 0));
    out[k] = { cyclesMean: median(p.means), cyclesMedian: median(p.medians), cyclesMin: minOf(p.mins), reps: p.means.length, stats };
  }
  const tsc = text.match(/kvmbench: tsc ([\d.]+) MHz/);
  const skipped = [...text.matchAll(/kvmbench: (\S+): no HLT after/g)].map((m) => m[1]);
  return { per: out, tscMhz: tsc ? Number(tsc[1]) : null, done: /kvmbench: done/.test(text), skipped };
}
async function linuxColumns() {
  const dir = argOf("--linux-dir") ?? "/tmp/nestvm-linux";
  const lreps = Number(argOf("--linux-reps") ?? (smoke ? 2 : 9));
  let deb, bin;
  try {
    deb = fetchLinux(dir);
    bin = gccStatic(join(ROOT, "tests", "linux", "kvmbench.c"), join(dir, "kvmbench"));
  } catch (e) {
    console.log(`bench-exits --linux: skipped, ${e.message}`);
    result.notes.push(`linux: skipped (${e.message})`);
    return;
  }
  const col = { reps: lreps, kernel: deb.kernel };
  const { Machine } = await import(pathToFileURL(join(ROOT, "build", "host.mjs")).href);
  // L1 = Linux in nestvm. dmesg's TSC lines, the mitigations KVM applies on entry and kvm-intel's
  // parameters go to the serial log (and the JSON) for the analysis in docs/benchmarks.md.
  const boot = async (extra, tsc = "realtime") => {
    const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /irqbypass.ko && insmod /kvm.ko && insmod /kvm-intel.ko || echo "kvmbench-linux: kvm-intel not loaded"
dmesg | grep -i -e tsc -e kvm -e l1tf -e mds | sed 's/^/kvmbench-linux: dmesg: /'
for f in /sys/devices/system/cpu/vulnerabilities/* /sys/module/kvm_intel/parameters/*; do echo "kvmbench-linux: $f: $(cat $f)"; done
[ -c /dev/kvm ] && /kvmbench ${lreps} 64 && /kvmbench ${lreps} 32
echo "kvmbench-linux: end"
poweroff -f
`;
    const enc = new TextEncoder();
    const initrd = cpioNewc([
      { name: "bin", mode: S_IFDIR | 0o755 }, { name: "dev", mode: S_IFDIR | 0o755 },
      { name: "dev/console", mode: S_IFCHR | 0o600, rdev: [5, 1] },
      { name: "proc", mode: S_IFDIR | 0o755 }, { name: "sys", mode: S_IFDIR | 0o755 },
      { name: "bin/busybox", mode: S_IFREG | 0o755, data: readFileSync(deb.busybox) },
      { name: "init", mode: S_IFREG | 0o755, data: enc.encode(INIT) },
      { name: "kvmbench", mode: S_IFREG | 0o755, data: readFileSync(bin) },
      ...deb.kvmModules.map((k) => ({ name: k.name, mode: S_IFREG | 0o644, data: readFileSync(k.path) })),
    ]);
    let serial = "";
    const m = await Machine.create({ memBytes: 512 << 20, cpus: 1, tsc, serialOut: (b) => { serial += Buffer.from(b).toString("latin1"); } });
    const cmdline = `console=ttyS0 panic=-1 quiet${extra}`;
    m.loadLinux(readFileSync(deb.kernel), { cmdline, initrd, name: deb.kernel });
    const t0 = performance.now();
    const r = await m.run({ maxSeconds: 400 });
    const v = { cmdline, tsc, wallSeconds: (performance.now() - t0) / 1000, instructions: Number(r.instructions ?? 0) };
    v.serialTail = serial.split(/\r?\n/).filter((l) => l.startsWith("kvmbench")).slice(0, 400);
    const runs = serial.split(/(?<=kvmbench: done)/);
    v.l2 = { 64: parseKvmbench(runs[0] ?? ""), 32: parseKvmbench(runs[1] ?? "") };
    if (r.reason !== "shutdown" || !v.l2[64].done || !v.l2[32].done) {
      result.notes.push(`linux (${cmdline}): nestvm run ended with ${r.reason} (${r.message ?? ""}); kvmbench ${v.l2[64].done ? "" : "not "}done:\n${serial.slice(-3000)}`);
      failed = true;
    }
    v.linuxTsc = (serial.match(/kvmbench-linux: dmesg: .*tsc: .*MHz.*/g) ?? []).map((l) => l.replace(/^kvmbench-linux: dmesg: /, ""));
    v.linuxInfo = (serial.match(/kvmbench-linux: \/sys\/.*/g) ?? []).map((l) => l.replace(/^kvmbench-linux: /, ""));
    return v;
  };
  // Debian's defaults, and (full run only) with the CPU-vulnerability mitigations off: nestvm
  // reports an Ivy Bridge without ARCH_CAPABILITIES, so Linux turns on PTI, retpolines, VERW
  // and KVM's conditional software L1D flush before VM entries, none of which an emulator needs.
  const dflt = await boot("");
  col.nestvm = dflt.l2; col.wallSeconds = dflt.wallSeconds; col.linuxTsc = dflt.linuxTsc; col.linuxInfo = dflt.linuxInfo; col.serialTail = dflt.serialTail;
  if (!smoke && !argv.includes("--linux-fast")) {
    col.mitigationsOff = await boot(" mitigations=off");
    // TSC in icount mode (1 instruction = 1 ns = 2 cycles): instructions retired per round trip,
    // L2 + L1 (KVM and, for the port read, kvmbench and the syscalls), deterministic.
    col.icount = await boot("", "icount");
  }
  const l2 = dflt.l2;
  // One level: the same binary on the host's /dev/kvm.
  if (!kvmAvailable()) result.notes.push("linux: /dev/kvm not accessible on the host; no one-level kvmbench column");
  else {
    const host = {};
    for (const mode of [64, 32]) {
      const h = spawnSync(bin, [String(lreps), String(mode)], { encoding: "utf8", timeout: 120_000 });
      host[mode] = parseKvmbench(h.stdout ?? "");
      if (!host[mode].done) result.notes.push(`linux: kvmbench ${mode}-bit on the host's /dev/kvm failed (status ${h.status}): ${(h.stdout + h.stderr).slice(-400)}`);
    }
    col.host = host;
    col.hostTscMhz = hostTscMhz().mhz;
  }
  result.columns.linuxKvm = col;
  for (const T of KVM_TESTS) {
    const n = l2[64].per[T.key], n32 = l2[32].per[T.key];
    const h = col.host?.[64]?.per[T.key], h32 = col.host?.[32]?.per[T.key];
    const hn = (x) => (x && col.hostTscMhz ? (x.cyclesMean * 1000) / col.hostTscMhz : null);
    const hnMed = (x) => (x && col.hostTscMhz ? (x.cyclesMedian * 1000) / col.hostTscMhz : null);
    const off = col.mitigationsOff?.l2?.[64]?.per[T.key];
    const ic = col.icount?.l2?.[64]?.per[T.key];
    result.kvmbench ??= {};
    result.kvmbench[T.key] = {
      what: T.what, row: T.row ?? null,
      nestvmL2: n ? { ...n, nsMean: n.cyclesMean / NESTVM_TSC_PER_NS, nsMedian: n.cyclesMedian / NESTVM_TSC_PER_NS, nsMin: n.cyclesMin / NESTVM_TSC_PER_NS } : null,
      nestvmL2mode32: n32 ? { ...n32, nsMean: n32.cyclesMean / NESTVM_TSC_PER_NS, nsMedian: n32.cyclesMedian / NESTVM_TSC_PER_NS } : null,
      nestvmL2MitigationsOff: off ? { ...off, nsMean: off.cyclesMean / NESTVM_TSC_PER_NS, nsMedian: off.cyclesMedian / NESTVM_TSC_PER_NS } : null,
      nestvmL2Insns: ic ? { mean: ic.cyclesMean / 2, median: ic.cyclesMedian / 2, min: ic.cyclesMin / 2 } : null,
      hostKvm: h ? { ...h, nsMean: hn(h), nsMedian: hnMed(h) } : null,
      hostKvmMode32: h32 ? { ...h32, nsMean: hn(h32), nsMedian: hnMed(h32) } : null,
    };
    if (T.row && result.reasons[T.row]) result.reasons[T.row].nestvmL2LinuxKvm = n ? { test: T.key, cyclesMean: n.cyclesMean, cyclesMin: n.cyclesMin, nsMean: n.cyclesMean / NESTVM_TSC_PER_NS } : null;
  }
  result.notes.push(`linux: nestvm L2 under Linux KVM: kvmbench's guest in 64-bit long mode (32-bit protected mode: its own column), ${lreps} repetitions after a warm-up, median of the means; guest TSC cycles at nestvm's 2 cycles/ns (Linux in nestvm measured ${l2[64].tscMhz ?? "?"} MHz against its own clock; dmesg: ${col.linuxTsc.join("; ") || "n/a"})`);
}
if (withLinux) await linuxColumns();

// ---- report ----
const f = (v, d = 0) => (v === null || v === undefined ? "n/a" : v.toFixed(d));
const pct = (v) => (v === null || v === undefined ? "" : ` (${(v * 100).toFixed(0)}%)`);
const lk = result.columns.linuxKvm;
const header = ["exit (64 round trips)", "nestvm L2 cycles mean/min", "nestvm L2 ns", "L1 handler ns", "L0+entry stub+insn ns", "insns total/L1/rest",
  ...(lk ? ["nestvm L2 under Linux KVM ns"] : []), "nestvm 1-level ns",
  result.columns.qemuKvm ? "QEMU KVM(PVM) 1-level ns" : "QEMU KVM (PVM)", "QEMU TCG 1-level ns (ref)"];
const rows = REASONS.map((R) => {
  const x = result.reasons[R.key] ?? {};
  const n = x.nestvmL2 ?? {};
  return [R.key, `${f(n.cyclesMean)} / ${f(n.cyclesMin)}`, f(n.nsMean), `${f(n.l1HandlerNs)}${pct(n.l1Share)}`,
    `${f(n.l0AndRestNs)}${pct(n.l1Share === null || n.l1Share === undefined ? null : 1 - n.l1Share)}`,
    x.nestvmL2Insns ? `${f(x.nestvmL2Insns.total)}/${f(x.nestvmL2Insns.l1Handler)}/${f(x.nestvmL2Insns.rest)}` : "n/a",
    ...(lk ? [x.nestvmL2LinuxKvm ? `${f(x.nestvmL2LinuxKvm.nsMean)}${x.nestvmL2LinuxKvm.test !== R.key ? ` (${x.nestvmL2LinuxKvm.test})` : ""}` : "n/a"] : []),
    R.key === "vmcall" ? "n/a (no L1)" : f(x.nestvm1?.nsMean),
    result.columns.qemuKvm ? (R.key === "vmcall" ? "n/a (no L1)" : f(x.qemuKvm?.nsMean)) : "cannot run / skipped",
    result.columns.qemuTcg ? (R.key === "vmcall" ? "n/a (no L1)" : f(x.qemuTcg?.nsMean)) : "skipped"];
});
const table = [header, header.map(() => "---"), ...rows];
const widths = header.map((_, i) => Math.max(...table.map((r) => r[i].length)));
const lines = table.map((r) => `| ${r.map((c, i) => (r[1] === "---" ? "-".repeat(widths[i]) : c.padEnd(widths[i]))).join(" | ")} |`);
console.log(`exit latency: l2-bench${smoke ? " (smoke)" : ""}, ${reps} measured nestvm run(s)${result.columns.qemuKvm ? `, ${result.columns.qemuKvm.runs} QEMU run(s)` : ""}; means are medians over runs`);
console.log(lines.join("\n"));
result.table = lines;
if (lk && result.kvmbench) {
  // kvmbench in full: both guest modes, KVM's statistics per round trip, the host's /dev/kvm.
  // per round trip: the delta over 64 round trips and the final HLT, less that HLT's exit
  const st = (x) => (x ? Object.entries(x.stats).filter(([k]) => k !== "halt_exits")
    .map(([k, v]) => `${k} ${f((k === "exits" ? v - 1 : v) / 64, 2)}`).join(", ") : "");
  const mm = (x) => (x ? `${f(x.nsMean)} / ${f(x.nsMedian)}` : "n/a");
  const kh = ["kvmbench test (64 round trips)", "nestvm L2/Linux KVM cycles mean/median/min", "ns mean/median", "32-bit ns mean/median",
    ...(lk.mitigationsOff ? ["mitigations=off ns mean/median"] : []), ...(lk.icount ? ["insns median/min (icount)"] : []), "KVM stats per round trip (nestvm)",
    "host /dev/kvm ns mean/median", "host 32-bit ns mean/median", "host KVM stats per round trip"];
  const kr = KVM_TESTS.map((T) => {
    const x = result.kvmbench[T.key];
    return [T.key, x.nestvmL2 ? `${f(x.nestvmL2.cyclesMean)} / ${f(x.nestvmL2.cyclesMedian)} / ${f(x.nestvmL2.cyclesMin)}` : "n/a", mm(x.nestvmL2), mm(x.nestvmL2mode32),
      ...(lk.mitigationsOff ? [mm(x.nestvmL2MitigationsOff)] : []), ...(lk.icount ? [x.nestvmL2Insns ? `${f(x.nestvmL2Insns.median)} / ${f(x.nestvmL2Insns.min)}` : "n/a"] : []), st(x.nestvmL2), mm(x.hostKvm), mm(x.hostKvmMode32), st(x.hostKvm)];
  });
  const kt = [kh, kh.map(() => "---"), ...kr];
  const kw = kh.map((_, i) => Math.max(...kt.map((r) => r[i].length)));
  const klines = kt.map((r) => `| ${r.map((c, i) => (r[1] === "---" ? "-".repeat(kw[i]) : c.padEnd(kw[i]))).join(" | ")} |`);
  console.log(`\nLinux KVM as L1 (kvmbench, 64-bit guest unless marked, ${lk.reps} reps: medians over reps of the per-rep mean/median; nestvm boot+bench ${f(lk.wallSeconds, 1)} s): guest TSC cycles; nestvm ns at 2 cycles/ns, host ns at ${lk.hostTscMhz ?? "?"} MHz`);
  console.log(klines.join("\n"));
  for (const m of [64, 32]) if (lk.host?.[m]?.skipped?.length) console.log(`note: host /dev/kvm ${m}-bit: ${lk.host[m].skipped.join(", ")} never reached HLT (dropped)`);
  for (const m of [64, 32]) if (lk.nestvm?.[m]?.skipped?.length) console.log(`note: nestvm ${m}-bit: ${lk.nestvm[m].skipped.join(", ")} never reached HLT (dropped)`);
  if (lk.mitigationsOff) console.log(`note: mitigations=off: ${lk.mitigationsOff.linuxInfo.filter((l) => /l1tf|meltdown|mds|spectre_v2/.test(l)).join("; ")}`);
  result.kvmbenchTable = klines;
}
for (const note of result.notes) console.log(`note: ${note}`);
const outFile = argOf("--out") ?? join(ROOT, "build", "bench-exits.json");
if (!argOf("--out")) mkdirSync(join(ROOT, "build"), { recursive: true });
writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
process.exit(failed ? 1 : 0);
