// SSE4.1 (+ PCMPGTQ). Random-operand comparison against the host CPU found no differences;
// these pin down a few concrete cases.
import * as S from "../../assembly/cpu/state";
import { setup32, setup64, code, run, setX, setX32, xlo, xhi, x32, NO_FAULT, DATA, flags, setMem64, mem16 } from "./sse_harness";

function d32(a: u32): u8[] { return [<u8>a, <u8>(a >> 8), <u8>(a >> 16), <u8>(a >> 24)]; }

describe("SSE4.1", () => {
  test("PTEST sets ZF/CF and clears the rest", () => {
    setup32();
    setX(0, 0xff00, 0); setX(1, 0x00ff, 0);
    code([0x66, 0x0f, 0x38, 0x17, 0xc1]);
    expect(run(1)).toBe(NO_FAULT);
    expect(flags()).toBe(0x40);              // ZF: xmm0 & xmm1 == 0; CF=0 since xmm1 & ~xmm0 != 0
    setX(1, 0x0f00, 0);
    code([0x66, 0x0f, 0x38, 0x17, 0xc1]);
    run(1);
    expect(flags()).toBe(0x01);
  });
  test("PMOVSXBW / PMOVZXBD from a 64/32-bit memory operand", () => {
    setup32();
    setMem64(DATA, 0x80ff7f01_fe02fd03);
    const a = d32(DATA);
    code([0x66, 0x0f, 0x38, 0x20, 0x05, a[0], a[1], a[2], a[3]]);      // pmovsxbw xmm0, [DATA]
    code([0x66, 0x0f, 0x38, 0x31, 0x0d, a[0], a[1], a[2], a[3]]);      // pmovzxbd xmm1, [DATA]
    expect(run(2)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0xfffe0002fffd0003);
    expect(xhi(0)).toBe(0xff80ffff007f0001);
    expect(xlo(1)).toBe(0x000000fd00000003);
    expect(xhi(1)).toBe(0x000000fe00000002);
  });
  test("ROUNDSD: imm modes, MXCSR mode, PE suppression", () => {
    setup32();
    setX(1, 0xc004000000000000, 0);          // -2.5
    code([0x66, 0x0f, 0x3a, 0x0b, 0xc1, 0x00]); // nearest even -> -2
    code([0x66, 0x0f, 0x3a, 0x0b, 0xd1, 0x01]); // floor -> -3 (xmm2)
    code([0x66, 0x0f, 0x3a, 0x0b, 0xd9, 0x0a]); // ceil, no PE (xmm3)
    expect(run(1)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0xc000000000000000);
    expect(S.mxcsr).toBe(0x1fa0);
    S.setMxcsr(0x1f80);
    expect(run(2)).toBe(NO_FAULT);
    expect(xlo(2)).toBe(0xc008000000000000);
    expect(xlo(3)).toBe(0xc000000000000000);
    expect(S.mxcsr).toBe(0x1fa0);
  });
  test("PEXTRD / PINSRQ (64-bit) / EXTRACTPS", () => {
    setup64();
    setX32(0, 0x11111111, 0x22222222, 0x33333333, 0x44444444);
    S.setReg64(1, 0x8877665544332211);
    code([0x66, 0x0f, 0x3a, 0x16, 0xc0, 0x02]);       // pextrd eax, xmm0, 2
    code([0x66, 0x48, 0x0f, 0x3a, 0x22, 0xd1, 0x01]); // pinsrq xmm2, rcx, 1
    code([0x66, 0x0f, 0x3a, 0x17, 0xc3, 0x03]);       // extractps ebx, xmm0, 3
    expect(run(3)).toBe(NO_FAULT);
    expect(S.getReg64(0)).toBe(0x33333333);
    expect(xhi(2)).toBe(0x8877665544332211);
    expect(S.getReg64(3)).toBe(0x44444444);
  });
  test("DPPS: (1*5 + 2*6) + (3*7 + 4*8) broadcast to the lanes of imm[3:0]", () => {
    setup32();
    setX32(0, 0x3f800000, 0x40000000, 0x40400000, 0x40800000);
    setX32(1, 0x40a00000, 0x40c00000, 0x40e00000, 0x41000000);
    code([0x66, 0x0f, 0x3a, 0x40, 0xc1, 0xf5]);
    expect(run(1)).toBe(NO_FAULT);
    expect(x32(0, 0)).toBe(0x428c0000);      // 70.0
    expect(x32(0, 1)).toBe(0);
    expect(x32(0, 2)).toBe(0x428c0000);
  });
  test("SSE4.1 needs the 66 prefix: without it 0F 38 17 is #UD", () => {
    setup32();
    code([0x0f, 0x38, 0x17, 0xc1]);
    expect(run(1)).toBe(6);
  });
});

function str16(s: string): u64[] {
  const r: u64[] = [0, 0];
  for (let i = 0; i < s.length && i < 16; i++) r[i >> 3] |= (<u64>s.charCodeAt(i)) << (<u64>(i & 7) * 8);
  return r;
}

describe("SSE4.2", () => {
  test("CRC32 r32, r/m8 and r/m32 (CRC-32C)", () => {
    setup32();
    S.setReg64(0, 0xffffffff); S.setReg64(1, 0x31);   // '1'
    code([0xf2, 0x0f, 0x38, 0xf0, 0xc1]);             // crc32 eax, cl
    expect(run(1)).toBe(NO_FAULT);
    expect(S.getReg64(0)).toBe(0x6f0a661c);          // host CPU: crc32b(0xffffffff, "1")
    S.setReg64(2, 0); S.setReg64(3, 0x12345678);
    code([0xf2, 0x0f, 0x38, 0xf1, 0xd3]);             // crc32 edx, ebx
    run(1);
    expect(S.getReg64(2)).toBe(0xfa745634);
  });
  test("PCMPISTRI equal-ordered finds a substring; PCMPISTRM equal-any mask", () => {
    setup32();
    const hay = str16("hello world"), needle = str16("wor");
    setX(0, needle[0], needle[1]); setX(1, hay[0], hay[1]);
    code([0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x0c]);       // pcmpistri xmm0, xmm1, equal ordered
    expect(run(1)).toBe(NO_FAULT);
    expect(S.getReg64(1)).toBe(6);
    expect(flags()).toBe(0xc1);                       // CF, ZF (hay < 16), SF (needle < 16)
    const set = str16("lo");
    setX(2, set[0], set[1]);
    code([0x66, 0x0f, 0x3a, 0x62, 0xd1, 0x00]);       // pcmpistrm xmm2, xmm1, equal any -> xmm0
    run(1);
    expect(xlo(0)).toBe(0x29c);                       // l l o . o . l at 2,3,4,7,9
  });
});

describe("MOVBE", () => {
  test("load/store byte-swapped; register form is #UD", () => {
    setup32();
    setMem64(DATA, 0x0000000011223344);
    const a = d32(DATA), b = d32(DATA + 8);
    code([0x0f, 0x38, 0xf0, 0x05, a[0], a[1], a[2], a[3]]);        // movbe eax, [DATA]
    code([0x66, 0x0f, 0x38, 0xf1, 0x05, b[0], b[1], b[2], b[3]]);  // movbe [DATA+8], ax
    expect(run(2)).toBe(NO_FAULT);
    expect(S.getReg64(0)).toBe(0x44332211);
    expect(mem16(DATA + 8)).toBe(0x1122);
    code([0x0f, 0x38, 0xf0, 0xc0]);
    expect(run(1)).toBe(6);
  });
});
