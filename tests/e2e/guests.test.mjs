// End-to-end: every guest image runs in nestvm (build/host.mjs runImage) and must print
// exactly guests/<name>/expected.txt (the QEMU output; "info:" lines excepted) and exit
// through isa-debug-exit with 0 (exitCode 1, as QEMU's status).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, listGuests, imagePath, expectedText, normalize } from "../qemu/qemu.mjs";

const hostPath = join(ROOT, "build", "host.mjs");
const host = existsSync(hostPath) ? await import(pathToFileURL(hostPath).href) : null;
const skip = !host ? "build/host.mjs not built" : typeof host.runImage !== "function" ? "build/host.mjs has no runImage" : false;

for (const name of listGuests()) {
  test(`guest ${name} runs in nestvm like on QEMU`, { skip, timeout: 180_000 }, async () => {
    const bytes = readFileSync(imagePath(name));
    const r = await host.runImage(bytes, { name, memBytes: 128 << 20, maxSeconds: 60 });
    const got = normalize(r.serial), want = normalize(expectedText(name));
    const gl = got.split("\n"), wl = want.split("\n");
    const i = wl.findIndex((l, k) => gl[k] !== l);
    assert.equal(got, want, `serial differs at line ${i + 1}: got ${JSON.stringify(gl[i])} want ${JSON.stringify(wl[i])} (reason ${r.reason} ${r.message ?? ""})`);
    // runImage reports isa-debug-exit like QEMU's exit status: (value << 1) | 1; guests write 0.
    assert.equal(r.reason, "exit", `stopped by ${r.reason} ${r.message ?? ""}`);
    assert.equal(r.exitCode, 1, `exit code ${r.exitCode}`);
  });
}
