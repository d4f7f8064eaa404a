// npm run bench: guests/bin/bench.elf in nestvm (release core, via build/host.mjs runImage)
// and in qemu-system-x86_64 -accel tcg, side by side in one run.
// Timing: wall time of the whole run minus the wall time of a near-empty guest (hello.elf)
// on the same engine, which removes start-up cost (QEMU process + firmware, nestvm init).
// QEMU runs are repeated and the minimum taken. nestvm also reports MIPS by the CPU time of this
// process (same start-up subtraction): on a shared, loaded machine that is the steadier figure.
// Writes build/bench.json.
//   --smoke   use bench-smoke.elf (one round, for CI)
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, imagePath, runQemu, qemuAvailable } from "../tests/qemu/qemu.mjs";

const smoke = process.argv.includes("--smoke");
const guest = smoke ? "bench-smoke" : "bench";
const reps = smoke ? 1 : 3;
const now = () => Number(process.hrtime.bigint()) / 1e9;
const result = { guest, smoke, date: new Date().toISOString(), nestvm: null, qemu: null, notes: [] };

const checksumOf = (s) => (s.match(/checksum (0x[0-9a-f]+)/) || [])[1] ?? null;

// ---- nestvm ----
const hostPath = join(ROOT, "build", "host.mjs");
if (existsSync(hostPath)) {
  const { runImage } = await import(pathToFileURL(hostPath).href);
  const run = async (name) => {
    const t0 = now();
    const c0 = process.cpuUsage();
    const r = await runImage(readFileSync(imagePath(name)), { name, memBytes: 128 << 20, maxSeconds: smoke ? 60 : 600 });
    const c = process.cpuUsage(c0);
    return { ...r, seconds: now() - t0, cpuSeconds: (c.user + c.system) / 1e6 };
  };
  const base = await run("hello");
  const r = await run(guest);
  const icount = r.instructions ?? null;
  const seconds = Math.max(r.seconds - base.seconds, 1e-9);
  const cpuSeconds = Math.max(r.cpuSeconds - base.cpuSeconds, 1e-9);
  result.nestvm = { seconds, rawSeconds: r.seconds, startupSeconds: base.seconds, exitCode: r.exitCode, reason: r.reason,
    checksum: checksumOf(r.serial), icount: icount === null ? null : Number(icount),
    mips: icount === null ? null : Number(icount) / seconds / 1e6,
    cpuSeconds, mipsCpu: icount === null ? null : Number(icount) / cpuSeconds / 1e6 };
  if (r.exitCode !== 1) result.notes.push(`nestvm: ${guest} exited ${r.exitCode} (${r.reason})`);
} else result.notes.push("nestvm: build/host.mjs not built; column skipped");

// ---- QEMU TCG ----
if (qemuAvailable()) {
  const best = async (name) => {
    let m = null;
    for (let i = 0; i < reps; i++) { const r = await runQemu(imagePath(name), { accel: "tcg", timeoutSec: 300 }); if (!m || r.seconds < m.seconds) m = r; }
    return m;
  };
  const base = await best("hello");
  const r = await best(guest);
  result.qemu = { seconds: Math.max(r.seconds - base.seconds, 1e-9), rawSeconds: r.seconds, startupSeconds: base.seconds,
    status: r.status, checksum: checksumOf(r.serial) };
  if (r.status !== 1) result.notes.push(`qemu: ${guest} exit status ${r.status}`);
} else result.notes.push("qemu: qemu-system-x86_64 not found; column skipped");

if (result.nestvm && result.qemu) {
  // Below ~20 ms the QEMU figure is start-up noise (the smoke run): no ratio then.
  if (result.qemu.seconds >= 0.02) result.ratio = result.nestvm.seconds / result.qemu.seconds;
  else result.notes.push("qemu: guest work below start-up noise (< 20 ms); no ratio");
  if (result.nestvm.checksum !== result.qemu.checksum)
    result.notes.push(`checksum mismatch: nestvm ${result.nestvm.checksum} qemu ${result.qemu.checksum}`);
}

const f = (v, d = 3) => (v === null || v === undefined ? "n/a" : typeof v === "number" ? v.toFixed(d) : String(v));
console.log(`benchmark: ${guest}.elf${smoke ? " (smoke)" : ""}`);
console.log("| engine     | instructions | seconds | MIPS    | checksum           |");
console.log("|------------|--------------|---------|---------|--------------------|");
const n = result.nestvm, q = result.qemu;
console.log(`| nestvm     | ${f(n?.icount, 0).padStart(12)} | ${f(n?.seconds).padStart(7)} | ${f(n?.mips, 1).padStart(7)} | ${f(n?.checksum).padEnd(18)} |`);
console.log(`| qemu-tcg   | ${"".padStart(12)} | ${f(q?.seconds).padStart(7)} | ${"".padStart(7)} | ${f(q?.checksum).padEnd(18)} |`);
console.log(`ratio nestvm/qemu-tcg: ${f(result.ratio, 2)}`);
if (n) console.log(`nestvm by CPU time: ${f(n.cpuSeconds)} s, ${f(n.mipsCpu, 1)} MIPS`);
for (const note of result.notes) console.log(`note: ${note}`);
mkdirSync(join(ROOT, "build"), { recursive: true });
writeFileSync(join(ROOT, "build", "bench.json"), JSON.stringify(result, null, 2) + "\n");
const bad = (n && n.exitCode !== 1) || (q && q.status !== 1) || result.notes.some((x) => x.startsWith("checksum"));
process.exit(bad ? 1 : 0);
