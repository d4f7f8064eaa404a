import { mode32, mode64, run, R, setR, flags, RAX, RBX, CF, ZF, SF, OF, PF, AF } from "./harness";

describe("ALU", () => {
  test("add rax, rbx (64-bit)", () => {
    mode64();
    setR(RAX, 1); setR(RBX, 2);
    expect(run("48 01 d8")).toBe(-1);
    expect(R(RAX)).toBe(3);
    expect(flags()).toBe(PF);
  });
});
