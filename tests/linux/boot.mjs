// Boots Debian's Linux kernel with a busybox initramfs under nestvm (and, for reference, under
// QEMU TCG when installed), runs a few commands in userspace, then loads Debian's kvm-intel
// module and runs an L2 guest through /dev/kvm with tests/linux/kvmtest.c (built here with
// gcc -static when gcc is present): Linux KVM as the L1 hypervisor on nestvm's VMX. Powers off
// through ACPI.
//   node tests/linux/boot.mjs [--dir DIR] [--smp N] [--no-qemu] [--no-kvm]
// Fetches linux-image-amd64's kernel and busybox-static with `apt-get download` into DIR
// (default /tmp/nestvm-linux) and unpacks them with dpkg-deb (tests/linux/debian.mjs): Debian
// packages, not ours, so nothing is committed. Exit status 0 when every check passes. Part of .ci/run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { pathToFileURL, fileURLToPath } from "node:url";
import { cpioNewc, S_IFDIR, S_IFREG, S_IFCHR } from "./initramfs.mjs";
import { fetchLinux, gccStatic, LinuxUnavailable } from "./debian.mjs";

const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const dir = opt("--dir", "/tmp/nestvm-linux");
const smp = Number(opt("--smp", "1"));
const useQemu = !args.includes("--no-qemu");
const useKvm = !args.includes("--no-kvm");

function fetch() {
  try { return fetchLinux(dir); } catch (e) { console.error(`linux: ${e.message}`); process.exit(2); }
}
/** kvmtest.c as a static binary, or undefined without gcc. */
function kvmtest() {
  if (!useKvm) return undefined;
  try { return gccStatic(join(ROOT, "tests", "linux", "kvmtest.c"), join(dir, "kvmtest")); }
  catch (e) { if (e instanceof LinuxUnavailable && /not found/.test(e.message)) return undefined; console.error(`linux: ${e.message}`); process.exit(2); }
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "nestvm-linux: init started"
echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
echo "sum: $(seq 1 1000 | awk '{s+=$1} END {print s}')"
echo "sha256: $(echo hello | sha256sum)"
echo "sort: $(echo 5 3 9 1 | tr ' ' '\\n' | sort -n | tr '\\n' ' ')"
if [ -x /kvmtest ]; then
  mount -t devtmpfs dev /dev
  insmod /irqbypass.ko && insmod /kvm.ko && insmod /kvm-intel.ko && echo "kvm-intel: loaded" || { echo "kvm-intel: not loaded"; dmesg | grep -i -E "kvm|vmx|feat_ctl" | tail -20; }
  [ -c /dev/kvm ] && /kvmtest
fi
echo "nestvm-linux: done"
poweroff -f
`;

const { kernel, busybox, kvmModules } = fetch();
const kt = kvmtest();
const enc = new TextEncoder();
const initrd = cpioNewc([
  { name: "bin", mode: S_IFDIR | 0o755 }, { name: "dev", mode: S_IFDIR | 0o755 },
  { name: "dev/console", mode: S_IFCHR | 0o600, rdev: [5, 1] },
  { name: "proc", mode: S_IFDIR | 0o755 }, { name: "sys", mode: S_IFDIR | 0o755 },
  { name: "bin/busybox", mode: S_IFREG | 0o755, data: readFileSync(busybox) },
  { name: "init", mode: S_IFREG | 0o755, data: enc.encode(INIT) },
  ...(kt ? [
    { name: "kvmtest", mode: S_IFREG | 0o755, data: readFileSync(kt) },
    ...kvmModules.map((k) => ({ name: k.name, mode: S_IFREG | 0o644, data: readFileSync(k.path) })),
  ] : []),
]);
const APPEND = "console=ttyS0 panic=-1 quiet";
const expect = [
  "nestvm-linux: init started", `cpus: ${smp}`, "sum: 500500",
  "sha256: 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  -", "sort: 1 3 5 9 ", "nestvm-linux: done",
];

// Linux KVM as L1 on nestvm: the L2 prints "4" and a newline, reads COM1's LSR 1000 times, halts.
const KVM_LINES = [
  "kvm-intel: loaded", "kvm: api version 12", "kvm: L2 out 0x3f8 '4'", "kvm: L2 out 0x3f8 '~'",
  "kvm: L2 halted at rip 0x1016 after 2 OUTs and 1000 INs, eax 0x0 (CPUID leaf 0 vendor ebx 0x0)",
];
const host = await import(pathToFileURL(join(ROOT, "build", "host.mjs")).href);
let serial = "";
const m = await host.Machine.create({ memBytes: 512 << 20, cpus: smp, serialOut: (b) => { serial += Buffer.from(b).toString("latin1"); } });
m.loadLinux(readFileSync(kernel), { cmdline: APPEND, initrd, name: kernel });
const r = await m.run({ maxSeconds: 400 });
console.log(`nestvm: ${kernel}, ${smp} vCPU(s): ${r.reason} (${r.message ?? ""}) after ${r.instructions} instructions, ${r.seconds.toFixed(1)} s`);
let bad = 0;
const lines = serial.split(/\r?\n/);
for (const e of [...expect, ...(kt ? KVM_LINES : [])]) if (!lines.includes(e)) { console.error(`nestvm: missing line '${e}'`); bad++; }
if (kt && !bad) console.log("nestvm: Linux KVM (kvm-intel) ran an L2 guest: 1002 I/O exits handled by L1's KVM and kvmtest");
else if (!kt) console.log("nestvm: no gcc: the Linux KVM (L1) part was skipped");
if (r.reason !== "shutdown" || r.message !== "ACPI power off (S5)") { console.error(`nestvm: ended with ${r.reason} (${r.message}), not an ACPI power off`); bad++; }
if (bad) console.error(serial.slice(-4000));

if (useQemu && spawnSync("sh", ["-c", "command -v qemu-system-x86_64"]).status === 0) {
  const { writeFileSync } = await import("node:fs");
  const ird = join(dir, "initrd.cpio");
  writeFileSync(ird, initrd);
  const t0 = Date.now();
  const q = spawnSync("qemu-system-x86_64", ["-accel", "tcg", "-m", "512", "-smp", String(smp), "-kernel", kernel, "-initrd", ird,
    "-append", APPEND, "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio"], { encoding: "latin1", timeout: 400_000 });
  // SeaBIOS/iPXE clear the screen before Linux starts: drop terminal escapes.
  // The terminal reset (ESC c) that starts Linux's output may follow "Booting from ROM.." on the
  // same line: it counts as a line break.
  const ql = q.stdout.replace(/\x1bc/g, "\n").replace(/\x1b\[[0-9;?]*[a-zA-Z]|\x1b[a-zA-Z]/g, "").split(/\r?\n/);
  const same = expect.every((e) => ql.includes(e));
  console.log(`QEMU TCG: same lines ${same ? "yes" : "NO"} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (!same) { console.error(q.stdout.slice(-3000)); bad++; }
}
if (bad) { console.error(`linux: ${bad} check(s) failed`); process.exit(1); }
console.log("linux: all checks pass");
