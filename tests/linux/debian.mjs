// Debian's Linux kernel, kvm modules and busybox-static for the Linux runs (tests/linux/boot.mjs,
// scripts/bench-exits.mjs --linux): `apt-get download` into a cache directory, unpacked with
// dpkg-deb. Debian packages, not ours, so nothing is committed. Also builds the small static
// test programs (kvmtest.c, kvmbench.c) with gcc.
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

/** Thrown when a tool or the packages are not available; `message` is one line. */
export class LinuxUnavailable extends Error {}

const has = (tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
function sh(cmd, a, cwd) {
  const r = spawnSync(cmd, a, { cwd, encoding: "utf8" });
  if (r.status !== 0) {
    const why = (r.error?.message ?? r.stderr ?? "").trim().split("\n").filter(Boolean).pop() ?? `exit status ${r.status}`;
    throw new LinuxUnavailable(`${cmd} ${a.join(" ")} failed: ${why}`);
  }
  return r.stdout;
}

/** Downloads (once per dir) and unpacks linux-image-amd64's kernel and busybox-static.
 *  Returns the kernel image, the busybox binary, the modules tree (…/lib/modules/VER/kernel)
 *  and the kvm modules in insmod order. Throws LinuxUnavailable. */
export function fetchLinux(dir = "/tmp/nestvm-linux") {
  mkdirSync(dir, { recursive: true });
  const kdir = join(dir, "kernel"), bdir = join(dir, "busybox");
  if (!existsSync(kdir) || !existsSync(bdir)) {
    for (const t of ["apt-cache", "apt-get", "dpkg-deb"]) if (!has(t)) throw new LinuxUnavailable(`${t} not found (needs a Debian-based host)`);
    const dep = /Depends: (linux-image-\S+)/.exec(sh("apt-cache", ["depends", "linux-image-amd64"]));
    if (!dep) throw new LinuxUnavailable("apt-cache: linux-image-amd64 has no linux-image dependency (apt-get update?)");
    sh("apt-get", ["download", dep[1], "busybox-static"], dir);
    const debs = readdirSync(dir).filter((f) => f.endsWith(".deb"));
    sh("dpkg-deb", ["-x", join(dir, debs.find((f) => f.startsWith("linux-image"))), kdir]);
    sh("dpkg-deb", ["-x", join(dir, debs.find((f) => f.startsWith("busybox"))), bdir]);
  }
  const kernel = join(kdir, "boot", readdirSync(join(kdir, "boot")).find((f) => f.startsWith("vmlinuz")));
  const modules = join(kdir, "lib", "modules", readdirSync(join(kdir, "lib", "modules"))[0], "kernel");
  const kvmModules = [["irqbypass.ko", "virt/lib/irqbypass.ko"], ["kvm.ko", "arch/x86/kvm/kvm.ko"], ["kvm-intel.ko", "arch/x86/kvm/kvm-intel.ko"]]
    .map(([name, rel]) => ({ name, path: join(modules, rel) }));
  return { kernel, busybox: join(bdir, "bin", "busybox"), modules, kvmModules };
}

/** gcc -static -O2 -o out src. Throws LinuxUnavailable without gcc or static libc. */
export function gccStatic(src, out) {
  if (!has("gcc")) throw new LinuxUnavailable("gcc not found (needed for a static test binary)");
  sh("gcc", ["-static", "-O2", "-o", out, src]);
  return out;
}
