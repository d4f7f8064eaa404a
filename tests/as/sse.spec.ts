import * as S from "../../assembly/cpu/state";
import { setup32, setup64, code, run, setX, setX32, xlo, xhi, x32, NO_FAULT, DATA, CODE, rip, flags,
  mem64, setMem64, mem32, setMem32, lastError } from "./sse_harness";

describe("SSE moves", () => {
  test("MOVAPS xmm1, xmm0 and ADDPS", () => {
    setup32();
    setX32(0, 0x3f800000, 0x40000000, 0x40400000, 0x40800000); // 1 2 3 4
    setX32(1, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000);
    code([0x0f, 0x28, 0xd0, 0x0f, 0x58, 0xd1]); // movaps xmm2,xmm0 ; addps xmm2,xmm1
    expect(run(2)).toBe(NO_FAULT);
    expect(x32(2, 0)).toBe(0x40000000);
    expect(x32(2, 3)).toBe(0x40a00000);
    expect(rip()).toBe(<u64>CODE + 6);
  });
});
