#!/usr/bin/env node
// npm run kut -- DIR [--filter NAME] [--jobs N] [--timeout S] [--no-qemu] [--out FILE] [--arch x86_64|i386] [--env K=V] [--tsc realtime|icount]
//
// Runs a directory of kvm-unit-tests x86 images (*.flat, built by the user from upstream;
// nothing of that suite is part of this repository) on nestvm and, when qemu-system-x86_64 is
// installed, on QEMU TCG, with the arguments, memory size and CPU count that upstream's
// x86/unittests.cfg gives each entry (found in DIR or DIR's parents), and writes a table to
// docs/conformance.md. Hand-written notes below the "<!-- notes -->" marker are kept.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, readdirSync, mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { join, dirname, resolve, basename } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// ---- child mode: run one image on nestvm, print a JSON line ----
if (process.argv[2] === "--child") {
  const spec = JSON.parse(process.argv[3]);
  const { runImage } = await import(spec.host);
  const img = new Uint8Array(readFileSync(spec.file));
  let out = "";
  const t0 = performance.now();
  let r;
  try {
    r = await runImage(img, {
      memBytes: spec.memMiB * 1024 * 1024, cpus: spec.smp, append: spec.append || undefined,
      // The environment goes in as the first multiboot module, as kvm-unit-tests' runner passes
      // its env file with -initrd (lib/x86/setup.c reads it into environ).
      modules: spec.env ? [{ data: new TextEncoder().encode(spec.env + "\n"), cmdline: "env" }] : undefined,
      name: spec.file, maxSeconds: spec.timeout, reboot: spec.reboot, tsc: spec.tsc,
      serialOut: (b) => { out += Buffer.from(b).toString("latin1"); },
    });
  } catch (e) {
    r = { reason: "error", message: String(e && e.message || e) };
  }
  // Exit only once a large log has reached the pipe (process.exit drops pending pipe writes).
  await new Promise((done) => process.stdout.write("\n@@KUT@@" + JSON.stringify({
    reason: r.reason, exitCode: r.exitCode, message: r.message, seconds: (performance.now() - t0) / 1000,
    instructions: r.instructions !== undefined ? String(r.instructions) : undefined, serial: out,
  }) + "\n", done));
  process.exit(0);
}

// ---- arguments ----
const argv = process.argv.slice(2);
const opt = { env: [], host: join(root, "build/host.mjs"), dir: undefined, filter: undefined, jobs: 1, timeout: undefined, qemu: true, out: join(root, "docs/conformance.md"), arch: undefined, logs: undefined };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  if (a === "--filter") opt.filter = val();
  else if (a === "--jobs") opt.jobs = Math.max(1, parseInt(val(), 10) || 1);
  else if (a === "--timeout") opt.timeout = Number(val());
  else if (a === "--tsc") { opt.tsc = val(); if (opt.tsc !== "realtime" && opt.tsc !== "icount") { console.error("kut: --tsc must be realtime or icount"); process.exit(64); } }
  else if (a === "--no-qemu") opt.qemu = false;
  else if (a === "--out") opt.out = resolve(val());
  else if (a === "--arch") opt.arch = val();
  else if (a === "--logs") opt.logs = resolve(val());
  else if (a === "--host") opt.host = resolve(val());
  else if (a === "--env") opt.env.push(val());
  else if (a === "-h" || a === "--help") usage();
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else if (!opt.dir) opt.dir = resolve(a);
  else usage(`unexpected argument ${a}`);
}
function usage(msg) {
  if (msg) console.error(`kut: ${msg}`);
  console.error("usage: npm run kut -- DIR [--filter NAME] [--jobs N] [--timeout S] [--no-qemu] [--out FILE] [--arch x86_64|i386] [--logs DIR] [--host build/host.mjs] [--env K=V]... [--tsc realtime|icount]");
  process.exit(msg ? 64 : 0);
}
if (!opt.dir) usage("DIR is required (a directory of kvm-unit-tests x86 *.flat images)");
if (!existsSync(opt.dir)) usage(`${opt.dir} does not exist`);
if (!existsSync(opt.host)) { console.error(`kut: ${opt.host} missing: run \`npm run build\` first`); process.exit(70); }

// ---- unittests.cfg ----
function findUp(start, rel) {
  let d = start;
  for (let k = 0; k < 4; k++) {
    const p = join(d, rel);
    if (existsSync(p)) return p;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return undefined;
}
const cfgPath = findUp(opt.dir, "unittests.cfg") ?? findUp(opt.dir, "x86/unittests.cfg");
/** Split a shell-ish string into words (single/double quotes, no expansions). */
function shellWords(s) {
  const out = []; let cur = ""; let q = null; let any = false;
  for (const c of s) {
    if (q) { if (c === q) q = null; else cur += c; }
    else if (c === "'" || c === '"') { q = c; any = true; }
    else if (/\s/.test(c)) { if (cur || any) out.push(cur); cur = ""; any = false; }
    else cur += c;
  }
  if (cur || any) out.push(cur);
  return out;
}
function parseCfg(text) {
  const entries = [];
  let e = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^\s+|\s+$/g, "");
    if (!line || line.startsWith("#")) continue;
    const sec = line.match(/^\[(.+)\]$/);
    if (sec) { e = { name: sec[1], file: "", smp: 1, args: "", params: "", arch: "", groups: "", accel: "", timeout: 90, check: "" }; entries.push(e); continue; }
    if (!e) continue;
    const kv = line.match(/^(\w+)\s*=\s*(.*)$/);
    if (!kv) continue;
    const [, k, v] = kv;
    if (k === "file") e.file = v;
    else if (k === "smp") e.smp = parseInt(v, 10) || 1;
    else if (k === "test_args") e.args = shellWords(v).join(" ");
    else if (k === "qemu_params" || k === "extra_params") e.params = v;
    else if (k === "arch") e.arch = v;
    else if (k === "groups") e.groups = v;
    else if (k === "accel") e.accel = v;
    else if (k === "timeout") e.timeout = parseInt(v, 10) || 90;
    else if (k === "check") e.check = v;
  }
  for (const x of entries) {
    // older trees put "-append ..." inside extra_params
    const m = x.params.match(/-append\s+('([^']*)'|"([^"]*)"|(\S+))/);
    if (m && !x.args) { x.args = m[2] ?? m[3] ?? m[4]; x.params = x.params.replace(m[0], "").trim(); }
  }
  return entries;
}
function memMiB(params) {
  const m = params.match(/(?:^|\s)-m\s+(\d+)([MGmg]?)/);
  if (!m) return 128;   // QEMU's default
  return m[2] && m[2].toLowerCase() === "g" ? parseInt(m[1], 10) * 1024 : parseInt(m[1], 10);
}
const NESTVM_MAX_MIB = 3072;   // nestvm's RAM limit (wasm32); larger requests are clamped and noted
function detectArch() {
  if (opt.arch) return opt.arch;
  const mak = findUp(opt.dir, "config.mak");
  if (mak) { const m = readFileSync(mak, "utf8").match(/^ARCH=(\S+)/m); if (m) return m[1]; }
  for (const f of readdirSync(opt.dir)) {
    if (!f.endsWith(".elf")) continue;
    const b = readFileSync(join(opt.dir, f)).subarray(0, 5);
    return b[4] === 2 ? "x86_64" : "i386";
  }
  return "x86_64";
}
const arch = detectArch();
let entries;
if (cfgPath) {
  entries = parseCfg(readFileSync(cfgPath, "utf8")).filter((e) => !e.arch || e.arch === arch);
} else {
  entries = readdirSync(opt.dir).filter((f) => f.endsWith(".flat")).sort()
    .map((f) => ({ name: f.replace(/\.flat$/, ""), file: f, smp: 1, args: "", params: "", arch: "", groups: "", accel: "", timeout: 90, check: "" }));
}
entries = entries.filter((e) => existsSync(join(opt.dir, e.file)));
// Images no entry names (dummy, init, hpet_read_test, ...) run once with the defaults.
{
  const named = new Set(entries.map((e) => e.file));
  for (const f of readdirSync(opt.dir).filter((f) => f.endsWith(".flat")).sort()) {
    if (!named.has(f)) entries.push({ name: f.replace(/\.flat$/, ""), file: f, smp: 1, args: "", params: "", arch: "", groups: "(no cfg entry)", accel: "", timeout: 90, check: "" });
  }
}
if (opt.filter) {
  const re = new RegExp(opt.filter);
  entries = entries.filter((e) => re.test(e.name) || re.test(e.file));
}
if (!entries.length) { console.error("kut: no test entries with an image in DIR"); process.exit(65); }

// ---- QEMU ----
const qemuBin = opt.qemu ? (spawnSync("sh", ["-c", "command -v qemu-system-x86_64"], { encoding: "utf8" }).stdout || "").trim() : "";
const qemuVersion = qemuBin ? (spawnSync(qemuBin, ["--version"], { encoding: "utf8" }).stdout || "").split("\n")[0].replace(/^QEMU emulator version\s*/, "") : "";

// ---- running ----
function parseLog(text) {
  const c = { pass: 0, fail: 0, skip: 0, xfail: 0, xpass: 0 };
  for (const l of text.split("\n")) {
    const m = l.match(/^(PASS|FAIL|SKIP|XFAIL|XPASS):/);
    if (!m) continue;
    if (m[1] === "XPASS") c.xpass++;
    if (m[1] === "PASS") c.pass++; else if (m[1] === "FAIL" || m[1] === "XPASS") c.fail++;
    else if (m[1] === "SKIP") c.skip++; else c.xfail++;
  }
  // Some suites (vmx's ept_access_*) report passes silently; report_summary()'s last line
  // "SUMMARY: N tests[, F unexpected failures][, X expected failures][, S skipped]" counts them
  // all. Several SUMMARY lines (one per vmx test run) add up.
  const sums = [...text.matchAll(/^SUMMARY: (\d+) tests(?:, (\d+) unexpected failures)?(?:, (\d+) expected failures)?(?:, (\d+) skipped)?/gm)];
  if (sums.length) {
    const t = { pass: 0, fail: 0, skip: 0, xfail: 0, xpass: c.xpass };
    for (const m of sums) {
      const n = +m[1], f = +(m[2] ?? 0), x = +(m[3] ?? 0), k = +(m[4] ?? 0);
      t.pass += n - f - x - k; t.fail += f; t.xfail += x; t.skip += k;
    }
    if (t.pass + t.fail + t.skip + t.xfail >= c.pass + c.fail + c.skip + c.xfail) return t;
  }
  return c;
}
/** Status from the isa-debug-exit status ((v << 1) | 1, as QEMU's exit code): 1 PASS, 77 SKIP
 *  (report_summary() exits with 77 >> 1 when everything was skipped), anything else FAIL. */
function verdict(exitCode, reason, counts) {
  if (reason === "timeout") return "TIMEOUT";
  if (reason === "error") return "ERROR";
  if (exitCode === undefined) return reason === "shutdown" ? "FAIL (shutdown)" : `FAIL (${reason})`;
  if (exitCode === 1) return counts.fail ? failWhy(counts) : "PASS";
  if (exitCode === 77) return "SKIP";
  return failWhy(counts);
}
/** A FAIL whose only unexpected results are XPASS (a check upstream marks as an expected failure
 *  passed) says so: the harness still fails the entry, the reader sees why. */
function failWhy(counts) {
  return counts.fail > 0 && counts.fail === counts.xpass ? `FAIL (only XPASS: ${counts.xpass})` : "FAIL";
}

function runChild(cmd, args, timeoutS) {
  return new Promise((res) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out = [], err = [];
    p.stdout.on("data", (d) => out.push(d));
    p.stderr.on("data", (d) => err.push(d));
    let killed = false;
    const timer = setTimeout(() => { killed = true; p.kill("SIGKILL"); }, timeoutS * 1000);
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, killed, stdout: Buffer.concat(out).toString("latin1"), stderr: Buffer.concat(err).toString("latin1"), seconds: (performance.now() - t0) / 1000 });
    });
  });
}

// Upstream's runner passes --no-reboot, so its cfg entries stop on a reset. Images without a
// cfg entry (init.flat, which upstream leaves commented out because it must reboot through
// the firmware) run on a machine that reboots, nestvm and QEMU alike.
function rebootAllowed(e) { return e.groups === "(no cfg entry)"; }

// Environment per image for nestvm (plus every --env): apic.flat's PV-IPI subtest issues KVM's
// KVM_HC_SEND_IPI hypercall (VMCALL) unless TEST_DEVICE=0; nestvm is not KVM and has no
// paravirtual hypercalls, so that subtest is skipped as on a machine without the test device.
// syscall.flat's TF subtest runs 32-bit SYSCALL in compatibility mode, which is #UD on Intel
// CPUs (SDM Vol.2 SYSCALL) and works only because KVM emulates it when it sees its test
// device; the test itself skips it on Intel without the test device.
const NESTVM_ENV = { "apic.flat": ["TEST_DEVICE=0"], "syscall.flat": ["TEST_DEVICE=0"] };
async function runNestvm(e) {
  const timeout = opt.timeout ?? e.timeout;
  const env = [...(NESTVM_ENV[e.file] ?? []), ...opt.env].join("\n");
  const spec = { host: opt.host, file: join(opt.dir, e.file), memMiB: Math.min(memMiB(e.params), NESTVM_MAX_MIB), smp: e.smp, append: e.args, env, timeout, reboot: rebootAllowed(e), tsc: opt.tsc };
  const r = await runChild(process.execPath, [fileURLToPath(import.meta.url), "--child", JSON.stringify(spec)], timeout + 30);
  const i = r.stdout.lastIndexOf("\n@@KUT@@");
  if (i < 0) {
    const serial = r.stdout;
    return { status: r.killed ? "TIMEOUT" : "ERROR", counts: parseLog(serial), seconds: r.seconds, log: serial + r.stderr };
  }
  const j = JSON.parse(r.stdout.slice(i + 8));
  const counts = parseLog(j.serial);
  return { status: verdict(j.exitCode, j.reason, counts), counts, seconds: j.seconds, log: j.serial + (j.message ? `\n[nestvm: ${j.reason}: ${j.message}]\n` : ""), message: j.message };
}

async function runQemu(e) {
  if (!qemuBin) return undefined;
  if (e.accel && !/tcg/.test(e.accel)) return { status: `SKIP (${e.accel} only)`, counts: { pass: 0, fail: 0, skip: 0, xfail: 0 }, seconds: 0, log: "" };
  const timeout = opt.timeout ?? e.timeout;
  const args = [...(rebootAllowed(e) ? [] : ["--no-reboot"]), "-nodefaults", "-device", "pc-testdev", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4",
    "-display", "none", "-serial", "stdio", "-device", "pci-testdev", "-machine", "accel=tcg",
    "-kernel", join(opt.dir, e.file), "-smp", String(e.smp), ...shellWords(e.params)];
  if (e.args) args.push("-append", e.args);
  const r = await runChild(qemuBin, args, timeout);
  const counts = parseLog(r.stdout);
  let status;
  if (r.killed) status = "TIMEOUT";
  else if (!r.stdout.trim() && /^qemu-system-x86_64: /m.test(r.stderr)) status = "ERROR (QEMU refused the options)";
  else if (r.code === 1) status = counts.fail ? failWhy(counts) : "PASS";
  else if (r.code === 77) status = "SKIP";
  else if (r.code === 0) status = "FAIL (no exit)";
  else if ((r.code & 1) === 1 && r.code > 1) status = "FAIL";
  else status = `ERROR (${r.code ?? r.signal})`;
  return { status, counts, seconds: r.seconds, log: r.stdout + r.stderr };
}

const results = new Array(entries.length);
let next = 0;
const logDir = opt.logs ?? mkdtempSync(join(tmpdir(), "kut-logs-"));
mkdirSync(logDir, { recursive: true });
async function worker() {
  for (;;) {
    const k = next++;
    if (k >= entries.length) return;
    const e = entries[k];
    const n = await runNestvm(e);
    const q = await runQemu(e);
    results[k] = { e, n, q };
    if (opt.logs) {
      writeFileSync(join(logDir, `${e.name}.nestvm.log`), n.log);
      if (q) writeFileSync(join(logDir, `${e.name}.qemu.log`), q.log);
    }
    const c = (x) => `${x.counts.pass}/${x.counts.fail}/${x.counts.skip}`;
    console.log(`${e.name.padEnd(28)} nestvm ${n.status.padEnd(10)} ${c(n).padEnd(10)} ${n.seconds.toFixed(1).padStart(6)}s` +
      (q ? `   qemu ${q.status.padEnd(10)} ${c(q).padEnd(10)} ${q.seconds.toFixed(1).padStart(6)}s` : ""));
  }
}
await Promise.all(Array.from({ length: Math.min(opt.jobs, entries.length) }, worker));
if (!opt.logs) rmSync(logDir, { recursive: true, force: true });

// ---- table ----
const commit = (spawnSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout || "?").trim();
const kutCommit = (() => {
  const top = findUp(opt.dir, ".git");
  if (!top) return "";
  return (spawnSync("git", ["-C", dirname(top), "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout || "").trim();
})();
const pass = (s) => s === "PASS";
const nPass = results.filter((r) => pass(r.n.status)).length;
const qPass = results.filter((r) => r.q && pass(r.q.status)).length;
const cnt = (x) => `${x.counts.pass} / ${x.counts.fail} / ${x.counts.skip}`;
let md = `# kvm-unit-tests conformance\n\n`;
md += `Generated by \`npm run kut -- ${basename(opt.dir)}${opt.filter ? ` --filter ${opt.filter}` : ""}${opt.timeout ? ` --timeout ${opt.timeout}` : ""}\` on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: `;
md += `nestvm ${commit}, kvm-unit-tests ${kutCommit || "(unknown commit)"} (${arch}), ${qemuBin ? `QEMU ${qemuVersion} TCG` : "QEMU not installed"}.\n`;
md += `Each entry of upstream's \`x86/unittests.cfg\` runs with its \`smp\`, \`-m\` and \`test_args\`; the result is the `;
md += `exit status through isa-debug-exit, as QEMU reports it (1 PASS, 77 SKIP, otherwise FAIL), or TIMEOUT at the entry's timeout${opt.timeout ? ` (here ${opt.timeout} s for all)` : ""}. `;
md += `Subtests are the counts of the test's own \`SUMMARY:\` lines (passes, unexpected failures incl. XPASS, skips), or its PASS / FAIL / SKIP lines when it prints no summary. QEMU-only options (\`-cpu ...\`) do not apply to nestvm, whose CPU model is fixed.\n\n`;
md += `**nestvm: ${nPass} of ${results.length} entries pass${qemuBin ? `; QEMU TCG: ${qPass} of ${results.length}` : ""}.**\n\n`;
md += `| entry | image | smp | nestvm | subtests P / F / S | time | ${qemuBin ? "QEMU TCG | subtests P / F / S | time |" : ""}\n`;
md += `|---|---|---|---|---|---|${qemuBin ? "---|---|---|" : ""}\n`;
for (const { e, n, q } of results) {
  const clamped = memMiB(e.params) > NESTVM_MAX_MIB ? ` (-m ${memMiB(e.params)}M clamped to ${NESTVM_MAX_MIB}M)` : "";
  md += `| ${e.name}${e.args ? ` \`${e.args}\`` : ""} | ${e.file} | ${e.smp} | ${n.status}${clamped} | ${cnt(n)} | ${n.seconds.toFixed(1)} s |`;
  if (qemuBin) md += q ? ` ${q.status} | ${cnt(q)} | ${q.seconds.toFixed(1)} s |` : " | | |";
  md += "\n";
}
let notes = "";
if (existsSync(opt.out)) {
  const old = readFileSync(opt.out, "utf8");
  const i = old.indexOf("<!-- notes -->");
  if (i >= 0) notes = old.slice(i);
}
md += `\n${notes || "<!-- notes -->\n"}`;
writeFileSync(opt.out, md);
console.log(`\nnestvm: ${nPass}/${results.length} pass${qemuBin ? `, QEMU TCG: ${qPass}/${results.length}` : ""}; wrote ${opt.out}`);
