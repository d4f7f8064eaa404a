// Boots Debian's Linux kernel with a busybox initramfs under nestvm (and, for reference, under
// QEMU TCG when installed), runs a few commands in userspace and powers off through ACPI.
//   node tests/linux/boot.mjs [--dir DIR] [--smp N] [--no-qemu]
// Fetches linux-image-amd64's kernel and busybox-static with `apt-get download` into DIR
// (default /tmp/nestvm-linux) and unpacks them with dpkg-deb: Debian packages, not ours, so
// nothing is committed. Exit status 0 when every check passes. Part of .ci/run.
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { pathToFileURL, fileURLToPath } from "node:url";
import { cpioNewc, S_IFDIR, S_IFREG, S_IFCHR } from "./initramfs.mjs";

const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const dir = opt("--dir", "/tmp/nestvm-linux");
const smp = Number(opt("--smp", "1"));
const useQemu = !args.includes("--no-qemu");

function sh(cmd, a, cwd) {
  const r = spawnSync(cmd, a, { cwd, encoding: "utf8" });
  if (r.status !== 0) { console.error(`linux: ${cmd} ${a.join(" ")} failed:\n${r.stderr}`); process.exit(2); }
  return r.stdout;
}
function fetch() {
  mkdirSync(dir, { recursive: true });
  const kdir = join(dir, "kernel"), bdir = join(dir, "busybox");
  if (!existsSync(kdir) || !existsSync(bdir)) {
    const pkg = /Depends: (linux-image-\S+)/.exec(sh("apt-cache", ["depends", "linux-image-amd64"]))[1];
    sh("apt-get", ["download", pkg, "busybox-static"], dir);
    const debs = readdirSync(dir).filter((f) => f.endsWith(".deb"));
    sh("dpkg-deb", ["-x", join(dir, debs.find((f) => f.startsWith("linux-image"))), kdir]);
    sh("dpkg-deb", ["-x", join(dir, debs.find((f) => f.startsWith("busybox"))), bdir]);
  }
  const kernel = join(kdir, "boot", readdirSync(join(kdir, "boot")).find((f) => f.startsWith("vmlinuz")));
  return { kernel, busybox: join(bdir, "bin", "busybox") };
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
echo "nestvm-linux: done"
poweroff -f
`;

const { kernel, busybox } = fetch();
const enc = new TextEncoder();
const initrd = cpioNewc([
  { name: "bin", mode: S_IFDIR | 0o755 }, { name: "dev", mode: S_IFDIR | 0o755 },
  { name: "dev/console", mode: S_IFCHR | 0o600, rdev: [5, 1] },
  { name: "proc", mode: S_IFDIR | 0o755 }, { name: "sys", mode: S_IFDIR | 0o755 },
  { name: "bin/busybox", mode: S_IFREG | 0o755, data: readFileSync(busybox) },
  { name: "init", mode: S_IFREG | 0o755, data: enc.encode(INIT) },
]);
const APPEND = "console=ttyS0 panic=-1 quiet";
const expect = [
  "nestvm-linux: init started", `cpus: ${smp}`, "sum: 500500",
  "sha256: 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  -", "sort: 1 3 5 9 ", "nestvm-linux: done",
];

const host = await import(pathToFileURL(join(ROOT, "build", "host.mjs")).href);
let serial = "";
const m = await host.Machine.create({ memBytes: 512 << 20, cpus: smp, serialOut: (b) => { serial += Buffer.from(b).toString("latin1"); } });
m.loadLinux(readFileSync(kernel), { cmdline: APPEND, initrd, name: kernel });
const r = await m.run({ maxSeconds: 400 });
console.log(`nestvm: ${kernel}, ${smp} vCPU(s): ${r.reason} (${r.message ?? ""}) after ${r.instructions} instructions, ${r.seconds.toFixed(1)} s`);
let bad = 0;
const lines = serial.split(/\r?\n/);
for (const e of expect) if (!lines.includes(e)) { console.error(`nestvm: missing line '${e}'`); bad++; }
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
  const ql = q.stdout.replace(/\x1b\[[0-9;?]*[a-zA-Z]|\x1b[a-zA-Z]/g, "").split(/\r?\n/);
  const same = expect.every((e) => ql.includes(e));
  console.log(`QEMU TCG: same lines ${same ? "yes" : "NO"} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (!same) { console.error(q.stdout.slice(-3000)); bad++; }
}
if (bad) { console.error(`linux: ${bad} check(s) failed`); process.exit(1); }
console.log("linux: all checks pass");
