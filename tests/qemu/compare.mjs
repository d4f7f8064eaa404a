// Runs every guest image under QEMU TCG and KVM and checks the serial output against
// guests/<name>/expected.txt and the exit status (debug-exit value 0 -> QEMU status 1).
// When build/host.mjs exists it runs nestvm too and requires the same output.
// Lines starting with "info:" are host-dependent and not compared (see qemu.mjs).
// Usage: node tests/qemu/compare.mjs [--update] [--no-kvm] [--kvm-all] [--no-nestvm] [guest...]
//   --update rewrites expected.txt from the TCG run (check the diff before committing).
import { writeFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, GUESTS, listGuests, imagePath, expectedText, normalize, runQemu, qemuAvailable, kvmAvailable } from "./qemu.mjs";

const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const names = args.filter((a) => !a.startsWith("--"));
const guests = names.length ? names : listGuests();
if (!qemuAvailable()) { console.error("compare: qemu-system-x86_64 not found"); process.exit(2); }
const accels = ["tcg"];
if (!flag("--no-kvm") && kvmAvailable()) accels.push("kvm"); else console.log("# kvm: skipped (/dev/kvm not usable or --no-kvm)");

const kvmTimeout = Number(process.env.KVM_TIMEOUT || 30);
// /dev/kvm on these machines is a paravirtual KVM (PVM; see guests/README.md): it fails with
// "emulation failure" on INT3 and on IRET from interrupt handlers, raises #UD for INT 0x80
// from ring 3, and runs memory-heavy ring-0 code extremely slowly. Only these guests are known
// to run there; --kvm-all tries every guest.
const KVM_GUESTS = new Set((process.env.KVM_GUESTS || "hello,demo,modes").split(","));
let runImage = null;
const hostPath = join(ROOT, "build", "host.mjs");
if (!flag("--no-nestvm") && existsSync(hostPath)) {
  const m = await import(pathToFileURL(hostPath).href);
  runImage = m.runImage ?? null;
}
if (!runImage) console.log("# nestvm: skipped (build/host.mjs with runImage not present)");

let failures = 0, passes = 0;
function report(name, where, good, detail) {
  if (good) { passes++; console.log(`ok - ${name} ${where}`); }
  else { failures++; console.log(`not ok - ${name} ${where}${detail ? ": " + detail : ""}`); }
}
function firstDiff(a, b) {
  const x = a.split("\n"), y = b.split("\n");
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if (x[i] !== y[i]) return `line ${i + 1}: got ${JSON.stringify(x[i])} want ${JSON.stringify(y[i])}`;
  return "";
}
for (const name of guests) {
  const img = imagePath(name);
  if (flag("--update")) {
    const r = await runQemu(img, { accel: "tcg" });
    writeFileSync(join(GUESTS, name, "expected.txt"), r.serial);
    console.log(`# updated ${name}/expected.txt (status ${r.status})`);
  }
  const want = normalize(expectedText(name));
  for (const accel of accels) {
    if (accel === "kvm" && !flag("--kvm-all") && !KVM_GUESTS.has(name)) {
      console.log(`ok - ${name} qemu-kvm # SKIP not runnable on this machine's PVM KVM (--kvm-all to try)`);
      continue;
    }
    const r = await runQemu(img, { accel, timeoutSec: accel === "kvm" ? kvmTimeout : 60 });
    const got = normalize(r.serial);
    if (accel === "kvm" && r.timedOut) {
      // /dev/kvm here is paravirtual (PVM): ring-0 guest code can run 1000x slower than TCG.
      console.log(`ok - ${name} qemu-kvm # SKIP no result within ${kvmTimeout}s (slow PVM KVM)`);
      continue;
    }
    const good = !r.timedOut && r.status === 1 && got === want;
    report(name, `qemu-${accel} (${r.seconds.toFixed(2)}s)`, good,
      r.timedOut ? "timeout" : r.status !== 1 ? `exit status ${r.status}` : firstDiff(got, want));
  }
  if (runImage) {
    const bytes = readFileSync(img);
    let r;
    try { r = await runImage(bytes, { name, memBytes: 128 << 20, maxSeconds: 120 }); }
    catch (e) { r = { serial: "", exitCode: -1, reason: String(e) }; }
    const got = normalize(r.serial);
    // runImage's exitCode is QEMU's exit status: (value << 1) | 1
    report(name, "nestvm", r.exitCode === 1 && got === want,
      r.exitCode !== 1 ? `exit ${r.exitCode} (${r.reason} ${r.message ?? ""}) ${firstDiff(got, want)}` : firstDiff(got, want));
  }
}
console.log(`# compare: ${passes} ok, ${failures} not ok`);
process.exit(failures ? 1 : 0);
