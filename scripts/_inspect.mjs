import binaryen from "binaryen";
import { readFileSync } from "node:fs";
const m = binaryen.readBinary(readFileSync(process.argv[2]));
const n = m.getNumGlobals();
for (let i = 0; i < n; i++) {
  const g = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
  if (g.mutable || g.name.includes("heap") || g.name.includes("data_end")) console.log(g.mutable?"M":" ", g.type, g.name, g.mutable?"":binaryen.getExpressionInfo(g.init).value);
}
const ns = m.getNumMemorySegments();
console.log("segments", ns);
try { for (let i = 0; i < ns; i++) { const s = m.getMemorySegmentInfo(String(i)); console.log(s.offset, s.data.byteLength); } } catch(e) { console.log("err", e.message) }
