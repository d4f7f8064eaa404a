// Lazy flags: each lazy kind against hand-computed RFLAGS, materialization, testCC.
import {
  setLazy, setLazyCarry, setLazyIncDec, getRflags, setRflags, setStatusFlags, testCC, getCF,
  LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC,
} from "../../assembly/cpu/flags";

const CF: u64 = 1, PF: u64 = 4, AF: u64 = 0x10, ZF: u64 = 0x40, SF: u64 = 0x80, OF: u64 = 0x800;
function st(): u64 { return getRflags() & 0x8d5; }

describe("lazy arithmetic flags", () => {
  test("ADD: carry, overflow, aux, parity, zero per size", () => {
    setRflags(2);
    setLazy(LF_ADD, 1, 0xff, 1, 0x100);
    expect(st()).toBe(CF | ZF | AF | PF);
    setLazy(LF_ADD, 1, 0x7f, 1, 0x80);
    expect(st()).toBe(OF | SF | AF);
    setLazy(LF_ADD, 2, 0x8000, 0x8000, 0x10000);
    expect(st()).toBe(CF | OF | ZF | PF);
    setLazy(LF_ADD, 8, 0xffffffffffffffff, 2, 1);
    expect(st()).toBe(CF | AF);
    setLazy(LF_ADD, 4, 1, 2, 3);
    expect(st()).toBe(PF);
  });
  test("ADC with carry-in: a + 0xff + 1 wraps to itself with CF", () => {
    setLazyCarry(LF_ADD, 1, 5, 0xff, 5 + 0xff + 1, 1);
    expect(st() & CF).toBe(CF);
    setLazyCarry(LF_ADD, 4, 0, 0, 1, 1);
    expect(st() & CF).toBe(0);
  });
  test("SUB / CMP / NEG", () => {
    setLazy(LF_SUB, 4, 1, 2, <u64>-1);
    expect(st()).toBe(CF | SF | AF | PF);
    setLazy(LF_SUB, 1, 0x80, 1, 0x7f);
    expect(st()).toBe(OF | AF);
    setLazy(LF_SUB, 8, 5, 5, 0);
    expect(st()).toBe(ZF | PF);
    setLazy(LF_SUB, 2, 0, 0x8000, 0x8000);    // NEG of the most negative value
    expect(st()).toBe(CF | OF | SF | PF);
    setLazyCarry(LF_SUB, 1, 5, 5, <u64>-1, 1);  // SBB borrow
    expect(st() & CF).toBe(CF);
  });
  test("LOGIC clears CF, OF and AF", () => {
    setRflags(2 | CF | OF | AF);
    setLazy(LF_LOGIC, 4, 0, 0, 0x80000000);
    expect(st()).toBe(SF | PF);
  });
  test("INC/DEC keep CF", () => {
    setRflags(2 | CF);
    setLazyIncDec(LF_INC, 1, 0xff, 0x100);
    expect(st()).toBe(CF | ZF | AF | PF);
    setLazy(LF_SUB, 4, 1, 0, 1);                 // CF = 0
    setLazyIncDec(LF_DEC, 4, 0x80000000, 0x7fffffff);
    expect(st()).toBe(OF | AF | PF);
    expect(getCF()).toBe(false);
  });
  test("setRflags/getRflags round trip keeps reserved bit 1 and drops reserved bits", () => {
    setRflags(0xffffffffffffffff);
    expect(getRflags()).toBe(0x3f7fd7);
    setRflags(0);
    expect(getRflags()).toBe(2);
  });
  test("setStatusFlags replaces only the masked flags", () => {
    setLazy(LF_SUB, 4, 1, 2, <u64>-1);   // CF SF AF PF
    setStatusFlags(CF | ZF, ZF);
    expect(st()).toBe(ZF | SF | AF | PF);
  });
});

describe("condition codes", () => {
  test("all 16 conditions against a flag word", () => {
    // O NO B AE E NE BE A S NS P NP L GE LE G
    setRflags(2);
    expect(testCC(0)).toBe(false); expect(testCC(1)).toBe(true);
    expect(testCC(2)).toBe(false); expect(testCC(3)).toBe(true);
    expect(testCC(4)).toBe(false); expect(testCC(6)).toBe(false); expect(testCC(7)).toBe(true);
    expect(testCC(12)).toBe(false); expect(testCC(14)).toBe(false); expect(testCC(15)).toBe(true);
    setRflags(2 | SF);                     // SF != OF: less
    expect(testCC(8)).toBe(true); expect(testCC(12)).toBe(true); expect(testCC(13)).toBe(false);
    expect(testCC(14)).toBe(true);
    setRflags(2 | SF | OF);                // SF == OF: greater-or-equal
    expect(testCC(0)).toBe(true); expect(testCC(12)).toBe(false); expect(testCC(15)).toBe(true);
    setRflags(2 | CF);
    expect(testCC(2)).toBe(true); expect(testCC(6)).toBe(true); expect(testCC(7)).toBe(false);
    setRflags(2 | PF);
    expect(testCC(10)).toBe(true); expect(testCC(11)).toBe(false);
  });
  test("conditions read lazily evaluated results", () => {
    setLazy(LF_SUB, 4, 3, 5, <u64>-2);   // 3 < 5 signed and unsigned
    expect(testCC(2)).toBe(true);  // B
    expect(testCC(12)).toBe(true); // L
    expect(testCC(4)).toBe(false); // E
    setLazy(LF_SUB, 4, 0x80000000, 1, 0x7fffffff);  // INT_MIN - 1: OF, not less unsigned
    expect(testCC(0)).toBe(true);
    expect(testCC(12)).toBe(true);  // L: INT_MIN < 1
    expect(testCC(2)).toBe(false);
  });
});
