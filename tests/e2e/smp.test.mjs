// End-to-end SMP: guests with SMP=N in build.conf (guests/smp) boot with N vCPUs, start the APs
// with INIT/SIPI/SIPI, count with LOCK and send IPIs; the output must equal guests/<name>/expected.txt
// (QEMU TCG with -smp N). With --tsc icount the run is deterministic: two runs retire the same
// number of instructions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, GUESTS, imagePath, expectedText, normalize } from "../qemu/qemu.mjs";

const hostPath = join(ROOT, "build", "host.mjs");
const host = existsSync(hostPath) ? await import(pathToFileURL(hostPath).href) : null;
const skip = !host ? "build/host.mjs not built" : false;

const smpGuests = readdirSync(GUESTS, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(GUESTS, d.name, "build.conf")))
  .map((d) => [d.name, /^SMP=(\d+)/m.exec(readFileSync(join(GUESTS, d.name, "build.conf"), "utf8"))])
  .filter(([, m]) => m).map(([n, m]) => [n, Number(m[1])]).sort();

test("there is an SMP guest", () => { assert.ok(smpGuests.some(([n]) => n === "smp")); });

for (const [name, cpus] of smpGuests) {
  test(`guest ${name} runs on ${cpus} vCPUs like on QEMU -smp ${cpus}`, { skip, timeout: 120_000 }, async () => {
    const r = await host.runImage(readFileSync(imagePath(name)), { name, cpus, memBytes: 128 << 20, maxSeconds: 60 });
    assert.equal(normalize(r.serial), normalize(expectedText(name)), `reason ${r.reason} ${r.message ?? ""}`);
    assert.equal(r.reason, "exit");
    assert.equal(r.exitCode, 1);
  });
}

test("SMP runs are deterministic with --tsc icount", { skip, timeout: 120_000 }, async () => {
  const runs = [];
  for (let k = 0; k < 2; k++) {
    const r = await host.runImage(readFileSync(imagePath("smp")), { cpus: 4, tsc: "icount", memBytes: 64 << 20, maxSeconds: 60 });
    assert.equal(r.exitCode, 1, r.serial);
    runs.push(r.instructions);
  }
  assert.equal(runs[0], runs[1]);
});

test("with fewer vCPUs than it needs the SMP guest says so (1 vCPU: no APs)", { skip, timeout: 60_000 }, async () => {
  const r = await host.runImage(readFileSync(imagePath("smp")), { cpus: 1, memBytes: 64 << 20, maxSeconds: 30 });
  assert.match(r.serial, /not ok 1 - needs 2\.\.16 CPUs, fw_cfg says 1/);
});

test("Machine.reset() puts the APs back into wait-for-SIPI: the SMP guest runs again", { skip, timeout: 120_000 }, async () => {
  const img = readFileSync(imagePath("smp"));
  let out = "";
  const m = await host.Machine.create({ cpus: 4, memBytes: 64 << 20, serialOut: (b) => { out += new TextDecoder().decode(b); } });
  for (let k = 0; k < 2; k++) {
    out = "";
    if (k) m.reset();
    m.loadMultiboot(img);
    const r = await m.run({ maxSeconds: 60 });
    assert.equal(r.exitCode, 1, out);
    assert.deepEqual(m.sched.vcpus.map((v) => v.state), ["run", "run", "run", "run"]);
    assert.equal(normalize(out), normalize(expectedText("smp")));
  }
});

test("the instruction count is the sum over the vCPUs, across INIT/SIPI and every vCPU switch", { skip, timeout: 120_000 }, async () => {
  // INIT/SIPI processing loads the target vCPU outside Machine.selectCpu; the count once went
  // negative there, and the realtime clock (which follows the count) then jumped.
  const m = await host.Machine.create({ cpus: 4, tsc: "icount", memBytes: 64 << 20 });
  m.loadMultiboot(readFileSync(imagePath("smp")), { name: "smp" });
  const r = await m.run({ maxSeconds: 60 });
  assert.equal(r.exitCode, 1);
  const per = m.sched.vcpus.map((v) => v.instructions);
  assert.ok(per.every((n) => n > 0n), per.join(","));
  assert.equal(r.instructions, per.reduce((a, b) => a + b, 0n));
});
