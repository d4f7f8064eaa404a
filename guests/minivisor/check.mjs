#!/usr/bin/env node
// Compares a minivisor serial log with guests/minivisor/expected.txt the way it is meant to be
// compared: "info:" lines are skipped (host-dependent), and the lines of each L2 ("[name] ...")
// and the minivisor's own lines are compared as separate streams, each in order. The
// interleaving of different L2s depends on where the preemption timer fires and is not compared.
// Usage: node guests/minivisor/check.mjs SERIAL_FILE [EXPECTED_FILE]   (exit 0: same)
//        node guests/minivisor/check.mjs --as-l2 SERIAL_FILE          (L2s that are guests/ guests)
import { readFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export function streams(text) {
  const out = new Map();
  for (const line of text.replace(/\r/g, "").split("\n")) {
    if (line === "" || line.startsWith("info:")) continue;
    const m = /^\[([^\]]+)\] /.exec(line);
    const key = m ? m[1] : "";
    if (!out.has(key)) out.set(key, []);
    out.get(key).push(line);
  }
  return out;
}

export function compare(got, want) {
  const g = streams(got), w = streams(want), errors = [];
  for (const key of new Set([...w.keys(), ...g.keys()])) {
    const gl = g.get(key) ?? [], wl = w.get(key) ?? [];
    const n = Math.max(gl.length, wl.length);
    for (let i = 0; i < n; i++) {
      if (gl[i] !== wl[i]) {
        errors.push(`${key ? `[${key}]` : "minivisor"} line ${i + 1}: got ${JSON.stringify(gl[i] ?? null)} want ${JSON.stringify(wl[i] ?? null)}`);
        break;
      }
    }
  }
  return errors;
}

// --as-l2: the L2s are ordinary guests of guests/ (hello, modes, paging, ...): compare each L2's
// lines with that guest's own expected.txt (its QEMU output), "info:" lines excepted. The demo's
// "memory..." lines report the L2's memory (32 MiB), not QEMU's 128 MiB, and are skipped.
export function compareAsL2(got, guestsDir) {
  const errors = [], names = [];
  for (const [key, lines] of streams(got)) {
    if (!key) continue;
    const f = join(guestsDir, key, "expected.txt");
    if (!existsSync(f)) { errors.push(`[${key}]: no ${f}`); continue; }
    names.push(key);
    const strip = (l) => l.replace(/^\[[^\]]+\] /, "");
    const skip = (l) => l.startsWith("info:") || (key === "demo" && l.startsWith("memory"));
    const gl = lines.map(strip).filter((l) => !skip(l));
    const wl = readFileSync(f, "utf8").split("\n").filter((l) => l !== "" && !skip(l));
    for (let i = 0; i < Math.max(gl.length, wl.length); i++)
      if (gl[i] !== wl[i]) { errors.push(`[${key}] line ${i + 1}: got ${JSON.stringify(gl[i] ?? null)} want ${JSON.stringify(wl[i] ?? null)}`); break; }
  }
  return { errors, names };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url));
  if (process.argv[2] === "--as-l2") {
    const { errors, names } = compareAsL2(readFileSync(process.argv[3], "utf8"), join(here, ".."));
    for (const e of errors) console.log(`not ok - ${e}`);
    if (!errors.length) console.log(`ok - ${names.join(" ")} as L2 print their expected.txt`);
    process.exit(errors.length || !names.length ? 1 : 0);
  }
  const [serialFile, expFile] = process.argv.slice(2);
  if (!serialFile) { console.error("usage: check.mjs SERIAL_FILE [EXPECTED_FILE]"); process.exit(2); }
  const want = readFileSync(expFile ?? join(dirname(fileURLToPath(import.meta.url)), "expected.txt"), "utf8");
  const errors = compare(readFileSync(serialFile, "utf8"), want);
  for (const e of errors) console.log(`not ok - ${e}`);
  if (!errors.length) console.log("ok - minivisor output matches expected.txt (per stream)");
  process.exit(errors.length ? 1 : 0);
}
