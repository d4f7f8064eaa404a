// Random x86-64 test-case generator for the differential test (run.mjs).
// Encodes instructions itself from tables (legacy/REX/66/F2/F3 prefixes, ModRM, SIB,
// displacements, immediates). Every case is reproducible from (seed, index) alone.
//
// Invariants the cases keep so they run identically natively and in nestvm:
// - R15 = BASE (middle of the 8 KiB data buffer) is never written; RSP is only changed by
//   PUSH/POP and stays in the buffer; no instruction writes RSP/SPL or R15 otherwise.
// - Every memory operand lands in the data buffer (or, RIP-relative, in the pattern half of
//   the code page). Address registers are loaded right before their use ("setup" moves).
// - Control flow: only short/near forward jumps over whole units inside the case.
// - Each instruction declares which status flags it reads, leaves defined, and leaves
//   undefined (SDM "Flags Affected"); the case tracks them and never reads an undefined flag,
//   and the comparison masks flags left undefined at the end (`flagMask`).

export const CODE = 0x10000000, DATA = 0x20000000, DATA_SIZE = 0x2000;
export const BASE = DATA + 0x1000, STACK = DATA + 0x1800;
export const RIPDATA = CODE + 0x800, RIPDATA_END = CODE + 0x1000;

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
export const STATUS = CF | PF | AF | ZF | SF | OF;
const DF = 0x400;
const CC_READS = [OF, OF, CF, CF, ZF, ZF, CF | ZF, CF | ZF, SF, SF, PF, PF, SF | OF, SF | OF, ZF | SF | OF, ZF | SF | OF];
const RSP = 4, R15 = 15;

// ---------------------------------------------------------------- PRNG (sfc32)
export function makeRng(seed, index) {
  let a = 0x9e3779b9, b = seed >>> 0, c = index >>> 0, d = 0x85ebca6b ^ Math.floor(seed / 0x100000000);
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  const r = {
    u32: next,
    below: (n) => next() % n,
    range: (lo, hi) => lo + (next() % (hi - lo + 1)),
    chance: (p) => next() / 4294967296 < p,
    pick: (arr) => arr[next() % arr.length],
    u64: () => (BigInt(next()) << 32n) | BigInt(next()),
  };
  return r;
}

// ---------------------------------------------------------------- value pools
const M64 = (1n << 64n) - 1n;
const GPR_SPECIAL = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, M64,
  M64 - 1n, 0xffffffff80000000n, 0xffffffffffff8000n, 0xffffffffffffff80n, 0x8000000080000000n];

function gprValue(r) {
  switch (r.below(7)) {
    case 0: return r.u64();
    case 1: return BigInt(r.u32());
    case 2: return BigInt(r.below(256));
    case 3: return (-BigInt(r.below(256) + 1)) & M64;
    case 4: return r.pick(GPR_SPECIAL);
    case 5: return r.u64() & (r.chance(0.5) ? 0xffffn : 0xffffffffn) | (r.chance(0.5) ? 0xffffffff00000000n : 0n);
    default: return BigInt(BASE - 0x400 + r.below(0x800));
  }
}

// float32 / float64 bit patterns: zeros, infinities, NaNs, denormals, boundaries of int conversions.
const F32_SPECIAL = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00001,
  0xff812345, 0x00000001, 0x807fffff, 0x00400000, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff,
  0x3f800000, 0xbf800000, 0x3f000000, 0xbfc00000, 0x40200000, 0x4effffff, 0x4f000000, 0xcf000000, 0xcf000001,
  0x5effffff, 0x5f000000, 0xdf000000, 0xdf000001, 0x3effffff, 0x3f400000, 0x4b000001, 0x4b7fffff,
  0x4f800000, 0x5f800000, 0x477fff00, 0xc7000000];
const F64_SPECIAL = [0n, 0x8000000000000000n, 0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n,
  0xfff8000000000000n, 0x7ff4000000000001n, 0xfff0000000000123n, 1n, 0x800fffffffffffffn, 0x0008000000000000n,
  0x0010000000000000n, 0x8010000000000000n, 0x7fefffffffffffffn, 0xffefffffffffffffn, 0x3ff0000000000000n,
  0xbff0000000000000n, 0x3fe0000000000000n, 0xbff8000000000000n, 0x41dfffffffc00000n, 0x41dfffffffe00000n,
  0x41e0000000000000n, 0xc1e0000000000000n, 0xc1e0000000200000n, 0xc1e0000000100000n, 0x43dfffffffffffffn,
  0x43e0000000000000n, 0xc3e0000000000000n, 0xc3e0000000000001n, 0x3fdfffffffffffffn, 0x4330000000000001n,
  0x41f0000000000000n, 0x36a0000000000000n, 0x380fffffe0000000n, 0x3810000000000000n, 0x47efffffe0000000n,
  0x47effffff0000000n, 0x47f0000000000000n, 0x3ff0000000000001n];

function f32Value(r) {
  const k = r.below(8);
  if (k < 3) return r.pick(F32_SPECIAL);
  if (k < 5) { // "reasonable" floats
    const e = r.range(100, 154);
    return ((r.chance(0.5) ? 0x80000000 : 0) | (e << 23) | (r.u32() & 0x7fffff)) >>> 0;
  }
  if (k < 6) return f32bits(r.range(-100000, 100000) / (r.chance(0.5) ? 1 : 8));
  return r.u32();
}
const f32buf = new DataView(new ArrayBuffer(8));
function f32bits(x) { f32buf.setFloat32(0, x, true); return f32buf.getUint32(0, true); }
function f64bits(x) { f32buf.setFloat64(0, x, true); return f32buf.getBigUint64(0, true); }
function f64Value(r) {
  const k = r.below(8);
  if (k < 3) return r.pick(F64_SPECIAL);
  if (k < 5) {
    const e = BigInt(r.range(1000, 1050));
    return ((r.chance(0.5) ? 1n << 63n : 0n) | (e << 52n) | (r.u64() & ((1n << 52n) - 1n)));
  }
  if (k < 6) return f64bits(r.range(-3000000000, 3000000000) / (r.chance(0.5) ? 1 : 4));
  return r.u64();
}

function xmmValue(r, dv0, off) {
  const dv = { setUint32: (o, v, l) => dv0.setUint32(off + o, v, l), setUint16: (o, v, l) => dv0.setUint16(off + o, v, l), setBigUint64: (o, v, l) => dv0.setBigUint64(off + o, v, l) };
  switch (r.below(5)) {
    case 0: for (let i = 0; i < 4; i++) dv.setUint32(i * 4, f32Value(r), true); break;
    case 1: for (let i = 0; i < 2; i++) dv.setBigUint64(i * 8, f64Value(r), true); break;
    case 2: for (let i = 0; i < 4; i++) dv.setUint32(i * 4, r.u32(), true); break;
    case 3: for (let i = 0; i < 8; i++) dv.setUint16(i * 2, r.chance(0.3) ? r.pick([0, 0x7fff, 0x8000, 0xffff, 0x7f, 0x80, 0xff, 1]) : r.u32() & 0xffff, true); break;
    default: for (let i = 0; i < 4; i++) dv.setUint32(i * 4, r.chance(0.5) ? f32Value(r) : r.u32(), true);
  }
}

function mxcsrValue(r) {
  let v = 0x1f80;
  if (r.chance(0.5)) v = (v & ~0x6000) | (r.below(4) << 13);           // rounding control
  if (r.chance(0.2)) v |= 0x8000;                                       // FTZ
  if (r.chance(0.2)) v |= 0x40;                                         // DAZ
  if (r.chance(0.3)) v |= r.below(64);                                  // sticky flags
  if (r.chance(0.08)) v &= ~(1 << (7 + r.below(6)));                    // unmask one exception
  return v;
}

// ---------------------------------------------------------------- encoder
// An encoded instruction: {bytes:number[], name, reads, defs, undefs, writes:Set(phys regs),
//   stack:number (RSP delta), patches, ripFix} ; see unit().
function hex(b) { return b.toString(16).padStart(2, "0"); }

// Memory operand descriptor -> {mod, rm, sib|null, disp:number[], rexX, rexB, p67, ripTarget}
function le(v, n) {
  const o = [];
  if (typeof v === "bigint") { for (let i = 0; i < n; i++) o.push(Number(BigInt.asUintN(64, v) >> BigInt(8 * i) & 0xffn)); return o; }
  const lo = v >>> 0, hi = v < 0 ? 0xffffffff : Math.floor(v / 4294967296) >>> 0;
  for (let i = 0; i < n; i++) o.push(((i < 4 ? lo : hi) >>> (8 * (i & 3))) & 0xff);
  return o;
}
const fitsI8 = (d) => d >= -128 && d <= 127;

// Build ModRM/SIB/disp for base/index/scale/disp (base/index are reg numbers or -1).
// mode: 'abs' for no base with SIB, 'rip' for RIP-relative.
function addrBytes({ base = -1, index = -1, scale = 1, disp = 0, dispSize = null, rip = false }) {
  const ss = { 1: 0, 2: 1, 4: 2, 8: 3 }[scale];
  let mod, rm, sib = null, d = [];
  let rexX = 0, rexB = 0;
  if (rip) { return { mod: 0, rm: 5, sib: null, disp: le(disp, 4), rexX: 0, rexB: 0 }; }
  if (base < 0) {
    // SIB with base=101, mod=00: disp32, no base.
    mod = 0; rm = 4;
    const idx = index < 0 ? 4 : index;
    rexX = idx >> 3;
    sib = (ss << 6) | ((idx & 7) << 3) | 5;
    return { mod, rm, sib, disp: le(disp, 4), rexX, rexB };
  }
  rexB = base >> 3;
  if (dispSize === null) dispSize = disp === 0 ? 0 : fitsI8(disp) ? 1 : 4;
  if (dispSize === 0 && (base & 7) === 5) dispSize = 1; // [rbp]/[r13] need a disp8
  if (dispSize === 1 && !fitsI8(disp)) dispSize = 4;
  mod = dispSize === 0 ? 0 : dispSize === 1 ? 1 : 2;
  if (index >= 0 || (base & 7) === 4) {
    rm = 4;
    const idx = index < 0 ? 4 : index;
    rexX = idx >> 3;
    sib = (ss << 6) | ((idx & 7) << 3) | (base & 7);
  } else rm = base & 7;
  d = dispSize === 0 ? [] : le(disp, dispSize);
  return { mod, rm, sib, disp: d, rexX, rexB };
}

// Assemble. o = {pfx:[], w, rexForce, op:[], reg (0..15), rm:{reg}|{mem}, imm:[], p67}
function assemble(o) {
  const bytes = [...(o.pfx || [])];
  // ES/CS/SS/DS overrides are ignored in 64-bit mode (SDM 3.3.7.1): sprinkle some.
  if (o.rm && o.rm.mem && o.rm.mem.seg) bytes.unshift(o.rm.mem.seg);
  let rexR = (o.reg ?? 0) >> 3, rexX = 0, rexB = 0;
  let modrm = null, sib = null, disp = [];
  if (o.rm) {
    if (o.rm.reg !== undefined) { rexB = o.rm.reg >> 3; modrm = 0xc0 | (((o.reg ?? 0) & 7) << 3) | (o.rm.reg & 7); }
    else {
      const a = o.rm.mem;
      rexX = a.rexX; rexB = a.rexB;
      modrm = (a.mod << 6) | (((o.reg ?? 0) & 7) << 3) | a.rm;
      sib = a.sib; disp = a.disp;
      if (a.p67) bytes.push(0x67);
    }
  }
  if (o.opreg !== undefined) rexB = o.opreg >> 3;
  const rex = (o.w ? 8 : 0) | (rexR << 2) | (rexX << 1) | rexB;
  if (rex || o.rexForce) bytes.push(0x40 | rex);
  const opStart = bytes.length;
  bytes.push(...o.op);
  if (o.opreg !== undefined) bytes[bytes.length - 1] |= o.opreg & 7;
  if (modrm !== null) bytes.push(modrm);
  if (sib !== null) bytes.push(sib);
  const dispAt = bytes.length;
  bytes.push(...disp);
  bytes.push(...(o.imm || []));
  // RIP-relative: displacement relative to the end of this instruction.
  if (o.rm && o.rm.mem && o.rm.mem.ripTarget !== undefined) {
    const end = CODE + o.at + bytes.length;
    const d = le(o.rm.mem.ripTarget - end, 4);
    for (let i = 0; i < 4; i++) bytes[dispAt + i] = d[i];
  }
  return { bytes, hasRex: !!(rex || o.rexForce), opStart };
}

// ---------------------------------------------------------------- generator state
class Gen {
  constructor(r) {
    this.r = r;
    this.pos = 0;          // offset of the next instruction in the code page
    this.und = 0;          // status flags currently undefined
    this.rspOff = 0;       // RSP - STACK
    this.units = [];       // emitted instructions {bytes, tag}
    this.patches = [];     // [wordIndex, value] written into the initial buffer
    this.inBody = false;   // inside a jumped-over body: no stack changes
  }
  emit(bytes, tag) { this.units.push({ bytes, tag, at: this.pos }); this.pos += bytes.length; }

  // A register that setup moves may load: anything but RSP and R15.
  scratchReg(excl = []) {
    for (;;) { const x = this.r.below(15); if (x !== RSP && !excl.includes(x)) return x; }
  }
  // mov r32, imm32 (B8+r) or mov r64, simm32 (REX.W C7 /0) for negative values.
  setupMov(reg, val) {
    if (val < 0) {
      this.emit(assemble({ w: 1, op: [0xc7], reg: 0, rm: { reg }, imm: le(val, 4), at: this.pos }).bytes, "setup");
    } else {
      this.emit(assemble({ op: [0xb8], opreg: reg, imm: le(val, 4), at: this.pos }).bytes, "setup");
    }
  }
  // Choose a target address in the buffer for an access of `size` bytes.
  target(size, align) {
    const r = this.r;
    let t;
    // Now and then straddle or leave the buffer: #PF with CR2 at the first unmapped byte,
    // and no partial write (SDM 6.5: faults leave the destination unmodified).
    if (r.chance(0.012)) return r.chance(0.5) ? DATA + DATA_SIZE - r.below(size) : DATA - 1 - r.below(size);
    if (r.chance(0.3)) t = BASE + r.range(-120, 120);
    else t = DATA + 0x300 + r.below(DATA_SIZE - 0x600);
    if (align > 1) t &= ~(align - 1);
    else if (r.chance(0.3) && size > 1) t &= ~(size - 1);
    return t;
  }
  // A memory operand. Emits setup moves; returns the operand (for assemble) and its address.
  // excl: registers the main instruction needs intact (e.g. implicit operands).
  mem(size, { align = 1, excl = [], allowRip = true, misalign = 0 } = {}) {
    const r = this.r;
    let t = this.target(size, align);
    if (misalign) t += misalign;
    const form = r.below(allowRip ? 9 : 8);
    let a;
    switch (form) {
      case 0: case 1: { // [r15 + disp]
        const disp = t - BASE;
        a = addrBytes({ base: R15, disp, dispSize: r.chance(0.2) ? 4 : null });
        if (r.chance(0.15)) a.p67 = true;
        break;
      }
      case 2: case 3: { // [reg + disp] with reg loaded first
        const b = this.scratchReg(excl);
        const ds = r.pick([0, 1, 4]);
        const disp = ds === 0 ? 0 : ds === 1 ? r.range(-128, 127) : r.range(-0x10000, 0x10000);
        this.setupMov(b, t - disp);
        a = addrBytes({ base: b, disp, dispSize: ds });
        if (r.chance(0.15)) a.p67 = true;
        break;
      }
      case 4: case 5: { // [r15 + idx*s + disp]
        const i = this.scratchReg(excl);
        const s = r.pick([1, 2, 4, 8]);
        const v = r.range(-16, 32);
        const disp = t - BASE - v * s;
        this.setupMov(i, v);
        a = addrBytes({ base: R15, index: i, scale: s, disp });
        break;
      }
      case 6: { // [idx*s + disp32], no base
        if (r.chance(0.3)) { a = addrBytes({ index: R15, scale: 1, disp: t - BASE }); break; }
        const i = this.scratchReg(excl);
        const s = r.pick([1, 2, 4, 8]);
        const v = r.range(0, 64);
        this.setupMov(i, v);
        a = addrBytes({ index: i, scale: s, disp: t - v * s });
        break;
      }
      case 7: { // [rsp + disp8] (RSP is known: no stack changes inside jumped-over bodies)
        const sp = STACK + this.rspOff;
        let disp = t - sp;
        if (!fitsI8(disp)) { disp = r.range(-128, 127 - size); if (align > 1) disp &= ~(align - 1); t = sp + disp; if (misalign) { t += misalign; disp += misalign; } }
        a = addrBytes({ base: RSP, disp });
        break;
      }
      default: { // RIP-relative into the pattern half of the code page
        let rt = RIPDATA + r.below(0x7e0);
        if (align > 1) rt &= ~(align - 1);
        rt += misalign;
        a = { ...addrBytes({ rip: true }), ripTarget: rt };
        t = rt;
      }
    }
    if (r.chance(0.05)) a.seg = r.pick([0x26, 0x2e, 0x36, 0x3e]);
    return { mem: a, addr: t };
  }
}

// ---------------------------------------------------------------- instruction families
// Each family: (g) => desc | null, where desc = {o (assemble opts), name, reads, defs, undefs,
//   writes: [[reg, size]] (GPR destinations), stack (RSP delta), exact:bool (defs always happen)}
// A family returns null when it cannot make a valid instruction in the current state.

const SIZES = [1, 2, 4, 8];
function sizePfx(size) { return size === 2 ? [0x66] : []; }
// Physical GPR changed by writing register `reg` of `size` (AH..BH without REX).
function physReg(reg, size, hasRex) { return size === 1 && !hasRex && reg >= 4 && reg < 8 ? reg - 4 : reg; }
function immOf(r, size) {
  const n = Math.min(size, 4);
  const v = r.chance(0.3) ? r.pick([0, 1, -1, 0x7f, 0x80, 0x7fff, 0x8000, 0x7fffffff, -0x80000000, 0xff]) : r.u32();
  return le(v, n);
}
function gprOperand(g, size) {
  // Register operand 0..15; for byte registers sometimes force REX so 4..7 are SPL..DIL.
  return g.r.below(16);
}

const ALU_FLAGS = [ // add or adc sbb and sub xor cmp
  { defs: STATUS, undefs: 0, reads: 0 }, { defs: STATUS & ~AF, undefs: AF, reads: 0 },
  { defs: STATUS, undefs: 0, reads: CF }, { defs: STATUS, undefs: 0, reads: CF },
  { defs: STATUS & ~AF, undefs: AF, reads: 0 }, { defs: STATUS, undefs: 0, reads: 0 },
  { defs: STATUS & ~AF, undefs: AF, reads: 0 }, { defs: STATUS, undefs: 0, reads: 0 }];
const ALU_NAMES = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];

function fam_alu(g) {
  const r = g.r, op = r.below(8), size = r.pick(SIZES), f = ALU_FLAGS[op];
  const w = size === 8 ? 1 : 0, pfx = sizePfx(size);
  const writesDst = op !== 7;
  const form = r.below(7);
  const base = op << 3;
  let o, dst = null, dstIsRm = true;
  const reg = gprOperand(g, size);
  const rexForce = size === 1 && r.chance(0.3);
  const lock = writesDst && r.chance(0.1) ? [0xf0] : [];
  switch (form) {
    case 0: { // r/m, reg
      const m = r.chance(0.5) ? g.mem(size) : null;
      o = { pfx: [...(m ? lock : []), ...pfx], w, rexForce, op: [base | (size === 1 ? 0 : 1)], reg, rm: m ? m : { reg: r.below(16) } };
      break;
    }
    case 1: { // reg, r/m
      const m = r.chance(0.5) ? g.mem(size) : null;
      o = { pfx, w, rexForce, op: [base | (size === 1 ? 2 : 3)], reg, rm: m ? m : { reg: r.below(16) } };
      dstIsRm = false;
      break;
    }
    case 2: { // AL/eAX, imm
      o = { pfx, w, rexForce, op: [base | (size === 1 ? 4 : 5)], imm: immOf(r, size === 1 ? 1 : size === 2 ? 2 : 4) };
      dst = 0;
      break;
    }
    default: { // 80/81/83 /op
      const m = r.chance(0.5) ? g.mem(size) : null;
      const opc = size === 1 ? 0x80 : r.chance(0.5) ? 0x83 : 0x81;
      const isz = opc === 0x81 ? (size === 2 ? 2 : 4) : 1;
      o = { pfx: [...(m ? lock : []), ...pfx], w, rexForce, op: [opc], reg: op, rm: m ? m : { reg: r.below(16) }, imm: immOf(r, isz) };
    }
  }
  return { o, name: ALU_NAMES[op], ...f, size, dst, dstIsRm: dst === null && dstIsRm, dstReg: dst === null && !dstIsRm, writesDst };
}

function fam_incdec(g) {
  const r = g.r, size = r.pick(SIZES), k = r.below(4); // inc dec not neg
  const m = r.chance(0.4) ? g.mem(size) : null;
  const ops = [[0, "inc"], [1, "dec"], [2, "not"], [3, "neg"]][k];
  const opc = k < 2 ? (size === 1 ? 0xfe : 0xff) : (size === 1 ? 0xf6 : 0xf7);
  const f = k < 2 ? { defs: STATUS & ~CF, undefs: 0 } : k === 2 ? { defs: 0, undefs: 0 } : { defs: STATUS, undefs: 0 };
  const lock = m ? r.chance(0.1) : r.chance(0.02); // LOCK with a register destination: #UD
  return { o: { pfx: [...(lock ? [0xf0] : []), ...sizePfx(size)], w: size === 8 ? 1 : 0, rexForce: size === 1 && r.chance(0.3), op: [opc], reg: k < 2 ? k : k === 2 ? 2 : 3, rm: m || { reg: r.below(16) } }, name: ops[1], reads: 0, ...f, size, dstIsRm: true, writesDst: true };
}

function fam_test(g) {
  const r = g.r, size = r.pick(SIZES), w = size === 8 ? 1 : 0;
  const m = r.chance(0.4) ? g.mem(size) : null;
  const f = { reads: 0, defs: STATUS & ~AF, undefs: AF, size, writesDst: false };
  switch (r.below(3)) {
    case 0: return { o: { pfx: sizePfx(size), w, op: [size === 1 ? 0x84 : 0x85], reg: r.below(16), rm: m || { reg: r.below(16) } }, name: "test", ...f };
    case 1: return { o: { pfx: sizePfx(size), w, op: [size === 1 ? 0xa8 : 0xa9], imm: immOf(r, size === 1 ? 1 : size === 2 ? 2 : 4) }, name: "test", ...f };
    default: return { o: { pfx: sizePfx(size), w, op: [size === 1 ? 0xf6 : 0xf7], reg: 0, rm: m || { reg: r.below(16) }, imm: immOf(r, size === 1 ? 1 : size === 2 ? 2 : 4) }, name: "test", ...f };
  }
}

function fam_mov(g) {
  const r = g.r, size = r.pick(SIZES), w = size === 8 ? 1 : 0, pfx = sizePfx(size);
  const rexForce = size === 1 && r.chance(0.3);
  const f = { reads: 0, defs: 0, undefs: 0, size, writesDst: true };
  switch (r.below(6)) {
    case 0: { const m = r.chance(0.5) ? g.mem(size) : null; return { o: { pfx, w, rexForce, op: [size === 1 ? 0x88 : 0x89], reg: r.below(16), rm: m || { reg: r.below(16) } }, name: "mov", ...f, dstIsRm: true }; }
    case 1: { const m = r.chance(0.5) ? g.mem(size) : null; return { o: { pfx, w, rexForce, op: [size === 1 ? 0x8a : 0x8b], reg: r.below(16), rm: m || { reg: r.below(16) } }, name: "mov", ...f, dstReg: true }; }
    case 2: { const m = r.chance(0.5) ? g.mem(size) : null; return { o: { pfx, w, rexForce, op: [size === 1 ? 0xc6 : 0xc7], reg: 0, rm: m || { reg: r.below(16) }, imm: immOf(r, size === 1 ? 1 : size === 2 ? 2 : 4) }, name: "mov", ...f, dstIsRm: true }; }
    case 3: { // B0+r / B8+r (imm64 with REX.W)
      const reg = r.below(16);
      const imm = size === 8 ? le(gprValue(r), 8) : immOf(r, size);
      return { o: { pfx, w, rexForce, op: [size === 1 ? 0xb0 : 0xb8], opreg: reg, imm }, name: "mov", ...f, dstOp: reg };
    }
    case 4: { // moffs: A0-A3 with a 64-bit absolute address
      const t = g.target(size, 1), store = r.chance(0.5);
      return { o: { pfx, w, op: [(store ? 0xa2 : 0xa0) | (size === 1 ? 0 : 1)], imm: le(t, 8) }, name: "mov moffs", ...f, dst: store ? null : 0, writesDst: !store };
    }
    default: { // movzx/movsx/movsxd
      const k = r.below(5);
      const dsize = r.pick(k === 4 ? [4, 8] : [2, 4, 8]);
      const ssize = k === 4 ? 4 : (k & 1) ? 2 : 1;
      const m = r.chance(0.5) ? g.mem(ssize) : null;
      const op = k === 4 ? [0x63] : [0x0f, [0xb6, 0xb7, 0xbe, 0xbf][k]];
      return { o: { pfx: sizePfx(dsize), w: dsize === 8 ? 1 : 0, rexForce: ssize === 1 && r.chance(0.3), op, reg: r.below(16), rm: m || { reg: r.below(16) } }, name: ["movzx", "movzx", "movsx", "movsx", "movsxd"][k], ...f, size: dsize, srcSize: ssize, dstReg: true };
    }
  }
}

// Shifts and rotates: the count is always known (imm, 1, or CL loaded by a setup move),
// so the flags rules of SDM "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR" apply exactly.
function shiftFlags(kind, size, count) {
  const mask = size === 8 ? 63 : 31;
  const c = count & mask;
  if (c === 0) return { defs: 0, undefs: 0 };
  const bits = size * 8;
  if (kind <= 3) { // rol ror rcl rcr
    let cf = true;
    if (kind >= 2 && size < 4 && c % (bits + 1) === 0) cf = false; // rotate through CF by a multiple: be conservative
    const defs = (cf ? CF : 0) | (c === 1 ? OF : 0);
    return { defs, undefs: (cf ? 0 : CF) | (c === 1 ? 0 : OF) };
  }
  // shl shr sal sar
  let defs = SF | ZF | PF | CF | (c === 1 ? OF : 0), undefs = AF | (c === 1 ? 0 : OF);
  if (c >= bits && kind !== 7) { defs &= ~CF; undefs |= CF; }
  return { defs, undefs };
}
const SHIFT_NAMES = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"];
function fam_shift(g) {
  const r = g.r, size = r.pick(SIZES), w = size === 8 ? 1 : 0;
  let kind = r.below(8);
  if (kind === 6 && r.chance(0.7)) kind = 4;
  const form = r.below(3); // imm, 1, CL
  let count;
  const m = r.chance(0.35) ? g.mem(size, { excl: [1] }) : null;
  let o;
  if (form === 0) {
    count = r.chance(0.5) ? r.below(size * 8 + 1) : r.below(256);
    o = { pfx: sizePfx(size), w, rexForce: size === 1 && r.chance(0.3), op: [size === 1 ? 0xc0 : 0xc1], reg: kind, rm: m || { reg: r.below(16) }, imm: [count] };
  } else if (form === 1) {
    count = 1;
    o = { pfx: sizePfx(size), w, rexForce: size === 1 && r.chance(0.3), op: [size === 1 ? 0xd0 : 0xd1], reg: kind, rm: m || { reg: r.below(16) } };
  } else {
    count = r.chance(0.6) ? r.below(size * 8 + 1) : r.below(256);
    g.pendingSetup = [[1, count, 1]]; // mov cl, count
    o = { pfx: sizePfx(size), w, rexForce: size === 1 && r.chance(0.3), op: [size === 1 ? 0xd2 : 0xd3], reg: kind, rm: m || { reg: r.below(16) } };
  }
  const f = shiftFlags(kind, size, count);
  const reads = (kind === 2 || kind === 3) ? CF : 0;
  return { o, name: SHIFT_NAMES[kind], reads, ...f, size, dstIsRm: true, writesDst: true, keepUnd: true };
}

function fam_shld(g) {
  const r = g.r, size = r.pick([2, 4, 8]), w = size === 8 ? 1 : 0;
  const right = r.chance(0.5), byCl = r.chance(0.5);
  const maxc = size === 2 ? 15 : size * 8 - 1;
  let count = r.below(maxc + 1);
  const m = r.chance(0.35) ? g.mem(size, { excl: [1] }) : null;
  const o = { pfx: sizePfx(size), w, op: [0x0f, (right ? 0xac : 0xa4) | (byCl ? 1 : 0)], reg: r.below(16), rm: m || { reg: r.below(16) }, imm: byCl ? [] : [count] };
  if (byCl) g.pendingSetup = [[1, count | (r.below(8) << 5 & (size === 8 ? 0xc0 : 0xe0)), 1]];
  const c = count;
  const f = c === 0 ? { defs: 0, undefs: 0 } : { defs: CF | SF | ZF | PF | (c === 1 ? OF : 0), undefs: AF | (c === 1 ? 0 : OF) };
  return { o, name: right ? "shrd" : "shld", reads: 0, ...f, size, dstIsRm: true, writesDst: true, keepUnd: true };
}

function fam_muldiv(g) {
  const r = g.r, size = r.pick(SIZES), w = size === 8 ? 1 : 0;
  const k = r.below(10);
  if (k < 4) { // F6/F7 /4 mul /5 imul /6 div /7 idiv
    const sub = 4 + k;
    const m = r.chance(0.35) ? g.mem(size, { excl: [0, 2] }) : null;
    if (sub >= 6 && r.chance(0.8)) {
      // Keep the quotient in range most of the time: zero/sign-extend the dividend.
      if (sub === 6) g.pendingSetup = [[2, 0, size === 1 ? 0 : 4]];   // xor-free: mov edx, 0
      else g.pendingSetup = [["cwd", size]];
      if (size === 1) g.pendingSetup = [[0, r.below(0x100), 4]];     // small AX for 8-bit divide
    }
    const writes = size === 1 ? [[0, 2]] : [[0, size], [2, size]];
    const fl = sub >= 6 ? { defs: 0, undefs: STATUS } : { defs: CF | OF, undefs: SF | ZF | AF | PF };
    return { o: { pfx: sizePfx(size), w, rexForce: size === 1 && r.chance(0.3), op: [size === 1 ? 0xf6 : 0xf7], reg: sub, rm: m || { reg: r.below(16) } }, name: ["mul", "imul", "div", "idiv"][k], reads: 0, ...fl, size, writesList: writes };
  }
  const s2 = r.pick([2, 4, 8]);
  const m = r.chance(0.35) ? g.mem(s2) : null;
  const fl = { defs: CF | OF, undefs: SF | ZF | AF | PF, reads: 0 };
  if (k < 7) return { o: { pfx: sizePfx(s2), w: s2 === 8 ? 1 : 0, op: [0x0f, 0xaf], reg: r.below(16), rm: m || { reg: r.below(16) } }, name: "imul", ...fl, size: s2, dstReg: true, writesDst: true };
  const ib = r.chance(0.5);
  return { o: { pfx: sizePfx(s2), w: s2 === 8 ? 1 : 0, op: [ib ? 0x6b : 0x69], reg: r.below(16), rm: m || { reg: r.below(16) }, imm: immOf(r, ib ? 1 : s2 === 2 ? 2 : 4) }, name: "imul", ...fl, size: s2, dstReg: true, writesDst: true };
}

function fam_bt(g) {
  const r = g.r, size = r.pick([2, 4, 8]), w = size === 8 ? 1 : 0;
  const k = r.below(4); // bt bts btr btc
  const fl = { reads: 0, defs: CF, undefs: OF | SF | AF | PF | ZF };
  const name = ["bt", "bts", "btr", "btc"][k];
  if (r.chance(0.5)) { // 0F BA /4+k ib
    const m = r.chance(0.5) ? g.mem(size) : null;
    return { o: { pfx: [...(m && k && r.chance(0.1) ? [0xf0] : []), ...sizePfx(size)], w, op: [0x0f, 0xba], reg: 4 + k, rm: m || { reg: r.below(16) }, imm: [r.below(256)] }, name, ...fl, size, dstIsRm: true, writesDst: k !== 0 };
  }
  const m = r.chance(0.5);
  if (m) { // bit offset register is signed and may address outside the operand: keep it small
    const off = g.scratchReg();
    const mo = g.mem(size, { excl: [off] });
    // The bit base address moves by (off >> 3): keep |off| < 512 bits.
    g.units.splice(g.units.length, 0); // setup emitted below (before the instruction)
    g.pendingSetup = [[off, r.range(-512, 512), 8]];
    return { o: { pfx: sizePfx(size), w, op: [0x0f, 0xa3 | (k << 3)], reg: off, rm: mo }, name, ...fl, size, dstIsRm: true, writesDst: k !== 0 };
  }
  return { o: { pfx: sizePfx(size), w, op: [0x0f, 0xa3 | (k << 3)], reg: r.below(16), rm: { reg: r.below(16) } }, name, ...fl, size, dstIsRm: true, writesDst: k !== 0 };
}

function fam_bitscan(g) {
  const r = g.r, size = r.pick([2, 4, 8]), w = size === 8 ? 1 : 0;
  const k = r.below(5); // bsf bsr popcnt lzcnt tzcnt
  const m = r.chance(0.4) ? g.mem(size) : null;
  const src = m || { reg: r.below(16) };
  const o = [
    { pfx: sizePfx(size), op: [0x0f, 0xbc] }, { pfx: sizePfx(size), op: [0x0f, 0xbd] },
    { pfx: [...sizePfx(size), 0xf3], op: [0x0f, 0xb8] }, { pfx: [...sizePfx(size), 0xf3], op: [0x0f, 0xbd] },
    { pfx: [...sizePfx(size), 0xf3], op: [0x0f, 0xbc] }][k];
  const fl = [{ defs: ZF, undefs: CF | OF | SF | AF | PF }, { defs: ZF, undefs: CF | OF | SF | AF | PF },
    { defs: STATUS, undefs: 0 }, { defs: CF | ZF, undefs: OF | SF | AF | PF }, { defs: CF | ZF, undefs: OF | SF | AF | PF }][k];
  // BSF/BSR r32 with a zero source: the destination is unchanged (AMD, and Intel in practice),
  // but whether its upper half is zeroed is vendor-specific: normalize with mov r32, r32.
  return { o: { ...o, w, reg: r.below(16), rm: src }, name: ["bsf", "bsr", "popcnt", "lzcnt", "tzcnt"][k], reads: 0, ...fl, size, dstReg: true, writesDst: true, norm32: k < 2 && size === 4 ? "reg" : null };
}

function fam_cc(g) {
  const r = g.r, cc = r.below(16);
  if (r.chance(0.5)) { // setcc r/m8
    const m = r.chance(0.3) ? g.mem(1) : null;
    return { o: { rexForce: r.chance(0.3), op: [0x0f, 0x90 | cc], reg: 0, rm: m || { reg: r.below(16) } }, name: "setcc", reads: CC_READS[cc], defs: 0, undefs: 0, size: 1, dstIsRm: true, writesDst: true };
  }
  const size = r.pick([2, 4, 8]);
  const m = r.chance(0.3) ? g.mem(size) : null;
  return { o: { pfx: sizePfx(size), w: size === 8 ? 1 : 0, op: [0x0f, 0x40 | cc], reg: r.below(16), rm: m || { reg: r.below(16) } }, name: "cmovcc", reads: CC_READS[cc], defs: 0, undefs: 0, size, dstReg: true, writesDst: true };
}

function fam_xchg(g) {
  const r = g.r, size = r.pick(SIZES), w = size === 8 ? 1 : 0, pfx = sizePfx(size);
  const rexForce = size === 1 && r.chance(0.3);
  const k = r.below(5);
  if (k === 0) { // xchg r/m, r
    const m = r.chance(0.5) ? g.mem(size) : null;
    return { o: { pfx: [...(m && r.chance(0.2) ? [0xf0] : []), ...pfx], w, rexForce, op: [size === 1 ? 0x86 : 0x87], reg: r.below(16), rm: m || { reg: r.below(16) } }, name: "xchg", reads: 0, defs: 0, undefs: 0, size, dstIsRm: true, dstReg: true, writesDst: true };
  }
  if (k === 1) { // 90+r
    const s = r.pick([2, 4, 8]);
    const reg = r.below(16);
    return { o: { pfx: sizePfx(s), w: s === 8 ? 1 : 0, op: [0x90], opreg: reg }, name: "xchg", reads: 0, defs: 0, undefs: 0, size: s, dstOp: reg, writesList: [[0, s]], writesDst: true };
  }
  if (k === 2) { // cmpxchg
    const m = r.chance(0.6) ? g.mem(size) : null;
    // A 32-bit register destination that is not written (compare failed) keeps its upper half
    // on AMD but is zero-extended on Intel (SDM: DEST <- TEMP): normalize with mov r32, r32.
    return { o: { pfx: [...(m && r.chance(0.2) ? [0xf0] : []), ...pfx], w, rexForce, op: [0x0f, size === 1 ? 0xb0 : 0xb1], reg: r.below(16), rm: m || { reg: r.below(16) } }, name: "cmpxchg", reads: 0, defs: STATUS, undefs: 0, size, dstIsRm: true, writesList: [[0, size]], writesDst: true, norm32: !m && size === 4 ? "rm" : null };
  }
  if (k === 3) { // xadd
    const m = r.chance(0.5) ? g.mem(size) : null;
    return { o: { pfx: [...(m && r.chance(0.2) ? [0xf0] : []), ...pfx], w, rexForce, op: [0x0f, size === 1 ? 0xc0 : 0xc1], reg: r.below(16), rm: m || { reg: r.below(16) } }, name: "xadd", reads: 0, defs: STATUS, undefs: 0, size, dstIsRm: true, dstReg: true, writesDst: true };
  }
  // cmpxchg8b / cmpxchg16b
  const b16 = r.chance(0.5);
  const m = g.mem(b16 ? 16 : 8, { align: b16 ? 16 : 1, excl: [0, 1, 2, 3], misalign: b16 && r.chance(0.05) ? 8 : 0 });
  return { o: { pfx: r.chance(0.3) ? [0xf0] : [], w: b16 ? 1 : 0, op: [0x0f, 0xc7], reg: 1, rm: m }, name: b16 ? "cmpxchg16b" : "cmpxchg8b", reads: 0, defs: ZF, undefs: 0, size: 8, writesList: [[0, b16 ? 8 : 4], [2, b16 ? 8 : 4]] };
}

function fam_misc(g) {
  const r = g.r;
  const k = r.below(40);
  switch (k < 2 ? 13 : k < 5 ? 12 : k < 8 ? 14 : k % 11) {
    case 0: { const s = r.pick([2, 4, 8]); return { o: { pfx: sizePfx(s), w: s === 8 ? 1 : 0, op: [0x98] }, name: "cbw/cwde/cdqe", reads: 0, defs: 0, undefs: 0, writesList: [[0, s]] }; }
    case 1: { const s = r.pick([2, 4, 8]); return { o: { pfx: sizePfx(s), w: s === 8 ? 1 : 0, op: [0x99] }, name: "cwd/cdq/cqo", reads: 0, defs: 0, undefs: 0, writesList: [[2, s]] }; }
    case 2: { const s = r.pick([4, 8]); const reg = r.below(16); return { o: { w: s === 8 ? 1 : 0, op: [0x0f, 0xc8], opreg: reg }, name: "bswap", reads: 0, defs: 0, undefs: 0, size: s, dstOp: reg, writesDst: true }; }
    case 3: return { o: { op: [0x9f] }, name: "lahf", reads: SF | ZF | AF | PF | CF, defs: 0, undefs: 0, writesList: [[4, 1, false]] };
    case 4: return { o: { op: [0x9e] }, name: "sahf", reads: 0, defs: SF | ZF | AF | PF | CF, undefs: 0 };
    case 5: return { o: { op: [0xf8] }, name: "clc", reads: 0, defs: CF, undefs: 0 };
    case 6: return { o: { op: [0xf9] }, name: "stc", reads: 0, defs: CF, undefs: 0 };
    case 7: return { o: { op: [0xf5] }, name: "cmc", reads: CF, defs: CF, undefs: 0 };
    case 8: return { o: { op: [r.chance(0.5) ? 0xfc : 0xfd] }, name: "cld/std", reads: 0, defs: 0, undefs: 0 };
    case 12: { // xlat: AL <- [RBX + AL]
      g.pendingSetup = [[3, DATA + 0x400 + r.below(0x1000), 4]];
      return { o: { w: r.chance(0.3) ? 1 : 0, op: [0xd7] }, name: "xlat", reads: 0, defs: 0, undefs: 0, writesList: [[0, 1]] };
    }
    case 13: { // opcodes that are invalid in 64-bit mode: #UD (not C4/C5/62: VEX/EVEX here)
      const op = r.pick([0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x82, 0x9a, 0xce, 0xd4, 0xd5, 0xd6, 0xea]);
      return { o: { op: [op], imm: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77] }, name: "invalid in 64-bit", reads: 0, defs: 0, undefs: 0 };
    }
    case 14: { // fences, PAUSE, PREFETCHh, CLFLUSH: no architectural effect here
      const q = r.below(4);
      if (q === 0) return { o: { op: [0x0f, 0xae, r.pick([0xe8, 0xf0, 0xf8])] }, name: "fence", reads: 0, defs: 0, undefs: 0 };
      if (q === 1) return { o: { pfx: [0xf3], op: [0x90] }, name: "pause", reads: 0, defs: 0, undefs: 0 };
      if (q === 2) return { o: { op: [0x0f, 0x18], reg: r.below(4), rm: g.mem(1) }, name: "prefetch", reads: 0, defs: 0, undefs: 0 };
      return { o: { op: [0x0f, 0xae], reg: 7, rm: g.mem(1, { allowRip: false }) }, name: "clflush", reads: 0, defs: 0, undefs: 0 };
    }
    case 9: return { o: { op: r.chance(0.5) ? [0x90] : [0x0f, 0x1f], reg: 0, rm: r.chance(0.5) ? { reg: r.below(16) } : undefined }, name: "nop", reads: 0, defs: 0, undefs: 0, nopFix: true };
    default: { // lea with any addressing form (no access: registers may hold anything)
      const s = r.pick([2, 4, 8, 8]);
      let base = r.chance(0.15) ? -1 : r.below(16), index = r.chance(0.4) ? -1 : r.below(16);
      if (index === 4) index = -1;
      const disp = r.pick([0, r.range(-128, 127), r.u32() | 0]);
      let a;
      if (r.chance(0.1)) a = { ...addrBytes({ rip: true }), ripTarget: (CODE + r.below(0x1000)) };
      else a = addrBytes({ base, index, scale: r.pick([1, 2, 4, 8]), disp: base < 0 ? disp : disp, dispSize: base < 0 ? 4 : null });
      if (r.chance(0.15)) a.p67 = true;
      return { o: { pfx: sizePfx(s), w: s === 8 ? 1 : 0, op: [0x8d], reg: r.below(16), rm: { mem: a } }, name: "lea", reads: 0, defs: 0, undefs: 0, size: s, dstReg: true, writesDst: true };
    }
  }
}

function fam_string(g) {
  const r = g.r;
  const k = r.below(5); // movs stos lods scas cmps
  const size = r.pick(SIZES), w = size === 8 ? 1 : 0;
  const rep = r.below(3); // none, F3, F2
  const count = r.below(r.chance(0.2) ? 3 : 20);
  let src = DATA + 0x500 + r.below(0x1000), dst = DATA + 0x500 + r.below(0x1000);
  // Sometimes run off an end of the buffer: a fault in the middle of a REP string
  // instruction leaves RCX/RSI/RDI at the faulting iteration.
  if (r.chance(0.04)) { if (r.chance(0.5)) dst = DATA + DATA_SIZE - r.below(40); else src = DATA + DATA_SIZE - r.below(40); }
  const setups = [];
  if (k === 0 || k === 2 || k === 4) setups.push([6, src, 4]);
  if (k !== 2) setups.push([7, dst, 4]);
  if (rep) setups.push([1, count, 4]);
  const a32 = r.chance(0.15); // addr32: ESI/EDI/ECX (the setups leave the upper halves zero)
  g.pendingSetup = setups;
  const opc = [0xa4, 0xaa, 0xac, 0xae, 0xa6][k] | (size === 1 ? 0 : 1);
  const writes = [[6, 8], [7, 8], [1, 8]];
  if (k === 2) writes.push([0, size]);
  const fl = k >= 3 ? { defs: rep ? 0 : STATUS, undefs: 0, keepUnd: !!rep } : { defs: 0, undefs: 0 };
  // With REP and a possibly-zero count the flags may stay unchanged: keep them "as is".
  if (k >= 3 && rep) fl.defs = count ? STATUS : 0;
  return { o: { pfx: [...(rep ? [rep === 1 ? 0xf3 : 0xf2] : []), ...sizePfx(size), ...(a32 ? [0x67] : [])], w, op: [opc] }, name: (rep ? ["", "rep ", "repne "][rep] : "") + ["movs", "stos", "lods", "scas", "cmps"][k], reads: 0, ...fl, writesList: writes };
}

function fam_stack(g) {
  const r = g.r;
  if (g.inBody) return null;
  const k = r.below(7);
  const s = r.chance(0.15) ? 2 : 8;
  if (k === 0) { const reg = r.below(16); return { o: { pfx: sizePfx(s), op: [0x50], opreg: reg }, name: "push", reads: 0, defs: 0, undefs: 0, stack: -s }; }
  if (k === 1) { const reg = r.below(16); if (reg === RSP || reg === R15) return null; return { o: { pfx: sizePfx(s), op: [0x58], opreg: reg }, name: "pop", reads: 0, defs: 0, undefs: 0, stack: s, dstOp: reg, size: s, writesDst: true }; }
  if (k === 2) { const ib = r.chance(0.5); return { o: { pfx: sizePfx(s), op: [ib ? 0x6a : 0x68], imm: immOf(r, ib ? 1 : s === 2 ? 2 : 4) }, name: "push imm", reads: 0, defs: 0, undefs: 0, stack: -s }; }
  if (k === 3) { const m = r.chance(0.5) ? g.mem(s, { allowRip: true }) : null; return { o: { pfx: sizePfx(s), op: [0xff], reg: 6, rm: m || { reg: r.below(16) } }, name: "push r/m", reads: 0, defs: 0, undefs: 0, stack: -s }; }
  if (k === 4) { // pop r/m (memory destination is computed after RSP is incremented; keep it off RSP-relative)
    const m = r.chance(0.6) ? g.mem(s, { excl: [] }) : null;
    if (m && m.mem.rm === 4 && m.mem.sib !== null && (m.mem.sib & 7) === 4 && !m.mem.rexB) return null;
    const reg = r.below(16);
    if (!m && (reg === RSP || reg === R15)) return null;
    return { o: { pfx: sizePfx(s), op: [0x8f], reg: 0, rm: m || { reg } }, name: "pop r/m", reads: 0, defs: 0, undefs: 0, stack: s, dstIsRm: true, size: s, writesDst: true };
  }
  if (k === 5) return { o: { op: [0x9c] }, name: "pushf", reads: STATUS, defs: 0, undefs: 0, stack: -8 };
  // push then pop pair through memory
  const reg = r.below(16);
  return { o: { pfx: sizePfx(s), op: [0x50], opreg: reg }, name: "push", reads: 0, defs: 0, undefs: 0, stack: -s };
}

// ---------------------------------------------------------------- SSE2
// [name, prefix, opcode bytes, memory size (0: register only), needs 16-byte alignment, kind]
// kinds: xx (xmm, xmm/m), xxi (+imm8), xg (xmm <- r/m32|64), gx (gpr <- xmm/m), gxi, xgi,
//        sx (store: r/m <- xmm), shi (xmm shift by imm: /n in reg field), m (memory only)
const SSE = [];
function add(name, pfx, op, msize, align, kind = "xx", extra = {}) { SSE.push({ name, pfx, op, msize, align, kind, ...extra }); }
const ARITH = [[0x58, "add"], [0x59, "mul"], [0x5c, "sub"], [0x5d, "min"], [0x5e, "div"], [0x5f, "max"], [0x51, "sqrt"]];
for (const [op, n] of ARITH) {
  add(n + "ps", [], [0x0f, op], 16, true); add(n + "pd", [0x66], [0x0f, op], 16, true);
  add(n + "ss", [0xf3], [0x0f, op], 4, false); add(n + "sd", [0xf2], [0x0f, op], 8, false);
}
for (const [op, n] of [[0x54, "and"], [0x55, "andn"], [0x56, "or"], [0x57, "xor"], [0x14, "unpckl"], [0x15, "unpckh"]]) {
  add(n + "ps", [], [0x0f, op], 16, true); add(n + "pd", [0x66], [0x0f, op], 16, true);
}
add("cmpps", [], [0x0f, 0xc2], 16, true, "xxi", { imm8: 8 }); add("cmppd", [0x66], [0x0f, 0xc2], 16, true, "xxi", { imm8: 8 });
add("cmpss", [0xf3], [0x0f, 0xc2], 4, false, "xxi", { imm8: 8 }); add("cmpsd", [0xf2], [0x0f, 0xc2], 8, false, "xxi", { imm8: 8 });
add("shufps", [], [0x0f, 0xc6], 16, true, "xxi"); add("shufpd", [0x66], [0x0f, 0xc6], 16, true, "xxi");
for (const [n, p, o] of [["ucomiss", [], 0x2e], ["comiss", [], 0x2f], ["ucomisd", [0x66], 0x2e], ["comisd", [0x66], 0x2f]])
  add(n, p, [0x0f, o], p.length ? 8 : 4, false, "xx", { flags: true });
// moves
add("movaps", [], [0x0f, 0x28], 16, true); add("movaps st", [], [0x0f, 0x29], 16, true, "sx");
add("movups", [], [0x0f, 0x10], 16, false); add("movups st", [], [0x0f, 0x11], 16, false, "sx");
add("movapd", [0x66], [0x0f, 0x28], 16, true); add("movapd st", [0x66], [0x0f, 0x29], 16, true, "sx");
add("movupd", [0x66], [0x0f, 0x10], 16, false); add("movupd st", [0x66], [0x0f, 0x11], 16, false, "sx");
add("movss", [0xf3], [0x0f, 0x10], 4, false); add("movss st", [0xf3], [0x0f, 0x11], 4, false, "sx");
add("movsd", [0xf2], [0x0f, 0x10], 8, false); add("movsd st", [0xf2], [0x0f, 0x11], 8, false, "sx");
add("movdqa", [0x66], [0x0f, 0x6f], 16, true); add("movdqa st", [0x66], [0x0f, 0x7f], 16, true, "sx");
add("movdqu", [0xf3], [0x0f, 0x6f], 16, false); add("movdqu st", [0xf3], [0x0f, 0x7f], 16, false, "sx");
add("movd", [0x66], [0x0f, 0x6e], 4, false, "xg"); add("movq", [0x66], [0x0f, 0x6e], 8, false, "xg", { w: 1 });
add("movd st", [0x66], [0x0f, 0x7e], 4, false, "gs"); add("movq st", [0x66], [0x0f, 0x7e], 8, false, "gs", { w: 1 });
add("movq", [0xf3], [0x0f, 0x7e], 8, false); add("movq st", [0x66], [0x0f, 0xd6], 8, false, "sx");
add("movlps/movhlps", [], [0x0f, 0x12], 8, false); add("movhps/movlhps", [], [0x0f, 0x16], 8, false);
add("movlps st", [], [0x0f, 0x13], 8, false, "m"); add("movhps st", [], [0x0f, 0x17], 8, false, "m");
add("movlpd", [0x66], [0x0f, 0x12], 8, false, "xm"); add("movhpd", [0x66], [0x0f, 0x16], 8, false, "xm");
add("movlpd st", [0x66], [0x0f, 0x13], 8, false, "m"); add("movhpd st", [0x66], [0x0f, 0x17], 8, false, "m");
add("movntps", [], [0x0f, 0x2b], 16, true, "m"); add("movntpd", [0x66], [0x0f, 0x2b], 16, true, "m");
add("movntdq", [0x66], [0x0f, 0xe7], 16, true, "m");
add("movmskps", [], [0x0f, 0x50], 0, false, "gx"); add("movmskpd", [0x66], [0x0f, 0x50], 0, false, "gx");
add("pmovmskb", [0x66], [0x0f, 0xd7], 0, false, "gx");
// conversions
add("cvtsi2ss", [0xf3], [0x0f, 0x2a], 4, false, "xg"); add("cvtsi2ss q", [0xf3], [0x0f, 0x2a], 8, false, "xg", { w: 1 });
add("cvtsi2sd", [0xf2], [0x0f, 0x2a], 4, false, "xg"); add("cvtsi2sd q", [0xf2], [0x0f, 0x2a], 8, false, "xg", { w: 1 });
for (const [n, p, o, ms] of [["cvttss2si", [0xf3], 0x2c, 4], ["cvtss2si", [0xf3], 0x2d, 4], ["cvttsd2si", [0xf2], 0x2c, 8], ["cvtsd2si", [0xf2], 0x2d, 8]]) {
  add(n, p, [0x0f, o], ms, false, "gx", { gsize: 4 }); add(n + " q", p, [0x0f, o], ms, false, "gx", { w: 1, gsize: 8 });
}
add("cvtps2pd", [], [0x0f, 0x5a], 8, false); add("cvtpd2ps", [0x66], [0x0f, 0x5a], 16, true);
add("cvtss2sd", [0xf3], [0x0f, 0x5a], 4, false); add("cvtsd2ss", [0xf2], [0x0f, 0x5a], 8, false);
add("cvtdq2ps", [], [0x0f, 0x5b], 16, true); add("cvtps2dq", [0x66], [0x0f, 0x5b], 16, true);
add("cvttps2dq", [0xf3], [0x0f, 0x5b], 16, true); add("cvtdq2pd", [0xf3], [0x0f, 0xe6], 8, false);
add("cvtpd2dq", [0xf2], [0x0f, 0xe6], 16, true); add("cvttpd2dq", [0x66], [0x0f, 0xe6], 16, true);
// integer SIMD (66 0F xx)
const PINT = { punpcklbw: 0x60, punpcklwd: 0x61, punpckldq: 0x62, packsswb: 0x63, pcmpgtb: 0x64, pcmpgtw: 0x65,
  pcmpgtd: 0x66, packuswb: 0x67, punpckhbw: 0x68, punpckhwd: 0x69, punpckhdq: 0x6a, packssdw: 0x6b,
  punpcklqdq: 0x6c, punpckhqdq: 0x6d, pcmpeqb: 0x74, pcmpeqw: 0x75, pcmpeqd: 0x76, psrlw: 0xd1, psrld: 0xd2,
  psrlq: 0xd3, paddq: 0xd4, pmullw: 0xd5, psubusb: 0xd8, psubusw: 0xd9, pminub: 0xda, pand: 0xdb,
  paddusb: 0xdc, paddusw: 0xdd, pmaxub: 0xde, pandn: 0xdf, pavgb: 0xe0, psraw: 0xe1, psrad: 0xe2, pavgw: 0xe3,
  pmulhuw: 0xe4, pmulhw: 0xe5, psubsb: 0xe8, psubsw: 0xe9, pminsw: 0xea, por: 0xeb, paddsb: 0xec, paddsw: 0xed,
  pmaxsw: 0xee, pxor: 0xef, psllw: 0xf1, pslld: 0xf2, psllq: 0xf3, pmuludq: 0xf4, pmaddwd: 0xf5, psadbw: 0xf6,
  psubb: 0xf8, psubw: 0xf9, psubd: 0xfa, psubq: 0xfb, paddb: 0xfc, paddw: 0xfd, paddd: 0xfe };
for (const [n, op] of Object.entries(PINT)) add(n, [0x66], [0x0f, op], 16, true);
add("pshufd", [0x66], [0x0f, 0x70], 16, true, "xxi"); add("pshufhw", [0xf3], [0x0f, 0x70], 16, true, "xxi");
add("pshuflw", [0xf2], [0x0f, 0x70], 16, true, "xxi");
for (const [n, op, sub] of [["psrlw i", 0x71, 2], ["psraw i", 0x71, 4], ["psllw i", 0x71, 6], ["psrld i", 0x72, 2],
  ["psrad i", 0x72, 4], ["pslld i", 0x72, 6], ["psrlq i", 0x73, 2], ["psrldq", 0x73, 3], ["psllq i", 0x73, 6], ["pslldq", 0x73, 7]])
  add(n, [0x66], [0x0f, op], 0, false, "shi", { sub });
add("pextrw", [0x66], [0x0f, 0xc5], 0, false, "gxi"); add("pinsrw", [0x66], [0x0f, 0xc4], 2, false, "xgi");
add("ldmxcsr", [], [0x0f, 0xae], 4, false, "ldmx"); add("stmxcsr", [], [0x0f, 0xae], 4, false, "stmx");
add("movnti", [], [0x0f, 0xc3], 4, false, "mnti");
add("maskmovdqu", [0x66], [0x0f, 0xf7], 0, false, "maskmov");

function fam_sse(g) {
  const d = fam_sse1(g);
  const r = g.r, o = d.o;
  // Prefixes that do not change these instructions: 66 before a mandatory F2/F3 (F2/F3
  // select the instruction), and REX.W on instructions whose operands do not depend on it.
  if (o.pfx && o.pfx.length && (o.pfx[0] === 0xf2 || o.pfx[0] === 0xf3) && r.chance(0.04)) o.pfx = [0x66, ...o.pfx];
  if (!o.w && d.wFree && r.chance(0.04)) o.w = 1;
  return d;
}
function fam_sse1(g) {
  const r = g.r, e = r.pick(SSE);
  const x = () => r.below(16);
  const useMem = e.msize && r.chance(0.4);
  const misalign = e.align && r.chance(0.04) ? r.pick([4, 8, 1]) : 0;   // expect #GP
  const memOpt = { align: e.align ? 16 : 1, misalign };
  const base = { name: e.name, reads: 0, defs: 0, undefs: 0, wFree: ["xx", "xxi", "sx", "shi", "m", "xm"].includes(e.kind) };
  const p = e.pfx, w = e.w ? 1 : 0;
  switch (e.kind) {
    case "xx": case "xxi": {
      const rm = useMem ? g.mem(e.msize, memOpt) : { reg: x() };
      if (useMem && (rm.addr & 3) === 0 && r.chance(0.6)) {
        // Special floats in the memory operand too (the buffer is random bits otherwise).
        const dbl = /(pd|sd)$|^cvt(pd|sd)|^u?comisd/.test(e.name), flt = /(ps|ss)$|^cvt(ps|ss)|^u?comiss|2p[sd]$/.test(e.name);
        if (dbl || flt) {
          const pp = [];
          for (let o = 0; o < e.msize; o += dbl ? 8 : 4) {
            if (dbl) { const v = f64Value(r); pp.push([rm.addr + o, Number(v & 0xffffffffn)], [rm.addr + o + 4, Number(v >> 32n)]); }
            else pp.push([rm.addr + o, f32Value(r)]);
          }
          g.pendingPatch = pp;
        }
      }
      const imm = e.kind === "xxi" ? [e.imm8 ? r.below(e.imm8) : r.below(256)] : [];
      return { ...base, o: { pfx: p, op: e.op, reg: x(), rm, imm }, ...(e.flags ? { defs: STATUS } : {}) };
    }
    case "sx": {
      const rm = useMem ? g.mem(e.msize, memOpt) : { reg: x() };
      return { ...base, o: { pfx: p, op: e.op, reg: x(), rm } };
    }
    case "m": case "xm": return { ...base, o: { pfx: p, op: e.op, reg: x(), rm: g.mem(e.msize, memOpt) } };
    case "xg": case "xgi": {
      const rm = useMem ? g.mem(e.msize) : { reg: r.below(16) };
      return { ...base, o: { pfx: p, w, op: e.op, reg: x(), rm, imm: e.kind === "xgi" ? [r.below(256)] : [] } };
    }
    case "gs": { // movd/movq r/m, xmm
      const rm = useMem ? g.mem(e.msize) : { reg: r.below(16) };
      return { ...base, o: { pfx: p, w, op: e.op, reg: x(), rm }, dstIsRm: true, size: e.msize, writesDst: true };
    }
    case "gx": case "gxi": {
      const rm = useMem ? g.mem(e.msize) : { reg: x() };
      return { ...base, o: { pfx: p, w, op: e.op, reg: r.below(16), rm, imm: e.kind === "gxi" ? [r.below(256)] : [] }, dstReg: true, size: e.gsize || (w ? 8 : 4), writesDst: true };
    }
    case "shi": return { ...base, o: { pfx: p, op: e.op, reg: e.sub, rm: { reg: x() }, imm: [r.chance(0.7) ? r.below(17) : r.below(256)] } };
    case "ldmx": {
      const m = g.mem(4, { allowRip: false, align: 4 });
      // Reserved bits give #GP; not bit 17, AMD's MM (misaligned SSE) mode, which AMD accepts.
      g.pendingPatch = [[m.addr, (mxcsrValue(r) | (r.chance(0.03) ? 2 ** r.pick([16, 18, 19, 20, 24, 31]) : 0)) >>> 0]];
      return { ...base, o: { op: e.op, reg: 2, rm: m } };
    }
    case "stmx": return { ...base, o: { op: e.op, reg: 3, rm: g.mem(4) } };
    case "mnti": { const s = r.pick([4, 8]); return { ...base, o: { w: s === 8 ? 1 : 0, op: e.op, reg: r.below(16), rm: g.mem(s) } }; }
    case "maskmov": {
      g.pendingSetup = [[7, DATA + 0x400 + (r.below(0x1000) & ~0), 4]];
      return { ...base, o: { pfx: p, op: e.op, reg: x(), rm: { reg: x() } }, writesList: [] };
    }
  }
  throw new Error("bad sse kind " + e.kind);
}

const PREFIX_FAMS = new Set([fam_alu, fam_incdec, fam_test, fam_shift]);
const FAMILIES = [
  [fam_alu, 14], [fam_incdec, 4], [fam_test, 3], [fam_mov, 6], [fam_shift, 8], [fam_shld, 3], [fam_muldiv, 5],
  [fam_bt, 4], [fam_bitscan, 4], [fam_cc, 5], [fam_xchg, 5], [fam_misc, 7], [fam_string, 4], [fam_stack, 4],
  [fam_sse, 30]];
const FAM_TOTAL = FAMILIES.reduce((s, [, w]) => s + w, 0);
function pickFamily(r) {
  let n = r.below(FAM_TOTAL);
  for (const [f, w] of FAMILIES) { if (n < w) return f; n -= w; }
  return FAMILIES[0][0];
}

// Emit setup moves requested by a family (count in CL, dividend extension, string pointers...).
function emitSetups(g, list) {
  for (const s of list) {
    if (s[0] === "cwd") { // sign-extend the dividend: cbw/cwd/cdq/cqo
      const size = s[1];
      if (size === 1) g.emit([0x66, 0x98], "setup");
      else g.emit([...sizePfx(size), ...(size === 8 ? [0x48] : []), 0x99], "setup");
      continue;
    }
    if (s[0] === "a32rcx") continue;
    const [reg, val, size] = s;
    if (size === 1) g.emit(assemble({ op: [0xb0], opreg: reg, imm: [val & 0xff], at: g.pos }).bytes, "setup");
    else if (size === 4) g.setupMov(reg, val);
    else g.setupMov(reg, val);
  }
}

// One unit: setups + instruction. Returns false if the family could not produce one here.
function unit(g) {
  const r = g.r;
  const save = { pos: g.pos, n: g.units.length };
  g.pendingSetup = null; g.pendingPatch = null;
  const f = pickFamily(r);
  const d = f(g);
  const undo = () => { g.units.length = save.n; g.pos = save.pos; return false; };
  if (!d) return undo();
  if (d.reads & g.und) return undo();
  // Setup registers the family asked for must not be clobbered by the address setups already
  // emitted; emit them last (they only load registers that the address does not use).
  if (g.pendingSetup) {
    // Address setups (emitted by mem()) used registers; make sure requested setups do not
    // reload any of them.
    const used = new Set();
    for (let i = save.n; i < g.units.length; i++) {
      const b = g.units[i].bytes;
      let j = 0, rexb = 0;
      if ((b[0] & 0xf0) === 0x40) { rexb = b[0] & 1; j = 1; }
      if (b[j] >= 0xb8 && b[j] <= 0xbf) used.add(((b[j] & 7) | (rexb << 3)));
      else if (b[j] === 0xc7) used.add((b[j + 1] & 7) | (rexb << 3));
    }
    for (const s of g.pendingSetup) if (typeof s[0] === "number" && used.has(s[0])) return undo();
    if (g.pendingSetup.some((s) => s[0] === "cwd") && (used.has(0) || used.has(2))) return undo();
    emitSetups(g, g.pendingSetup);
  }
  const o = { ...d.o, at: g.pos };
  if (d.nopFix) { if (o.op.length === 1) { delete o.reg; delete o.rm; } else if (!o.rm) o.rm = { reg: r.below(16) }; }
  const a = assemble(o);
  // Decoder edge cases on instructions without mandatory prefixes: a redundant 66 where it
  // changes nothing (8-bit, REX.W, or already 16-bit), and a REX that a legacy prefix follows,
  // which is ignored (SDM 2.2.1). Either may push the length past 15 bytes: #GP(0).
  if (PREFIX_FAMS.has(f)) {
    if ((d.size ?? 4) !== 4 && r.chance(0.04)) a.bytes.unshift(0x66);
    if (!a.hasRex && r.chance(0.04)) {
      if (a.opStart === 0) a.bytes.unshift(0x3e);
      a.bytes.unshift(0x40 | r.below(16));
    }
  }
  // Register destinations: never RSP (except by push/pop) or R15.
  const dests = [];
  const sz = d.size || 8;
  if (d.writesDst) {
    if (d.dstIsRm && o.rm && o.rm.reg !== undefined) dests.push(physReg(o.rm.reg, sz, a.hasRex));
    if (d.dstReg) dests.push(physReg(o.reg, sz, a.hasRex));
    if (d.dstOp !== undefined) dests.push(physReg(d.dstOp, sz, a.hasRex));
    if (d.dst !== undefined && d.dst !== null) dests.push(d.dst);
  }
  for (const w of d.writesList || []) dests.push(w[0]);
  if (d.name === "lahf") dests.length = 0;
  for (const x of dests) if (x === R15 || (x === RSP)) return undo();
  // POP r/m with an RSP-based address is computed after the increment; not generated (above).
  // Implicit XMM/GPR checks done; account flags and stack.
  if (d.stack) {
    const n = g.rspOff + d.stack;
    if (n < -0x300 || n > 0x300) return undo();
    g.rspOff = n;
  }
  if (g.pendingPatch) g.patches.push(...g.pendingPatch);
  if (d.norm32) {
    const x = d.norm32 === "rm" ? o.rm.reg : o.reg;
    a.bytes.push(...assemble({ op: [0x89], reg: x, rm: { reg: x } }).bytes);
  }
  g.emit(a.bytes, d.name);
  g.units[g.units.length - 1].main = true;
  if (d.keepUnd) g.und = (g.und & ~(d.defs & ~STATUS_KEEP(d))) | d.undefs;
  else g.und = (g.und & ~(d.defs | d.undefs)) | d.undefs;
  g.units[g.units.length - 1].und = g.und;
  return true;
}
// Shifts/rotates with a nonzero count define their flags exactly; REP string compares with a
// zero count leave them; both are modelled in defs already, so nothing extra is kept.
function STATUS_KEEP() { return 0; }

// A forward jump over the next 1-2 units (Jcc rel8/rel32 or JMP rel8/rel32).
function jumpUnit(g) {
  const r = g.r;
  const long = r.chance(0.25), uncond = r.chance(0.15);
  let cc = r.below(16);
  if (!uncond && (CC_READS[cc] & g.und)) return false;
  const jlen = long ? (uncond ? 5 : 6) : 2;
  const startPos = g.pos, startN = g.units.length, startUnd = g.und;
  g.pos += jlen;
  g.inBody = true;
  const n = r.range(1, 2);
  for (let i = 0; i < n; i++) for (let t = 0; t < 20 && !unit(g); t++);
  g.inBody = false;
  const body = g.units.splice(startN);
  const bodyLen = body.reduce((s, u) => s + u.bytes.length, 0);
  if (!long && bodyLen > 127) { g.pos = startPos; g.und = startUnd; return false; }
  const jb = uncond ? (long ? [0xe9, ...le(bodyLen, 4)] : [0xeb, bodyLen]) : (long ? [0x0f, 0x80 | cc, ...le(bodyLen, 4)] : [0x70 | cc, bodyLen]);
  g.units.push({ bytes: jb, tag: uncond ? "jmp" : "jcc", at: startPos });
  g.units.push(...body);
  g.und = uncond ? startUnd : (startUnd | g.und);
  if (uncond) g.und = startUnd;
  for (const u of body) u.body = true;
  const last = g.units[g.units.length - 1];
  last.body = false; last.und = g.und; last.main = true;
  return true;
}

// ---------------------------------------------------------------- cases
export function genCase(seed, index) {
  const r = makeRng(seed, index);
  const g = new Gen(r);
  const gpr = new Array(16);
  for (let i = 0; i < 16; i++) gpr[i] = gprValue(r);
  gpr[RSP] = BigInt(STACK);
  gpr[R15] = BigInt(BASE);
  const xmm = new Uint8Array(256);
  const xdv = new DataView(xmm.buffer);
  for (let i = 0; i < 16; i++) xmmValue(r, xdv, i * 16);
  const mxcsr = r.chance(0.6) ? 0x1f80 | (r.chance(0.2) ? r.below(64) : 0) : mxcsrValue(r);
  let rflags = 0x202 | (r.u32() & STATUS);
  if (r.chance(0.25)) rflags |= DF;
  const fillSeed = r.u32() | 1;
  const n = r.range(1, 8);
  for (let i = 0; i < n; i++) {
    if (r.chance(0.08)) { if (jumpUnit(g)) continue; }
    for (let t = 0; t < 50 && !unit(g); t++);
  }
  const code = [];
  for (const u of g.units) code.push(...u.bytes);
  return {
    index, code: Uint8Array.from(code), units: g.units, gpr, rflags, xmm, mxcsr, fillSeed,
    patches: g.patches.map(([addr, v]) => [((addr - DATA) >>> 2), v >>> 0]),
    flagMask: (STATUS & ~g.und) | DF,
  };
}

export function formatUnits(c) {
  return c.units.map((u) => u.bytes.map(hex).join(" ") + "  ; " + u.tag).join("\n");
}
