// End-to-end nesting: the bundled L1 hypervisor (guests/minivisor) runs under nestvm's VMX,
// launches L2 guests with VMLAUNCH under its EPT and prints what they print. The expected output
// was recorded on Bochs 2.7 (the one other software VMX); L2 lines are compared per L2 in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../qemu/qemu.mjs";
import { compare, compareAsL2 } from "../../guests/minivisor/check.mjs";

const hostPath = join(ROOT, "build", "host.mjs");
const host = existsSync(hostPath) ? await import(pathToFileURL(hostPath).href) : null;
const bin = (n) => readFileSync(join(ROOT, "guests", "bin", `${n}.elf`));

async function runL1(l2s, opts = {}) {
  const modules = l2s.map((n) => ({ data: bin(n), cmdline: `${n}.elf` }));
  return host.runImage(bin("minivisor"), { name: "minivisor.elf", memBytes: 256 << 20, maxSeconds: 120, modules, ...opts });
}

test("L1 minivisor runs two L2 guests (the npm start demo) as on Bochs", { skip: !host, timeout: 300_000 }, async () => {
  const r = await runL1(["l2-hello", "l2-count"]);
  const want = readFileSync(join(ROOT, "guests", "minivisor", "expected.txt"), "utf8");
  assert.deepEqual(compare(r.serial, want), [], r.serial);
  assert.match(r.serial, /L2 0 'l2-hello': exit code 0/);
  assert.match(r.serial, /ept-violation\s+16 exits/);
  assert.equal(r.reason, "exit");
  assert.equal(r.exitCode, 1);
});

test("ordinary guests run unchanged as L2s under the minivisor", { skip: !host, timeout: 300_000 }, async () => {
  const r = await runL1(["hello", "usermode32", "paging"]);
  const { errors, names } = compareAsL2(r.serial, join(ROOT, "guests"));
  assert.deepEqual(errors, [], r.serial);
  assert.deepEqual(names.sort(), ["hello", "paging", "usermode32"]);
  assert.equal(r.exitCode, 1);
});

test("--nested off: the minivisor finds no VMX and says so", { skip: !host, timeout: 120_000 }, async () => {
  const r = await runL1(["l2-hello"], { nested: false });
  assert.match(r.serial, /VMX/);
  assert.notEqual(r.exitCode, 1, r.serial);
});
