// Smoke test: random streams dense in system opcodes over random GDT/IDT contents, in real,
// protected and 64-bit mode. Must end in architectural outcomes (no wasm trap) and keep the
// CPL invariants: in protected mode CPL = SS.DPL = CS.RPL.
import * as S from "../../assembly/cpu/state";
import { run, setSegment, setCr } from "../../assembly/index";
import { setup, w8, w64, desc, gate32, AR_CODE32_0, AR_DATA32_0, AR_CODE64_0 } from "./sys_helpers";
let seed: u64 = 0x9abcdef1234;
function rnd(): u32 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return <u32>seed; }
const sysOps: u8[] = [0x0f, 0x0f, 0x0f, 0xcd, 0xcf, 0xca, 0xcb, 0x9a, 0xea, 0x8e, 0x8c, 0x9d, 0x9c, 0xe4, 0xec, 0x6c, 0x6e, 0xf3, 0x48, 0x66, 0xc4, 0xc5, 0x07, 0x17, 0x1f, 0xcc, 0xce, 0xf1, 0xfa, 0xfb];
const sub0f: u8[] = [0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x20, 0x21, 0x22, 0x23, 0x30, 0x32, 0x34, 0x35, 0xa1, 0xa9, 0xb2, 0xb4, 0xb5, 0xa2, 0x31];
describe("fuzz", () => {
  it("random system instruction streams never trap", () => {
    let bad: u32 = 0;
    for (let iter = 0; iter < 600; iter++) {
      setup();
      const mode = iter % 3;
      // random-ish GDT and IDT contents
      for (let i: u32 = 0; i < 32; i++) w64(0x500 + i * 8, (<u64>rnd() << 32) | <u64>rnd());
      w64(0x508, desc(0, 0xfffff, 0x9b, 0xc)); w64(0x510, desc(0, 0xfffff, 0x93, 0xc));
      for (let i: u32 = 0; i < 256; i++) w64(0x1000 + i * 8, (rnd() & 3) == 0 ? gate32(0x08, 0x7c00 + (rnd() & 0xff), 0x8e | ((rnd() & 3) << 5)) : ((<u64>rnd() << 32) | <u64>rnd()));
      S.setGdtr(0x500, 0xff); S.setIdtr(0x1000, 0x7ff);
      for (let a: u32 = 0x7c00; a < 0x7e00; a++) {
        const r = rnd() & 7;
        if (r < 3) { const b = sysOps[rnd() % sysOps.length]; w8(a, b); if (b == 0x0f) { a++; w8(a, sub0f[rnd() % sub0f.length]); } }
        else w8(a, rnd() & 0xff);
      }
      if (mode == 1) {
        setCr(0, 0x11);
        setCr(4, <u64>(rnd() & 0x80f));   // VME PVI TSD DE UMIP at random
        setSegment(S.CS, 0x08, 0, 0xffffffff, AR_CODE32_0);
        for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
      } else if (mode == 2) {
        w64(0x10000, 0x11007); w64(0x11000, 0x12007); w64(0x12000, 0x87);
        setCr(4, 0x20); setCr(3, 0x10000); setCr(0xc0000080, 0x501); setCr(0, 0x80000011);
        setSegment(S.CS, 0x08, 0, 0xffffffff, AR_CODE64_0);
        for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
        S.setIdtr(0x1000, 0xfff);
      } else setSegment(S.CS, 0, 0, 0xffff, 0x9b);
      S.setReg64(S.RSP, 0x9000); S.setRip(0x7c00);
      for (let r: u32 = 0; r < 16; r++) if (r != 4) S.setReg64(r, (rnd() & 1) != 0 ? <u64>rnd() : <u64>(rnd() & 0xfff));
      const rc = run(200);
      if (rc > 3) bad++;
      if (mode != 0 && S.protMode && !S.vm86 && !S.halted) {
        if (S.cpl != S.segDpl(S.SS) || (S.segSel(S.CS) & 3) != S.cpl) bad++;
      }
    }
    expect<u32>(bad).toBe(0);
  });
});
