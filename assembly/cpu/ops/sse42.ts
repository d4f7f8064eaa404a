// SSE4.2: CRC32 (F2 0F 38 F0/F1) and the string compares PCMPESTRM/PCMPESTRI/PCMPISTRM/
// PCMPISTRI (66 0F 3A 60-63). PCMPGTQ lives with SSE4.1 (sse41.ts).
import { xmmPtr, getReg64, setReg64, setReg32, getRegSized, RAX, RCX, RDX } from "../state";
import { faultPending, raiseUD } from "../fault";
import { modMod, modReg, modRm, rexW, opSize, rexPresent } from "../decode";
import { setStatusFlags, F_CF, F_PF, F_AF, F_ZF, F_SF, F_OF } from "../flags";
import { SRC, loadSrc128, readMsz } from "./sse_util";

// CRC32 r32/r64, r/m8/16/32/64: CRC-32C (polynomial 11EDC6F41h, bit-reflected), SDM CRC32.
export function crc32(b: u32): void {
  const sz: u32 = b == 0xf0 ? 1 : opSize;          // F1: 16 (66), 32, or 64 (REX.W)
  let v: u64;
  if (modMod == 3) v = getRegSized(modRm, sz, rexPresent);
  else { v = readMsz(sz); if (faultPending) return; }
  let crc = <u32>getReg64(modReg);
  for (let i: u32 = 0; i < sz; i++) {
    crc ^= <u32>(v >> (<u64>i << 3)) & 0xff;
    for (let k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82f63b78 & (0 - (crc & 1)));
  }
  if (rexW) setReg64(modReg, <u64>crc); else setReg32(modReg, crc);
}

// Element j of a 16-byte register as a comparable integer (format: imm[1:0]).
@inline function elem(p: usize, j: u32, fmt: u32): i32 {
  if (fmt == 0) return <i32>load<u8>(p + <usize>j);
  if (fmt == 1) return <i32>load<u16>(p + <usize>(j << 1));
  if (fmt == 2) return <i32>load<i8>(p + <usize>j);
  return <i32>load<i16>(p + <usize>(j << 1));
}
function implicitLen(p: usize, n: u32, fmt: u32): u32 {
  for (let j: u32 = 0; j < n; j++) if (elem(p, j, fmt) == 0) return j;
  return n;
}
function explicitLen(r: u32, n: u32): u32 {
  let v: i64 = rexW ? <i64>getReg64(r) : <i64><i32><u32>getReg64(r);
  if (v < 0) v = v == i64.MIN_VALUE ? i64.MAX_VALUE : -v;
  return v > <i64>n ? n : <u32>v;
}

// 66 0F 3A 60-63 (SDM Vol.2 4.1, "Text/String Compare" PCMPESTRI...). a = xmm1 (ModRM.reg),
// b = xmm2/m128 (unaligned memory is allowed).
export function pcmpstr(op: u32, imm: u32): void {
  if (!loadSrc128(false)) return;
  const a = xmmPtr(modReg), bp = SRC;
  const fmt = imm & 3;
  const n: u32 = (fmt & 1) != 0 ? 8 : 16;
  const agg = (imm >> 2) & 3;
  const explicit = op == 0x60 || op == 0x61;
  const la = explicit ? explicitLen(RAX, n) : implicitLen(a, n, fmt);
  const lb = explicit ? explicitLen(RDX, n) : implicitLen(bp, n, fmt);
  let res1: u32 = 0;
  for (let j: u32 = 0; j < n; j++) {
    let bit = false;
    if (agg == 0) {            // equal any
      if (j < lb) for (let i: u32 = 0; i < la; i++) if (elem(bp, j, fmt) == elem(a, i, fmt)) { bit = true; break; }
    } else if (agg == 1) {     // ranges: a holds pairs [lo, hi]
      if (j < lb) {
        const v = elem(bp, j, fmt);
        for (let i: u32 = 0; i + 1 < la; i += 2) {
          if (v >= elem(a, i, fmt) && v <= elem(a, i + 1, fmt)) { bit = true; break; }
        }
      }
    } else if (agg == 2) {     // equal each
      const av = j < la, bv = j < lb;
      bit = (av && bv) ? elem(a, j, fmt) == elem(bp, j, fmt) : (!av && !bv);
    } else {                   // equal ordered: a (needle) occurs in b at j
      bit = true;
      for (let k: u32 = 0; k < n - j; k++) {
        if (k >= la) break;                        // needle exhausted: match
        if (j + k >= lb) { bit = false; break; }   // haystack exhausted
        if (elem(a, k, fmt) != elem(bp, j + k, fmt)) { bit = false; break; }
      }
    }
    if (bit) res1 |= 1 << j;
  }
  const all: u32 = (1 << n) - 1;
  const pol = (imm >> 4) & 3;
  let res2 = res1;
  if (pol == 1) res2 = ~res1 & all;
  else if (pol == 3) res2 = res1 ^ (((<u32>1 << lb) - 1) & all);
  let f: u64 = 0;
  if (res2 != 0) f |= F_CF;
  if (lb < n) f |= F_ZF;
  if (la < n) f |= F_SF;
  if ((res2 & 1) != 0) f |= F_OF;
  setStatusFlags(F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF, f);
  if (op == 0x61 || op == 0x63) {  // index -> ECX
    let idx: u32 = n;
    if (res2 != 0) idx = (imm & 0x40) != 0 ? 31 - clz<u32>(res2) : ctz<u32>(res2);
    setReg32(RCX, idx);
    return;
  }
  const x0 = xmmPtr(0);            // mask -> XMM0
  if ((imm & 0x40) == 0) { store<u64>(x0, <u64>res2); store<u64>(x0 + 8, 0); return; }
  for (let j: u32 = 0; j < n; j++) {
    const m: u32 = ((res2 >> j) & 1) != 0 ? 0xffff : 0;
    if (n == 16) store<u8>(x0 + <usize>j, <u8>m); else store<u16>(x0 + <usize>(j << 1), <u16>m);
  }
}
