// SSE2 / MMX integer SIMD. One lane engine works on n = 16 (XMM) or n = 8 (MMX) bytes:
// result(d, s) -> RES; the caller commits RES to the destination register.
import { faultPending, raiseUD } from "../fault";
import { RES, TMP } from "./sse_util";

@inline function sat8s(v: i32): u32 { return <u32>(v < -128 ? -128 : (v > 127 ? 127 : v)) & 0xff; }
@inline function sat8u(v: i32): u32 { return <u32>(v < 0 ? 0 : (v > 255 ? 255 : v)); }
@inline function sat16s(v: i32): u32 { return <u32>(v < -32768 ? -32768 : (v > 32767 ? 32767 : v)) & 0xffff; }
@inline function sat16u(v: i32): u32 { return <u32>(v < 0 ? 0 : (v > 65535 ? 65535 : v)); }

// Element-wise binary op of byte size e. Returns false if opc is not a lane op.
function lanes(opc: u32, d: usize, s: usize, n: usize): bool {
  switch (opc) {
    // --- byte lanes
    case 0x64: case 0x74: case 0xd8: case 0xda: case 0xdc: case 0xde: case 0xe0:
    case 0xe8: case 0xec: case 0xf8: case 0xfc: {
      for (let i: usize = 0; i < n; i++) {
        const a = <i32>load<u8>(d + i), b = <i32>load<u8>(s + i);
        const sa = <i32><i8>a, sb = <i32><i8>b;
        let r: u32;
        switch (opc) {
          case 0x64: r = sa > sb ? 0xff : 0; break;
          case 0x74: r = a == b ? 0xff : 0; break;
          case 0xd8: r = sat8u(a - b); break;
          case 0xda: r = <u32>(a < b ? a : b); break;
          case 0xdc: r = sat8u(a + b); break;
          case 0xde: r = <u32>(a > b ? a : b); break;
          case 0xe0: r = <u32>((a + b + 1) >> 1); break;
          case 0xe8: r = sat8s(sa - sb); break;
          case 0xec: r = sat8s(sa + sb); break;
          case 0xf8: r = <u32>(a - b); break;
          default: r = <u32>(a + b); break; // fc
        }
        store<u8>(RES + i, <u8>r);
      }
      return true;
    }
    // --- word lanes
    case 0x65: case 0x75: case 0xd5: case 0xd9: case 0xdd: case 0xe3: case 0xe4: case 0xe5:
    case 0xe9: case 0xea: case 0xed: case 0xee: case 0xf9: case 0xfd: {
      for (let i: usize = 0; i < n; i += 2) {
        const a = <i32>load<u16>(d + i), b = <i32>load<u16>(s + i);
        const sa = <i32><i16>a, sb = <i32><i16>b;
        let r: u32;
        switch (opc) {
          case 0x65: r = sa > sb ? 0xffff : 0; break;
          case 0x75: r = a == b ? 0xffff : 0; break;
          case 0xd5: r = <u32>(sa * sb); break;
          case 0xd9: r = sat16u(a - b); break;
          case 0xdd: r = sat16u(a + b); break;
          case 0xe3: r = <u32>((a + b + 1) >> 1); break;
          case 0xe4: r = <u32>(a * b) >> 16; break;
          case 0xe5: r = <u32>((sa * sb) >> 16); break;
          case 0xe9: r = sat16s(sa - sb); break;
          case 0xea: r = <u32>(sa < sb ? sa : sb); break;
          case 0xed: r = sat16s(sa + sb); break;
          case 0xee: r = <u32>(sa > sb ? sa : sb); break;
          case 0xf9: r = <u32>(a - b); break;
          default: r = <u32>(a + b); break; // fd
        }
        store<u16>(RES + i, <u16>r);
      }
      return true;
    }
    // --- dword lanes
    case 0x66: case 0x76: case 0xfa: case 0xfe: {
      for (let i: usize = 0; i < n; i += 4) {
        const a = load<u32>(d + i), b = load<u32>(s + i);
        let r: u32;
        if (opc == 0x66) r = <i32>a > <i32>b ? 0xffffffff : 0;
        else if (opc == 0x76) r = a == b ? 0xffffffff : 0;
        else if (opc == 0xfa) r = a - b;
        else r = a + b;
        store<u32>(RES + i, r);
      }
      return true;
    }
    // --- qword lanes and whole-register logic
    case 0xd4: case 0xfb: case 0xf4: case 0xdb: case 0xdf: case 0xeb: case 0xef: {
      for (let i: usize = 0; i < n; i += 8) {
        const a = load<u64>(d + i), b = load<u64>(s + i);
        let r: u64;
        switch (opc) {
          case 0xd4: r = a + b; break;
          case 0xfb: r = a - b; break;
          case 0xf4: r = (a & 0xffffffff) * (b & 0xffffffff); break;
          case 0xdb: r = a & b; break;
          case 0xdf: r = ~a & b; break;
          case 0xeb: r = a | b; break;
          default: r = a ^ b; break;
        }
        store<u64>(RES + i, r);
      }
      return true;
    }
    case 0xf5: { // PMADDWD
      for (let i: usize = 0; i < n; i += 4) {
        const r = <i32><i16>load<u16>(d + i) * <i32><i16>load<u16>(s + i) +
          <i32><i16>load<u16>(d + i + 2) * <i32><i16>load<u16>(s + i + 2);
        store<i32>(RES + i, r); // wraps only for 0x8000*0x8000*2, as the CPU does
      }
      return true;
    }
    case 0xf6: { // PSADBW
      for (let i: usize = 0; i < n; i += 8) {
        let sum: u32 = 0;
        for (let j: usize = 0; j < 8; j++) {
          const x = <i32>load<u8>(d + i + j) - <i32>load<u8>(s + i + j);
          sum += <u32>(x < 0 ? -x : x);
        }
        store<u64>(RES + i, <u64>sum);
      }
      return true;
    }
    default: return false;
  }
}

// Unpacks and packs.
function unpackPack(opc: u32, d: usize, s: usize, n: usize): bool {
  let e: usize = 0, hi = false;
  switch (opc) {
    case 0x60: e = 1; break; case 0x61: e = 2; break; case 0x62: e = 4; break; case 0x6c: e = 8; break;
    case 0x68: e = 1; hi = true; break; case 0x69: e = 2; hi = true; break;
    case 0x6a: e = 4; hi = true; break; case 0x6d: e = 8; hi = true; break;
    default: break;
  }
  if (e != 0) {
    const base: usize = hi ? n >> 1 : 0;
    for (let k: usize = 0; k < (n >> 1); k += e) {
      for (let j: usize = 0; j < e; j++) {
        store<u8>(RES + 2 * k + j, load<u8>(d + base + k + j));
        store<u8>(RES + 2 * k + e + j, load<u8>(s + base + k + j));
      }
    }
    return true;
  }
  if (opc == 0x63 || opc == 0x67) { // PACKSSWB / PACKUSWB
    const h = n >> 1;
    for (let i: usize = 0; i < h; i++) {
      const a = <i32>load<i16>(d + 2 * i), b = <i32>load<i16>(s + 2 * i);
      store<u8>(RES + i, <u8>(opc == 0x63 ? sat8s(a) : sat8u(a)));
      store<u8>(RES + h + i, <u8>(opc == 0x63 ? sat8s(b) : sat8u(b)));
    }
    return true;
  }
  if (opc == 0x6b) { // PACKSSDW
    const h = n >> 1;
    for (let i: usize = 0; i < h; i += 2) {
      const a = load<i32>(d + 2 * i), b = load<i32>(s + 2 * i);
      store<u16>(RES + i, <u16>(a < -32768 ? -32768 : (a > 32767 ? 32767 : a)));
      store<u16>(RES + h + i, <u16>(b < -32768 ? -32768 : (b > 32767 ? 32767 : b)));
    }
    return true;
  }
  return false;
}

// Shift every e-byte element of d by count; kind 2 = logical right, 4 = arithmetic right,
// 6 = left (the ModRM.reg numbers of groups 71-73).
export function shiftLanes(kind: u32, e: u32, d: usize, n: usize, count: u64): void {
  const bits = <u64>(e * 8);
  for (let i: usize = 0; i < n; i += <usize>e) {
    let v: u64 = e == 2 ? <u64>load<u16>(d + i) : (e == 4 ? <u64>load<u32>(d + i) : load<u64>(d + i));
    if (kind == 4) {
      const c = count > bits - 1 ? bits - 1 : count;
      const sv: i64 = e == 2 ? <i64><i16>v : (e == 4 ? <i64><i32>v : <i64>v);
      v = <u64>(sv >> <i64>c);
    } else if (count >= bits) v = 0;
    else if (kind == 2) v = v >> count;
    else v = v << count;
    if (e == 2) store<u16>(RES + i, <u16>v); else if (e == 4) store<u32>(RES + i, <u32>v); else store<u64>(RES + i, v);
  }
}

// PSRLDQ (right) / PSLLDQ (left) by imm bytes on a 16-byte register.
export function byteShift(d: usize, count: u32, left: bool): void {
  for (let i: i32 = 0; i < 16; i++) {
    const src = left ? i - <i32>count : i + <i32>count;
    store<u8>(RES + <usize>i, (src >= 0 && src < 16) ? load<u8>(d + <usize>src) : 0);
  }
}

// Full binary integer op (lanes, packs, shifts by register). Returns false if unknown.
export function intBinary(opc: u32, d: usize, s: usize, n: usize): bool {
  if (lanes(opc, d, s, n)) return true;
  if (unpackPack(opc, d, s, n)) return true;
  let kind: u32 = 0, e: u32 = 0;
  switch (opc) {
    case 0xd1: kind = 2; e = 2; break; case 0xd2: kind = 2; e = 4; break; case 0xd3: kind = 2; e = 8; break;
    case 0xe1: kind = 4; e = 2; break; case 0xe2: kind = 4; e = 4; break;
    case 0xf1: kind = 6; e = 2; break; case 0xf2: kind = 6; e = 4; break; case 0xf3: kind = 6; e = 8; break;
    default: return false;
  }
  shiftLanes(kind, e, d, n, load<u64>(s));
  return true;
}

// PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2), PSHUFW (MMX, n = 8) of source s into RES.
export function pshuf(p: u32, s: usize, imm: u32): void {
  if (p == 1) {
    for (let i: usize = 0; i < 4; i++) store<u32>(RES + 4 * i, load<u32>(s + 4 * <usize>((imm >> (2 * <u32>i)) & 3)));
    return;
  }
  if (p == 0) {
    for (let i: usize = 0; i < 4; i++) store<u16>(RES + 2 * i, load<u16>(s + 2 * <usize>((imm >> (2 * <u32>i)) & 3)));
    return;
  }
  const o: usize = p == 2 ? 8 : 0; // F3: high quadword shuffled; F2: low
  store<u64>(RES + (8 - o), load<u64>(s + (8 - o)));
  for (let i: usize = 0; i < 4; i++) store<u16>(RES + o + 2 * i, load<u16>(s + o + 2 * <usize>((imm >> (2 * <u32>i)) & 3)));
}

// PMOVMSKB mask of n bytes.
export function pmovmskb(s: usize, n: usize): u32 {
  let m: u32 = 0;
  for (let i: usize = 0; i < n; i++) m |= (<u32>load<u8>(s + i) >> 7) << <u32>i;
  return m;
}

// ---- SSSE3 (0F 38 00-0B, 1C-1E; 0F 3A 0F) ------------------------------------------------
export function ssse3(op: u32, d: usize, s: usize, n: usize): bool {
  switch (op) {
    case 0x00: { // PSHUFB
      for (let i: usize = 0; i < n; i++) {
        const c = load<u8>(s + i);
        store<u8>(RES + i, (c & 0x80) != 0 ? 0 : load<u8>(d + (<usize>c & (n - 1))));
      }
      return true;
    }
    case 0x01: case 0x02: case 0x03: case 0x05: case 0x06: case 0x07: { // PHADD/PHSUB W/D/SW
      const e: usize = (op == 0x02 || op == 0x06) ? 4 : 2;
      const sub = op >= 5;
      const h = n >> 1;
      for (let k: usize = 0; k < 2; k++) {
        const src = k == 0 ? d : s;
        for (let i: usize = 0; i < h; i += e) {
          const p = src + 2 * i;
          let r: i32;
          if (e == 4) r = sub ? load<i32>(p) - load<i32>(p + 4) : load<i32>(p) + load<i32>(p + 4);
          else {
            const a = <i32>load<i16>(p), b = <i32>load<i16>(p + 2);
            r = sub ? a - b : a + b;
            if (op == 0x03 || op == 0x07) r = <i32>sat16s(r);
          }
          if (e == 4) store<i32>(TMP + k * h + i, r); else store<u16>(TMP + k * h + i, <u16>r);
        }
      }
      for (let i: usize = 0; i < n; i += 8) store<u64>(RES + i, load<u64>(TMP + i));
      return true;
    }
    case 0x04: { // PMADDUBSW
      for (let i: usize = 0; i < n; i += 2) {
        const r = <i32>load<u8>(d + i) * <i32>load<i8>(s + i) + <i32>load<u8>(d + i + 1) * <i32>load<i8>(s + i + 1);
        store<u16>(RES + i, <u16>sat16s(r));
      }
      return true;
    }
    case 0x08: case 0x09: case 0x0a: { // PSIGNB/W/D
      const e: usize = op == 0x08 ? 1 : (op == 0x09 ? 2 : 4);
      for (let i: usize = 0; i < n; i += e) {
        const a: i64 = e == 1 ? <i64>load<i8>(d + i) : (e == 2 ? <i64>load<i16>(d + i) : <i64>load<i32>(d + i));
        const b: i64 = e == 1 ? <i64>load<i8>(s + i) : (e == 2 ? <i64>load<i16>(s + i) : <i64>load<i32>(s + i));
        const r: i64 = b < 0 ? -a : (b == 0 ? 0 : a);
        if (e == 1) store<u8>(RES + i, <u8>r); else if (e == 2) store<u16>(RES + i, <u16>r); else store<u32>(RES + i, <u32>r);
      }
      return true;
    }
    case 0x0b: { // PMULHRSW
      for (let i: usize = 0; i < n; i += 2) {
        const t = ((<i32>load<i16>(d + i) * <i32>load<i16>(s + i)) >> 14) + 1;
        store<u16>(RES + i, <u16>(t >> 1));
      }
      return true;
    }
    case 0x1c: case 0x1d: case 0x1e: { // PABSB/W/D (of the source)
      const e: usize = op == 0x1c ? 1 : (op == 0x1d ? 2 : 4);
      for (let i: usize = 0; i < n; i += e) {
        const b: i64 = e == 1 ? <i64>load<i8>(s + i) : (e == 2 ? <i64>load<i16>(s + i) : <i64>load<i32>(s + i));
        const r: i64 = b < 0 ? -b : b;
        if (e == 1) store<u8>(RES + i, <u8>r); else if (e == 2) store<u16>(RES + i, <u16>r); else store<u32>(RES + i, <u32>r);
      }
      return true;
    }
    default: return false;
  }
}

// PALIGNR: (d:s) >> (imm*8), low n bytes.
export function palignr(d: usize, s: usize, n: usize, imm: u32): void {
  for (let i: usize = 0; i < n; i++) {
    const k = <usize>imm + i;
    let b: u8 = 0;
    if (k < n) b = load<u8>(s + k); else if (k < 2 * n) b = load<u8>(d + k - n);
    store<u8>(TMP + i, b);
  }
  for (let i: usize = 0; i < n; i += 8) store<u64>(RES + i, load<u64>(TMP + i));
}

