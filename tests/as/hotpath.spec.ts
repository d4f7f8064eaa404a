// The run loop's hot path (cpu/hot.ts, used by cpu/run.ts in 64-bit and flat 32-bit protected
// mode) must match the full decoder exactly. Each case runs a loop body three times (so memory
// forms hit the TLB on later iterations and take the hot path) once through runSlice and once
// through step(), and compares all GPRs, XMM registers, RIP, RFLAGS and the data area.
// Flag-setting instructions are followed by PUSHF / POP / ADD folds, so a wrong flag anywhere
// shows in a register, not only the last one.
import { mode64, mode32, poke, R, setR, setFlags, m64, setM64, CODE, DATA, RAX, RCX, RBX, RSI } from "./harness";
import * as S from "../../assembly/cpu/state";
import { getRflags } from "../../assembly/cpu/flags";
import { step } from "../../assembly/cpu/exec";
import { runSlice } from "../../assembly/cpu/run";
import { hotStep, NOT_HOT } from "../../assembly/cpu/hot";
import { faultPending, clearFault } from "../../assembly/cpu/fault";
import { invalidateFetch } from "../../assembly/cpu/decode";

const REGS_SAVE: usize = memory.data(17 * 8 * 2);
const DATA_LEN: u32 = 64;
const DATA_SAVE: usize = memory.data(64);

const XMM_SAVE: usize = memory.data(2 * 256);

let use32 = false;  // setup() in flat 32-bit protected mode (harness mode32) instead of 64-bit

function setup(): void {
  if (use32) mode32(); else mode64();
  S.setCr4Raw(S.cr4 | S.CR4_OSFXSR);  // SSE usable: the hot path takes SSE2 integer shapes
  for (let i: u32 = 0; i < 32; i++) store<u64>(S.XMM + <usize>(i * 8), 0x9e3779b97f4a7c15 * (<u64>i + 3) ^ (<u64>i << 40));
  for (let r: u32 = 0; r < 16; r++) setR(r, 0x0123456789abcdef * (<u64>r + 1) ^ (<u64>r << 56));
  setR(RBX, DATA);
  setR(RSI, 2);
  setR(4, 0x80000);
  for (let i: u32 = 0; i < DATA_LEN; i += 8) setM64(DATA + <u64>i, 0xfedcba9876543210 ^ (<u64>i * 0x1111));
  setFlags(0x8d5);
}

// "mov ecx, 3; L: body; dec ecx; jnz L (rel32); hlt"
function loadCode(body: string): void {
  const n = poke(CODE, "b9 03 00 00 00 " + body + " ff c9 0f 85 00 00 00 00 f4");
  // Patch the jnz displacement back to L (CODE + 5): jnz ends at CODE + n - 1.
  const rel = <u32>(5 - (<i32>n - 1));
  poke(CODE + <u64>(n - 5), hex8(rel & 0xff) + hex8((rel >> 8) & 0xff) + hex8((rel >> 16) & 0xff) + hex8(rel >> 24));
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
  memory.copy(XMM_SAVE + <usize>(slot * 256), S.XMM, 256);
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
  for (let i: u32 = 0; i < 256; i += 8) expect(load<u64>(XMM_SAVE + <usize>i)).toBe(load<u64>(XMM_SAVE + 256 + <usize>i));
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
  // FL: pushfq; pop r11; add r13, r11 — folds the flags after the previous instruction into r13.
  test("shifts, rotates, group 3, IMUL, DIV/IDIV (register forms)", () => {
    const FL = " 9c 41 5b 4d 01 dd ";
    check("d1 e0" + FL + "48 d1 f8" + FL + "c1 ee 05" + FL + "48 c1 c2 0d" + FL + "d3 e6" + FL + "c1 e7 00" + FL +
          "41 d0 ea" + FL + "d0 dc" + FL + "48 d3 cf" + FL + "41 c1 d4 03" + FL + "41 c1 dc 1f" + FL +
          "f7 d8" + FL + "48 f7 d2" + FL + "f7 c6 ff 00 ff 00" + FL + "48 f7 e7" + FL + "f7 ef" + FL + "f6 e4" + FL +
          "0f af c7" + FL + "48 0f af d6" + FL + "6b c0 07" + FL + "48 69 d2 11 22 33 84" + FL + "f6 dc" + FL +
          "ba 00 00 00 00 41 b8 39 30 00 00 41 f7 f0 48 99 49 f7 f8 48 c7 c2 05 00 00 00 49 f7 f0 " +
          "66 b8 34 01 b2 07 f6 f2 f6 fa" + FL + "f9 13 c1" + FL + "48 1b d3" + FL + "f9 1a e0" + FL);
  });
  test("stack: PUSH/POP, CALL/RET, LEAVE, FF /2 /4 /6", () => {
    check("50 41 57 5a 41 58 e8 00 00 00 00 41 59 e8 02 00 00 00 eb 01 c3 " +
          "55 48 89 e5 48 83 ec 10 c9 ff 33 41 5a ff 73 08 41 5c " +
          "48 8d 05 04 00 00 00 ff d0 eb 01 c3 48 8d 05 03 00 00 00 ff e0 f4 " +
          "48 8d 05 09 00 00 00 48 89 43 30 ff 53 30 eb 01 c3 54 5c 54 41 5e");
  });
  test("MOVZX/MOVSX/MOVSXD, CMOVcc, SETcc, CWDE/CDQ, MOV imm, NOPs", () => {
    check("0f b6 c3 48 0f bf 53 02 0f be 73 05 4c 63 43 08 63 d0 39 c2 0f 44 c2 48 0f 4f 53 10 " +
          "0f 9c c0 40 0f 95 c6 0f 97 43 20 41 0f 92 c7 98 48 98 99 48 99 b8 78 56 34 12 " +
          "49 ba 88 77 66 55 44 33 22 11 b4 7f 41 b3 80 90 0f 1f 00 0f 1f 44 00 00 66 0f 1f 44 00 00 " +
          "66 2e 0f 1f 84 00 00 00 00 00 66 66 2e 0f 1f 84 00 00 00 00 00 0f 1f c0 48 0f 4c 7b 08 0f 43 f8 " +
          "0f b7 d7 45 0f be c8 0f be d4");
  });
  test("byte ALU, group 1 byte, memory RMW shifts / group 3 / INC / DEC", () => {
    const FL = " 9c 41 5b 4d 01 dd ";
    check("00 c4" + FL + "40 28 fe" + FL + "30 e2" + FL + "3a 43 01" + FL + "02 63 02" + FL + "00 43 03" + FL +
          "80 43 04 7f" + FL + "80 7b 05 10" + FL + "80 f2 55" + FL + "84 c4" + FL + "84 43 06" + FL + "04 05" + FL +
          "3c 7f" + FL + "a8 01" + FL + "48 a9 00 00 00 80" + FL + "c0 63 07 03" + FL + "48 d1 63 08" + FL +
          "d3 6b 10" + FL + "f6 5b 18" + FL + "48 f7 53 20" + FL + "f6 43 28 81" + FL + "fe 43 29" + FL +
          "48 ff 4b 30" + FL + "fe c4" + FL + "48 f7 63 08" + FL + "48 ff c7" + FL + "41 fe cf" + FL +
          "1c 01" + FL + "48 15 ff ff ff 7f" + FL + "18 63 38" + FL + "10 e3" + FL + "48 83 53 38 ff" + FL);
  });
  test("SSE2 integer shapes: moves, logic, add/sub, PMULUDQ, unpacks, shuffles, shifts by imm", () => {
    // rbx = DATA (16-byte aligned), rsi = 2.
    // Each result is folded into xmm15 (PADDQ xmm15, xmmN) so a wrong lane anywhere shows.
    check("66 0f 6f c1 66 44 0f d4 f8 66 44 0f 6f 43 10 66 45 0f d4 f8 f3 0f 6f 53 01 66 44 0f d4 fa 66 0f " +
          "7f 63 20 f3 44 0f 7f 4b 09 0f 28 ea 66 44 0f d4 fd 0f 29 6b 30 66 0f 28 f0 66 44 0f d4 fe 66 0f " +
          "29 73 10 66 0f ef c1 66 44 0f d4 f8 66 0f db d3 66 44 0f d4 fa 66 41 0f df e0 66 44 0f d4 fc 66 " +
          "0f eb 6b 10 66 44 0f d4 fd 66 0f fe c5 66 44 0f d4 f8 66 0f d4 4b 20 66 44 0f d4 f9 66 0f fa d0 " +
          "66 44 0f d4 fa 66 0f fb e1 66 44 0f d4 fc 66 0f f4 e9 66 44 0f d4 fd 66 0f 62 f2 66 44 0f d4 fe " +
          "66 0f 6a 7b 30 66 44 0f d4 ff 66 0f 6c c7 66 44 0f d4 f8 66 45 0f 6d c1 66 45 0f d4 f8 66 0f 70 " +
          "c8 1b 66 44 0f d4 f9 66 0f 70 53 10 e4 66 44 0f d4 fa 0f c6 d9 4e 66 44 0f d4 fb 0f c6 63 20 b1 " +
          "66 44 0f d4 fc 66 0f 73 d0 05 66 44 0f d4 f8 66 0f 73 f1 3f 66 44 0f d4 f9 66 0f 73 da 03 66 44 " +
          "0f d4 fa 66 0f 73 fb 0b 66 44 0f d4 fb 66 0f 73 d4 40 66 44 0f d4 fc 66 0f 72 e5 1f 66 44 0f d4 " +
          "fd 66 0f 72 d6 07 66 44 0f d4 fe 66 0f 72 f7 21 66 44 0f d4 ff 66 0f 73 d9 11 66 44 0f d4 f9 66 " +
          "0f 6e c0 66 44 0f d4 f8 66 48 0f 6e 4b 08 66 44 0f d4 f9 66 0f 7e d2 66 48 0f 7e 5b 18 f3 0f 7e " +
          "e3 66 44 0f d4 fc f3 0f 7e 6b 28 66 44 0f d4 fd 66 0f d6 73 30 66 0f d6 fe 66 44 0f d4 fe 66 48 " +
          "0f 7e c7 ");
  });
  test("conditions after CMP / SUB / TEST / AND of every size (SETcc of all 16 into memory)", () => {
    check("48 01 c2 48 c1 c6 0d 40 38 f2 0f 90 43 00 0f 91 43 01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 " +
          "43 05 0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d " +
          "43 0d 0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 4d 01 f4 4d 01 fd 66 39 f2 0f 90 43 00 0f 91 " +
          "43 01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 05 0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 " +
          "43 09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 0d 0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b " +
          "08 4d 01 f4 4d 01 fd 39 f2 0f 90 43 00 0f 91 43 01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 " +
          "05 0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 " +
          "0d 0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 4d 01 f4 4d 01 fd 48 39 f2 0f 90 43 00 0f 91 43 " +
          "01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 05 0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 " +
          "09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 0d 0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 " +
          "4d 01 f4 4d 01 fd 40 84 f2 0f 90 43 00 0f 91 43 01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 " +
          "05 0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 " +
          "0d 0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 4d 01 f4 4d 01 fd 66 85 f2 0f 90 43 00 0f 91 43 " +
          "01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 05 0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 " +
          "09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 0d 0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 " +
          "4d 01 f4 4d 01 fd 85 f2 0f 90 43 00 0f 91 43 01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 05 " +
          "0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 0d " +
          "0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 4d 01 f4 4d 01 fd 48 85 f2 0f 90 43 00 0f 91 43 01 " +
          "0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 05 0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 09 " +
          "0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 0d 0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 4d " +
          "01 f4 4d 01 fd 39 d2 0f 90 43 00 0f 91 43 01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 05 0f " +
          "96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 0d 0f " +
          "9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 4d 01 f4 4d 01 fd 48 29 f2 0f 90 43 00 0f 91 43 01 0f " +
          "92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 05 0f 96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 09 0f " +
          "9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 0d 0f 9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 4d 01 " +
          "f4 4d 01 fd 40 20 f2 0f 90 43 00 0f 91 43 01 0f 92 43 02 0f 93 43 03 0f 94 43 04 0f 95 43 05 0f " +
          "96 43 06 0f 97 43 07 0f 98 43 08 0f 99 43 09 0f 9a 43 0a 0f 9b 43 0b 0f 9c 43 0c 0f 9d 43 0d 0f " +
          "9e 43 0e 0f 9f 43 0f 4c 8b 33 4c 8b 7b 08 4d 01 f4 4d 01 fd ");
  });
  test("hotStep declines SSE with a misaligned aligned-form operand, or with CR0.TS = 1", () => {
    use32 = false;
    setup();
    poke(CODE, "48 8b 03");
    invalidateFetch(); S.rip = CODE;
    step();  // loads the fetch window and the TLB entry of DATA
    poke(CODE, "66 0f 6f 43 01 66 0f 6f 43 10 f3 0f 6f 43 01 66 0f ef c1");
    expect(hotStep(CODE)).toBe(NOT_HOT);        // MOVDQA from DATA + 1: #GP on the full path
    expect(hotStep(CODE + 5)).toBe(CODE + 10);  // MOVDQA from DATA + 16
    expect(hotStep(CODE + 10)).toBe(CODE + 15); // MOVDQU: no alignment rule
    expect(hotStep(CODE + 15)).toBe(CODE + 19);
    S.setCr0Raw(S.cr0 | S.CR0_TS);
    expect(hotStep(CODE + 15)).toBe(NOT_HOT);   // #NM on the full path
    S.setCr0Raw(S.cr0 & ~S.CR0_TS);
  });
  test("flat 32-bit protected mode: ALU, INC/DEC r32, stack, MOV/LEA memory, Jcc, SSE", () => {
    use32 = true;
    // 9c = PUSHFD, 58+r = POP r32: fold the flags into ebp (pushfd; pop edx; add ebp, edx).
    const F2 = " 9c 5a 01 d5 ";
    check("01 d8" + F2 + "29 f0" + F2 + "40" + F2 + "4f" + F2 + "47 4a" + F2 + "83 c0 7f" + F2 + "81 ee 00 00 00 80" + F2 +
          "50 57 5e 58 e8 00 00 00 00 5f e8 02 00 00 00 eb 01 c3 55 89 e5 83 ec 10 c9 " +
          "8b 03 89 43 08 8d 44 b3 07 8d 3c 5b 01 43 10" + F2 + "ff 43 14" + F2 + "c1 63 18 03" + F2 + "0f b6 53 01 " +
          "8d 05 00 00 00 00 a1 00 00 02 00 " +
          "39 c2 7c 02 eb 00 0f 8f 00 00 00 00 0f 44 c2 0f 92 c6 66 0f 6f 43 10 66 0f ef c8 66 0f 7e cf " +
          "98 99 b8 78 56 34 12 b4 7f");
    use32 = false;
  });
  test("hotStep declines prefixed and non-hot instructions", () => {
    use32 = false;
    setup();
    poke(CODE, "66 01 d8");
    invalidateFetch(); S.rip = CODE;
    step();  // loads the fetch window (prefixed: full decoder)
    poke(CODE, "66 01 d8 f0 01 03 41 f7 f1 0f a2 66 90 d1 e0 48 0f af c3 ff c0");
    setR(9, 0);
    expect(hotStep(CODE)).toBe(NOT_HOT);        // 66 prefix
    expect(hotStep(CODE + 3)).toBe(NOT_HOT);    // LOCK
    expect(hotStep(CODE + 6)).toBe(NOT_HOT);    // DIV by zero: the full path raises #DE
    expect(faultPending).toBe(false);
    expect(hotStep(CODE + 9)).toBe(NOT_HOT);    // CPUID
    expect(hotStep(CODE + 11)).toBe(NOT_HOT);   // 66 90 (not a 0F 1F NOP)


    expect(hotStep(CODE + 13)).toBe(CODE + 15); // shift: hot
    expect(hotStep(CODE + 15)).toBe(CODE + 19); // 0F AF: hot
    expect(hotStep(CODE + 19)).toBe(CODE + 21); // INC: hot
  });
});
