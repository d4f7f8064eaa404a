// nestvm side of the differential test: loads build/core.wasm directly and runs a case in
// 64-bit mode with 4-level paging that maps the same virtual addresses as the native side.
import { bareEnv } from "../../scripts/bare-env.mjs";
import { readFileSync } from "node:fs";
import { CODE, DATA, DATA_SIZE } from "./gen.mjs";
import { initialData, fill } from "./native.mjs";

// Guest-physical layout (identity-mapped low 256 KiB, plus the test windows):
const GDT = 0x1000, IDT = 0x2000, TSS = 0x3000, PML4 = 0x4000, PDPT = 0x5000, PD = 0x6000;
const PT_LOW = 0x7000, PT_CODE = 0x8000, PT_DATA = 0x9000, HANDLERS = 0xa000, AUX = 0xb000;
const MX_IN = AUX + 0x100, MX_OUT = AUX + 0x108, IST_TOP = 0xf000;
const PCODE = 0x10000, PDATA = 0x20000, RAM = 0x40000;
const PML4N = BigInt(PML4), GDTN = BigInt(GDT), IDTN = BigInt(IDT), TSSN = BigInt(TSS);
const ERRCODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

export class Vm {
  constructor(wasmPath, cpl = 0) {
    this.cpl = cpl;
    const imports = { env: bareEnv() };
    const mod = new WebAssembly.Module(readFileSync(wasmPath));
    this.inst = new WebAssembly.Instance(mod, imports);
    const e = this.e = this.inst.exports;
    this.ramBase = Number(e.init(RAM));
    if (!this.ramBase) throw new Error("init failed");
    this.hasMx = typeof e.setMxcsr === "function" && typeof e.getMxcsr === "function";
    this.views();
    this.tables();
  }
  views() {
    const buf = this.e.memory.buffer;
    this.mem = new Uint8Array(buf, this.ramBase, RAM);
    this.dv = new DataView(buf, this.ramBase, RAM);
    this.u32 = new Uint32Array(buf, this.ramBase, RAM / 4);
    this.regs = new BigUint64Array(buf, Number(this.e.regsPtr()), 16);
    this.xmm = new Uint8Array(buf, Number(this.e.xmmPtr()), 256);
  }
  q(pa, v) { this.dv.setBigUint64(pa, BigInt(v), true); }
  tables() {
    this.mem.fill(0, 0, PCODE);
    // GDT: null, code64 DPL0, data DPL0, data DPL3, code64 DPL3, 64-bit TSS.
    const gdt = [0n, 0x00af9b000000ffffn, 0x00cf93000000ffffn, 0x00cff3000000ffffn, 0x00affb000000ffffn];
    gdt.forEach((d, i) => this.q(GDT + i * 8, d));
    const tssLo = 0x67n | (BigInt(TSS & 0xffffff) << 16n) | (0x89n << 40n) | (BigInt(TSS >>> 24) << 56n);
    this.q(GDT + 0x28, tssLo); this.q(GDT + 0x30, 0n);
    this.q(TSS + 4, IST_TOP);            // RSP0
    this.q(TSS + 0x24, IST_TOP);         // IST1
    // IDT: every vector -> HANDLERS + v*16 (interrupt gate, IST1, DPL0).
    for (let v = 0; v < 256; v++) {
      const off = HANDLERS + v * 16;
      const lo = BigInt(off & 0xffff) | (0x08n << 16n) | (1n << 32n) | (0x8en << 40n) | (BigInt(off >>> 16) << 48n);
      this.q(IDT + v * 16, lo); this.q(IDT + v * 16 + 8, 0n);
      // Handler: HLT (with the STMXCSR fallback first when the core exports no MXCSR access).
      const h = this.hasMx ? [0xf4] : [0x0f, 0xae, 0x1c, 0x25, ...le32(MX_OUT), 0xf4];
      this.mem.set(h, off);
    }
    // 4-level paging: low 256 KiB identity (supervisor), AUX page user; code and data windows.
    this.q(PML4, PDPT | 7); this.q(PDPT, PD | 7);
    this.q(PD, PT_LOW | 7); this.q(PD + (CODE >>> 21) * 8, PT_CODE | 7); this.q(PD + (DATA >>> 21) * 8, PT_DATA | 7);
    for (let i = 0; i < RAM / 4096; i++) this.q(PT_LOW + i * 8, (i * 4096) | (i * 4096 === AUX ? 7 : 3));
    this.q(PT_CODE, PCODE | 7);
    for (let i = 0; i < DATA_SIZE / 4096; i++) this.q(PT_DATA + i * 8, (PDATA + i * 4096) | 7);
  }
  run(c, endBytes) {
    const e = this.e;
    e.reset();
    if (this.e.memory.buffer !== this.mem.buffer) this.views();
    // Code page: case bytes, end marker, zeros, then the RIP-relative pattern at 0x800.
    this.mem.fill(0, PCODE, PCODE + 0x800);
    this.mem.set(c.code, PCODE);
    this.mem.set(endBytes, PCODE + c.code.length);
    fill(this.u32, (PCODE + 0x800) / 4, 0x200, (c.fillSeed ^ 0x5bd1e995) >>> 0);
    // Data buffer: the same xorshift fill and patches as natively.
    const init = initialData(c);
    this.u32.set(init, PDATA / 4);
    this.mem.fill(0, IST_TOP - 64, IST_TOP);
    let start = CODE;
    if (!this.hasMx) {
      // Prologue in the AUX page: LDMXCSR [MX_IN]; JMP CODE.
      this.dv.setUint32(MX_IN, c.mxcsr >>> 0, true);
      const pro = [0x0f, 0xae, 0x14, 0x25, ...le32(MX_IN), 0xe9];
      this.mem.set(pro, AUX);
      this.dv.setInt32(AUX + pro.length, CODE - (AUX + pro.length + 4), true);
      start = AUX;
    } else e.setMxcsr(c.mxcsr);
    e.setCr(4, 0x620n);                  // PAE | OSFXSR | OSXMMEXCPT
    e.setCr(0xc0000080, 0x500n);         // LME | LMA
    e.setCr(3, PML4N);
    e.setCr(0, 0x80010033n);             // PG | WP | NE | ET | MP | PE
    e.setGdt(GDTN, 0x37); e.setIdt(IDTN, 0xfff);
    const u = this.cpl === 3;
    const csSel = u ? 0x23 : 0x08, dsSel = u ? 0x1b : 0x10, csAr = u ? 0xa0fb : 0xa09b, dsAr = u ? 0xc0f3 : 0xc093;
    for (const s of [0, 2, 3, 4, 5]) e.setSegment(s, dsSel, 0n, 0xffffffff, dsAr);
    e.setSegment(1, csSel, 0n, 0xffffffff, csAr);
    e.setSegment(6, 0, 0n, 0, 0x10000);
    e.setSegment(7, 0x28, TSSN, 0x67, 0x8b);
    for (let i = 0; i < 16; i++) this.regs[i] = c.gpr[i];
    this.xmm.set(c.xmm);
    e.setFlags(BigInt(c.rflags));
    e.setRip(BigInt(start));
    const ic0 = e.getIcount();
    let stop, trap = null;
    try { stop = e.run(5000); } catch (err) { trap = String(err && err.message || err); }
    if (this.e.memory.buffer !== this.mem.buffer) this.views();
    const res = { stop, trap, icount: Number(e.getIcount() - ic0) };
    res.gpr = Array.from(this.regs);
    res.xmm = Uint8Array.from(this.xmm);
    res.rip = e.getRip();
    res.rflags = e.getFlags();
    res.mxcsr = this.hasMx ? e.getMxcsr() >>> 0 : this.dv.getUint32(MX_OUT, true);
    const endAt = BigInt(CODE + c.code.length);
    res.status = -1;
    if (trap === null && stop === 1) {
      const rip = Number(res.rip);
      if (rip >= HANDLERS && rip < HANDLERS + 0x1000) {
        res.vector = (rip - HANDLERS) >> 4;
        res.status = 1;
        const fr = IST_TOP - 40;
        res.rip = this.dv.getBigUint64(fr, true);
        res.rflags = this.dv.getBigUint64(fr + 16, true);
        res.gpr[4] = this.dv.getBigUint64(fr + 24, true);
        res.err = ERRCODE_VECTORS.has(res.vector) ? this.dv.getUint32(fr - 8, true) : 0;
        res.cr2 = e.getCr(2);
        // At CPL 3 the end marker (HLT, or STMXCSR;HLT) raises #GP: that is a normal end.
        if (u && res.vector === 13 && res.rip === endAt + BigInt(endBytes.length - 1)) {
          res.status = 0; res.rip = endAt;
        }
      } else if (res.rip === endAt + BigInt(endBytes.length)) {
        res.status = 0; res.rip = endAt;
      }
    }
    res.init = init;
    res.diffs = new Map();
    for (let i = 0; i < DATA_SIZE / 4; i++) {
      const v = this.u32[PDATA / 4 + i];
      if (v !== init[i]) res.diffs.set(i * 4, v);
    }
    return res;
  }
}
function le32(v) { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }
export function endMarker(vm) { return vm.hasMx ? [0xf4] : [0x0f, 0xae, 0x1c, 0x25, ...le32(MX_OUT), 0xf4]; }
