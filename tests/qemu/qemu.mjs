// Shared helpers: run a guest image under QEMU, list guests, normalise serial output.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, existsSync, readFileSync, accessSync, constants } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const GUESTS = join(ROOT, "guests");
export const QEMU = process.env.QEMU || "qemu-system-x86_64";

// Guests that have an expected.txt, sorted. bench (the full benchmark) is left to npm run bench.
export function listGuests({ includeBench = false } = {}) {
  return readdirSync(GUESTS, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(GUESTS, d.name, "expected.txt")))
    .map((d) => d.name)
    .filter((n) => includeBench || n !== "bench")
    // Guests that need multiboot modules (MODULES= in build.conf: the minivisor) have their own runner.
    .filter((n) => !existsSync(join(GUESTS, n, "build.conf")) || !/^MODULES=/m.test(readFileSync(join(GUESTS, n, "build.conf"), "utf8")))
    // Multiprocessor guests (SMP=N in build.conf) run with N CPUs in tests/e2e/smp.test.mjs.
    .filter((n) => !existsSync(join(GUESTS, n, "build.conf")) || !/^SMP=/m.test(readFileSync(join(GUESTS, n, "build.conf"), "utf8")))
    .sort();
}
export const imagePath = (name) => join(GUESTS, "bin", `${name}.elf`);
export const expectedText = (name) => readFileSync(join(GUESTS, name, "expected.txt"), "utf8");

// Lines starting with "info:" describe the host CPU/firmware (CPUID vendor, memory map
// details) and legitimately differ between QEMU TCG, KVM and nestvm; they are not compared.
export const normalize = (s) => s.split("\n").filter((l) => !l.startsWith("info:")).join("\n");

export function qemuAvailable() {
  return spawnSync(QEMU, ["--version"], { stdio: "ignore" }).status === 0;
}
export function kvmAvailable() {
  try { accessSync("/dev/kvm", constants.R_OK | constants.W_OK); return true; } catch { return false; }
}

// QEMU's isa-debug-exit makes the process exit with (value << 1) | 1; a guest that wrote 0
// exits with status 1. Resolves { serial, status, seconds, timedOut }.
export function runQemu(image, { accel = "tcg", timeoutSec = 60, mem = 128 } = {}) {
  return new Promise((resolve) => {
    const args = ["-accel", accel, "-kernel", image, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
      "-serial", "stdio", "-display", "none", "-no-reboot", "-m", String(mem)];
    const t0 = process.hrtime.bigint();
    const p = spawn(QEMU, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    let err = "";
    p.stdout.on("data", (d) => out.push(d));
    p.stderr.on("data", (d) => { err += d; });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; p.kill("SIGKILL"); }, timeoutSec * 1000);
    p.on("close", (status) => {
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      resolve({ serial: Buffer.concat(out).toString("latin1"), status, seconds, timedOut, stderr: err });
    });
  });
}
