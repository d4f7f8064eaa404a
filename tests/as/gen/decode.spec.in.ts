// Decoder specs: prefixes, REX, operand/address size, ModRM/SIB/displacement forms.
import { mode16, mode32, mode64, poke, setR, CODE, RAX, RBX, RCX, RBP, RSP, RSI, RDI, R8, R12, R13 } from "./harness";
import * as D from "../../assembly/cpu/decode";
import * as S from "../../assembly/cpu/state";
import { faultPending, faultVector, clearFault } from "../../assembly/cpu/fault";

// Decode prefixes + opcode (+ ModRM when asked) of the bytes at CODE.
function dec(hex: string, modrm: bool): void {
  poke(CODE, hex);
  D.invalidateFetch();
  const ip = CODE - S.segBase(S.CS);
  D.instrStart = ip;
  D.nextRip = ip;
  D.decodePrefixes();
  if (modrm) D.decodeModrm();
}
function len(): u64 { return D.nextRip - D.instrStart; }

describe("prefixes", () => {
  test("64-bit defaults and 66/67/REX.W", () => {
    mode64();
    dec(A64`add eax, ebx`, true);
    expect(D.opSize).toBe(4); expect(D.adSize).toBe(8); expect(D.opcode).toBe(0x01);
    dec(A64`add ax, bx`, true);
    expect(D.opSize).toBe(2);
    dec(A64`add rax, rbx`, true);
    expect(D.opSize).toBe(8); expect(D.rexW).toBe(true);
    dec(A64`.byte 0x66, 0x48, 0x01, 0xd8`, true);   // REX.W wins over 66h
    expect(D.opSize).toBe(8);
    dec(A64`mov eax, [ebx]`, true);
    expect(D.adSize).toBe(4);
    expect(D.opSizeDefault64()).toBe(8);
  });
  test("REX must be last: a REX before a legacy prefix is ignored", () => {
    mode64();
    dec(A64`.byte 0x48, 0x66, 0x01, 0xd8`, true);
    expect(D.rexPresent).toBe(false);
    expect(D.opSize).toBe(2);
  });
  test("REX.R/X/B extend ModRM and SIB fields", () => {
    mode64();
    dec(A64`mov r9, [r12+r13*4+8]`, true);
    expect(D.modReg).toBe(9);
    expect(D.eaBase).toBe(R12);
    setR(R12, 0x1000); setR(R13, 0x10);
    dec(A64`mov r9, [r12+r13*4+8]`, true);
    expect(D.eaOff).toBe(0x1000 + 0x40 + 8);
    dec(A64`add r8d, r15d`, true);
    expect(D.modMod).toBe(3); expect(D.modReg).toBe(15); expect(D.modRm).toBe(8);
  });
  test("segment overrides, LOCK, REP", () => {
    mode64();
    dec(A64`.byte 0xf3, 0x64, 0xf0, 0x01, 0x03`, true);
    expect(D.repPrefix).toBe(0xf3); expect(D.lockPrefix).toBe(true); expect(D.segOvr).toBe(<i32>S.FS);
    expect(D.eaSeg).toBe(S.FS);
  });
  test("0F map opcodes", () => {
    mode64();
    dec(A64`bsf eax, ebx`, true);
    expect(D.opcode).toBe(0x1bc);
  });
  test("32-bit and 16-bit code defaults", () => {
    mode32();
    dec(A32`add eax, ebx`, true);
    expect(D.opSize).toBe(4); expect(D.adSize).toBe(4);
    dec(A32`add ax, bx`, true);
    expect(D.opSize).toBe(2);
    dec(A32`.byte 0x48`, false);           // DEC EAX, not REX, outside 64-bit mode
    expect(D.opcode).toBe(0x48);
    mode16();
    dec(A16`add eax, ebx`, true);
    expect(D.opSize).toBe(4); expect(D.adSize).toBe(2);
  });
});

describe("ModRM / SIB", () => {
  test("RIP-relative: disp32 added to the end of the instruction", () => {
    mode64();
    dec(A64`mov eax, [rip+0x100]`, true);
    expect(D.eaRipRel).toBe(true);
    expect(D.eaAddr()).toBe(CODE + 6 + 0x100);
  });
  test("SIB with no base (mod 0, base 5) takes a disp32; index 4 means none", () => {
    mode64();
    setR(RCX, 3);
    dec(A64`mov eax, [rcx*8+0x1000]`, true);
    expect(D.eaRipRel).toBe(false);
    expect(D.eaOff).toBe(0x1018);
    expect(D.eaBase).toBe(-1);
    setR(RSP, 0x5000);
    dec(A64`mov eax, [rsp+4]`, true);
    expect(D.eaOff).toBe(0x5004);
    expect(D.eaSeg).toBe(S.SS);
    expect(D.eaBase).toBe(<i32>RSP);
  });
  test("r13 / rbp base with mod 0 needs a displacement; default segment SS", () => {
    mode64();
    setR(R13, 0x2000); setR(RBP, 0x3000);
    dec(A64`mov eax, [r13]`, true);
    expect(D.modMod).toBe(1);
    expect(D.eaOff).toBe(0x2000);
    dec(A64`mov eax, [rbp-8]`, true);
    expect(D.eaOff).toBe(0x2ff8);
    expect(D.eaSeg).toBe(S.SS);
    expect(len()).toBe(3);
  });
  test("32-bit address wrap", () => {
    mode32();
    setR(RBX, 0xfffffff0);
    dec(A32`mov eax, [ebx+0x20]`, true);
    expect(D.eaOff).toBe(0x10);
  });
  test("16-bit addressing table and BP => SS", () => {
    mode16();
    setR(RBX, 0x10); setR(RSI, 0x20); setR(RDI, 0x40); setR(RBP, 0xfff0);
    dec(A16`mov ax, [bx+si+4]`, true);
    expect(D.eaOff).toBe(0x34); expect(D.eaSeg).toBe(S.DS);
    dec(A16`mov ax, [bp+di+0x20]`, true);
    expect(D.eaOff).toBe(0x50); expect(D.eaSeg).toBe(S.SS);   // wraps at 16 bits
    dec(A16`mov cx, [0x1234]`, true);
    expect(D.eaOff).toBe(0x1234);
    dec(A16`mov ax, [bp]`, true);
    expect(D.modMod).toBe(1); expect(D.eaSeg).toBe(S.SS);
  });
  test("instruction fetch past 15 bytes faults", () => {
    mode64();
    dec(A64`.byte 0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66; nop`, false);
    expect(faultPending).toBe(true);
    expect(faultVector).toBe(13);
    clearFault();
  });
});
