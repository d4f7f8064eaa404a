// The run loop's hot path (ops/integer.ts hotStep, used by cpu/run.ts in 64-bit mode) must
// match the full decoder exactly. Each case runs a loop body three times (so memory forms
// hit the TLB on later iterations and take the hot path) once through runSlice and once
// through step(), and compares all GPRs, RIP, RFLAGS and the data area.
import { mode64, poke, R, setR, setFlags, m64, setM64, CODE, DATA, RAX, RCX, RBX, RSI } from "./harness";
import * as S from "../../assembly/cpu/state";
import { getRflags } from "../../assembly/cpu/flags";
import { step } from "../../assembly/cpu/exec";
import { runSlice } from "../../assembly/cpu/run";
import { hotStep, NOT_HOT } from "../../assembly/cpu/ops/integer";
import { faultPending, clearFault } from "../../assembly/cpu/fault";
import { invalidateFetch } from "../../assembly/cpu/decode";

const REGS_SAVE: usize = memory.data(17 * 8 * 2);
const DATA_LEN: u32 = 64;
const DATA_SAVE: usize = memory.data(64);

function setup(): void {
  mode64();
  for (let r: u32 = 0; r < 16; r++) setR(r, 0x0123456789abcdef * (<u64>r + 1) ^ (<u64>r << 56));
  setR(RBX, DATA);
  setR(RSI, 2);
  setR(4, 0x80000);
  for (let i: u32 = 0; i < DATA_LEN; i += 8) setM64(DATA + <u64>i, 0xfedcba9876543210 ^ (<u64>i * 0x1111));
  setFlags(0x8d5);
}

// "mov ecx, 3; L: body; dec ecx; jnz L; hlt"
function loadCode(body: string): void {
  const n = poke(CODE, "b9 03 00 00 00 " + body + " ff c9 75 00 f4");
  // Patch the jnz displacement back to L (CODE + 5): jnz ends at CODE + n - 1.
  const jnzEnd = <i32>n - 1;
  poke(CODE + <u64>(n - 2), hex8(<u32>(5 - jnzEnd) & 0xff));
  invalidateFetch();
  S.rip = CODE;
}
function hex8(v: u32): string {
  const d = "0123456789abcdef";
  return d.charAt(<i32>(v >> 4)) + d.charAt(<i32>(v & 15));
}

function snapshot(slot: u32): void {
  const p = REGS_SAVE + <usize>(slot * 17 * 8);
  for (let r: u32 = 0; r < 16; r++) store<u64>(p + <usize>(r * 8), R(r));
  store<u64>(p + 128, S.rip);
  if (slot == 0) for (let i: u32 = 0; i < DATA_LEN; i += 8) store<u64>(DATA_SAVE + <usize>i, m64(DATA + <u64>i));
}

function check(body: string): void {
  // Hot path: runSlice stops at HLT.
  setup(); loadCode(body);
  expect(runSlice(1000)).toBe(1);
  snapshot(0);
  const fl0 = getRflags();
  // Reference: the full decoder, one step() at a time.
  setup(); loadCode(body);
  for (let i = 0; i < 1000 && !S.halted; i++) {
    step();
    if (faultPending) { clearFault(); break; }
  }
  snapshot(1);
  for (let r: u32 = 0; r < 17; r++) {
    expect(load<u64>(REGS_SAVE + <usize>(r * 8))).toBe(load<u64>(REGS_SAVE + 136 + <usize>(r * 8)));
  }
  expect(fl0).toBe(getRflags());
  for (let i: u32 = 0; i < DATA_LEN; i += 8) expect(load<u64>(DATA_SAVE + <usize>i)).toBe(m64(DATA + <u64>i));
  S.setHalted(false);
}

describe("hot path matches the full decoder (64-bit)", () => {
  test("ALU register forms, 32 and 64 bit, with REX.R/B", () => {
    check("01 d8 48 29 c8 4d 31 c1 45 39 c8 13 c1 48 1b d3 4c 21 e0 09 f7");
  });
  test("group 1 imm8 / imm32, rAX imm32, TEST, MOV", () => {
    check("83 c0 7f 48 83 ea 80 49 81 f0 44 33 22 11 81 f9 00 00 00 80 25 f0 f0 0f 0f 48 3d 01 02 03 04 85 c8 89 de 4c 8b c8 48 c7 c2 ff ff ff ff c7 c7 12 34 56 78");
  });
  test("byte moves: AH..BH without REX, SPL..DIL with REX", () => {
    check("88 e0 88 fe 40 88 e7 40 88 fd c6 c2 5a 41 c6 c7 a5 88 23 40 88 63 01 c6 43 02 99 88 7b 03");
  });
  test("memory forms: SIB, disp8/disp32, RMW, CMP, LEA, RIP-relative", () => {
    // Each destination is written once per iteration, so every result survives to the end.
    check("01 03 48 03 43 08 48 29 44 f3 f0 39 4b 10 48 83 43 18 05 83 7c 33 10 7f 81 6b 20 11 11 00 00 " +
          "48 89 4b 28 8b 53 2c c7 43 30 78 56 34 12 48 c7 44 73 30 ff ff ff ff 4c 8d 44 b3 07 8d 3c 5b " +
          "48 85 53 08 4c 8b 0d 00 00 00 00 4c 8d 15 f9 ff ff ff 4c 33 5b 08 48 39 43 08");
  });
  test("Jcc rel8 / rel32 and JMP, taken and not taken", () => {
    check("39 c0 74 02 eb 00 0f 85 10 00 00 00 0f 84 00 00 00 00 e9 00 00 00 00 72 00 eb 00");
  });
  test("hotStep declines prefixed and non-hot instructions", () => {
    setup();
    poke(CODE, "66 01 d8");
    invalidateFetch(); S.rip = CODE;
    step();  // loads the fetch window (prefixed: full decoder)
    poke(CODE, "66 01 d8 f0 01 03 d1 e0 48 0f af c3 ff c0");
    expect(hotStep(CODE)).toBe(NOT_HOT);        // 66 prefix
    expect(hotStep(CODE + 3)).toBe(NOT_HOT);    // LOCK
    expect(hotStep(CODE + 6)).toBe(NOT_HOT);    // shift
    expect(hotStep(CODE + 8)).toBe(NOT_HOT);    // 0F AF
    expect(hotStep(CODE + 12)).toBe(NOT_HOT);   // INC
  });
});
