// Chromium check: node tests/platform/chromium.mjs (after `node scripts/build.mjs`).
// Opens two pages from file:// in headless Chromium (/usr/bin/chromium, no playwright needed):
//  1. a generated page that loads build/nestvm.iife.js and runs tests/platform/check.mjs's
//     checks against the `nestvm` global;
//  2. build/web/index.html, the demo page, checking that it boots (or reports no demo image).
// Reads the resulting DOM with --dump-dom. Exits non-zero on failure.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(chromium)) { console.error(`chromium: ${chromium} not found (apt-get install -y chromium)`); process.exit(1); }
const root = resolve(new URL("../..", import.meta.url).pathname);
const iife = join(root, "build/nestvm.iife.js");
if (!existsSync(iife)) { console.error("chromium: build/nestvm.iife.js missing (run node scripts/build.mjs)"); process.exit(1); }

function dumpDom(url, budgetMs) {
  const r = spawnSync(chromium, [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--allow-file-access-from-files", `--virtual-time-budget=${budgetMs}`, "--dump-dom", url,
  ], { encoding: "utf8", timeout: 120000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return r.stdout;
}

let failed = 0;
// 1. library checks
const dir = mkdtempSync(join(tmpdir(), "nestvm-chromium-"));
const check = readFileSync(join(root, "tests/platform/check.mjs"), "utf8").replace(/^export /m, "");
// The same demo image the build embeds: guests/bin/demo.elf, else the first guests/bin/*.elf.
const bin = join(root, "guests/bin");
const elfs = existsSync(bin) ? readdirSync(bin).filter((f) => f.endsWith(".elf")).sort() : [];
const demoName = elfs.includes("demo.elf") ? "demo.elf" : elfs[0];
const demoB64 = demoName ? readFileSync(join(bin, demoName)).toString("base64") : "";
const page = join(dir, "check.html");
writeFileSync(page, `<!doctype html><meta charset="utf-8"><script src="file://${iife}"></script>
<pre id="log"></pre><script>
${check}
const demo = ${JSON.stringify(demoB64)} ? Uint8Array.from(atob(${JSON.stringify(demoB64)}), (c) => c.charCodeAt(0)) : null;
const logEl = document.getElementById("log");
platformCheck(nestvm, demo, (s) => { logEl.textContent += s + "\\n"; })
  .then((f) => { logEl.textContent += f.length ? "RESULT: FAIL\\n" : "RESULT: PASS\\n"; })
  .catch((e) => { logEl.textContent += "RESULT: FAIL " + e + "\\n"; });
</script>`);
const dom1 = dumpDom(`file://${page}`, 60000);
const log = (/<pre id="log">([\s\S]*?)<\/pre>/.exec(dom1) ?? [, ""])[1];
console.log(log.trim());
if (!/RESULT: PASS/.test(log)) { console.error("chromium: library checks failed"); failed++; }

// 2. the demo page
const webPage = join(root, "build/web/index.html");
const dom2 = dumpDom(`file://${webPage}`, 60000);
const status = /<div id="status"([^>]*)>([\s\S]*?)<\/div>/.exec(dom2);
console.log(`demo page status: ${status ? status[2] : "(missing)"}`);
if (!status) { console.error("chromium: demo page did not render"); failed++; }
else if (demoB64) {
  if (!/data-reason="(exit|halt)"/.test(status[1])) { console.error("chromium: demo did not run to completion"); failed++; }
} else if (!/no demo image/.test(status[2])) { console.error("chromium: demo page script did not run"); failed++; }

console.log(failed ? "chromium: FAILED" : "chromium: all checks passed");
process.exit(failed ? 1 : 0);
