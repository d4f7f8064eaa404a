// GENERATED from tests/as/gen/integer.spec.in.ts by tests/as/gen/asm_template.py; edit the template.
// Hand-written integer instruction specs: memory forms, prefixes, stack, branches, strings,
// faults, and the 32-bit / real-mode only instructions. Expected values are worked out from
// the SDM (and checked natively where the instruction runs in user mode).
import {
  mode16, mode32, mode64, run, R, setR, flags, setFlags, m64, m32, m16, m8, setM64, setM32, setM8, lastError,
  CODE, DATA, STACK_TOP, CF, PF, AF, ZF, SF, OF, DF,
  RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R12,
} from "./harness";
import * as S from "../../assembly/cpu/state";
import { getRflags } from "../../assembly/cpu/flags";
import { step } from "../../assembly/cpu/exec";
import { faultPending, faultVector, clearFault } from "../../assembly/cpu/fault";

const DE: i32 = 0, BR: i32 = 5, UD: i32 = 6, NM: i32 = 7, SSF: i32 = 12, GP: i32 = 13;

describe("memory operands and addressing (64-bit)", () => {
  test("RMW add with SIB + disp8", () => {
    mode64();
    setM64(DATA + 24, 40); setR(RBX, DATA); setR(RCX, 2); setR(RAX, 2);
    expect(run("48 01 44 cb 08" /* add qword ptr [rbx+rcx*8+8], rax */)).toBe(-1);
    expect(m64(DATA + 24)).toBe(42);
  });
  test("RIP-relative load is relative to the instruction end", () => {
    mode64();
    // 7-byte instruction at CODE: target = CODE + 7 + 0x100
    setM64(CODE + 7 + 0x100, 0x1122334455667788);
    expect(run("48 8b 05 00 01 00 00" /* mov rax, [rip+0x100] */)).toBe(-1);
    expect(R(RAX)).toBe(0x1122334455667788);
  });
  test("RIP-relative with an immediate after the displacement", () => {
    mode64();
    // cmp byte ptr [rip+0x20], 5 is 7 bytes; imul eax, [rip+0x20], imm32 is 10 bytes
    setM8(CODE + 7 + 0x20, 5);
    expect(run("80 3d 20 00 00 00 05" /* cmp byte ptr [rip+0x20], 5 */)).toBe(-1);
    expect(flags() & ZF).toBe(ZF);
    mode64();
    setM32(CODE + 10 + 0x20, 3);
    expect(run("69 05 20 00 00 00 00 10 00 00" /* imul eax, dword ptr [rip+0x20], 0x1000 */)).toBe(-1);
    expect(R(RAX)).toBe(0x3000);
  });
  test("lea rip-relative and 32-bit address size", () => {
    mode64();
    expect(run("48 8d 05 10 00 00 00" /* lea rax, [rip+0x10] */)).toBe(-1);
    expect(R(RAX)).toBe(CODE + 7 + 0x10);
    mode64();
    setR(RBX, 0xffffffff00000010); setR(RCX, 0xfffffff8);
    expect(run("67 48 8d 04 0b" /* lea rax, [ebx+ecx] */)).toBe(-1);
    expect(R(RAX)).toBe(8);  // wraps at 32 bits
  });
  test("67h address size: [ebx] ignores the upper half", () => {
    mode64();
    setM32(DATA, 0xcafebabe); setR(RBX, 0x1234567800000000 | DATA);
    expect(run("67 8b 03" /* mov eax, [ebx] */)).toBe(-1);
    expect(R(RAX)).toBe(0xcafebabe);
  });
  test("FS/GS segment override adds the base in 64-bit mode", () => {
    mode64();
    S.setSegBase(S.FS, DATA); S.setSegBase(S.GS, DATA + 0x100);
    setM64(DATA + 8, 0x55); setM32(DATA + 0x110, 0x66);
    setR(RBX, 8);
    expect(run("64 48 8b 03 65 8b 0c 25 10 00 00 00" /* mov rax, fs:[rbx]; mov ecx, gs:[0x10] */)).toBe(-1);
    expect(R(RAX)).toBe(0x55);
    expect(R(RCX)).toBe(0x66);
  });
  test("DS/ES override ignores the base in 64-bit mode", () => {
    mode64();
    S.setSegBase(S.ES, 0x1000);
    setM64(DATA, 0x77); setR(RBX, DATA);
    expect(run("26 48 8b 03" /* mov rax, es:[rbx] */)).toBe(-1);
    expect(R(RAX)).toBe(0x77);
  });
  test("moffs forms use a 64-bit offset", () => {
    mode64();
    setM8(DATA, 0x5a);
    setR(RAX, 0x1122334455667788);
    expect(run("a0 00 00 02 00 00 00 00 00 48 a3 10 00 02 00 00 00 00 00" /* movabs al, [0x20000]; movabs [0x20010], rax */)).toBe(-1);
    expect(R(RAX) & 0xff).toBe(0x5a);
    expect(m64(DATA + 0x10)).toBe(0x112233445566775a);
  });
  test("mov r/m, imm32 sign-extends to 64 bits", () => {
    mode64();
    setR(RBX, DATA);
    expect(run("48 c7 03 fe ff ff ff c6 43 08 7f 66 c7 43 0a 34 12" /* mov qword ptr [rbx], -2; mov byte ptr [rbx+8], 0x7f; mov word ptr [rbx+10], 0x1234 */)).toBe(-1);
    expect(m64(DATA)).toBe(0xfffffffffffffffe);
    expect(m8(DATA + 8)).toBe(0x7f);
    expect(m16(DATA + 10)).toBe(0x1234);
  });
  test("RMW memory: inc/dec/neg/not/shl/xchg/setcc/cmov", () => {
    mode64();
    setR(RBX, DATA); setM32(DATA, 0xff); setM32(DATA + 4, 1); setM32(DATA + 8, 5); setM32(DATA + 12, 0x0f);
    setM32(DATA + 16, 3); setR(RAX, 9); setM32(DATA + 24, 0x99);
    expect(run("ff 03 ff 4b 04 f7 5b 08 f7 53 0c c1 63 10 04 87 43 14 39 c0 0f 94 43 1c 0f 44 4b 18" /* inc dword ptr [rbx]; dec dword ptr [rbx+4]; neg dword ptr [rbx+8]; not dword ptr [rbx+12]; shl dword ptr [rbx+16], 4; xchg [rbx+20], eax; cmp eax, eax; sete byte ptr [rbx+28]; cmove ecx, [rbx+24] */)).toBe(-1);
    expect(m32(DATA)).toBe(0x100);
    expect(m32(DATA + 4)).toBe(0);
    expect(m32(DATA + 8)).toBe(0xfffffffb);
    expect(m32(DATA + 12)).toBe(0xfffffff0);
    expect(m32(DATA + 16)).toBe(0x30);
    expect(m32(DATA + 20)).toBe(9);
    expect(R(RAX)).toBe(0);
    expect(m8(DATA + 28)).toBe(1);
    expect(R(RCX)).toBe(0x99);
  });
  test("LOCK on lockable memory forms", () => {
    mode64();
    setR(RBX, DATA); setM32(DATA, 10); setR(RAX, 5);
    expect(run("f0 83 03 01 f0 0f c1 03" /* lock add dword ptr [rbx], 1; lock xadd [rbx], eax */)).toBe(-1);
    expect(m32(DATA)).toBe(16);
    expect(R(RAX)).toBe(11);
    mode64();
    setR(RBX, DATA); setM32(DATA, 7); setR(RAX, 7); setR(RCX, 99);
    expect(run("f0 0f b1 0b" /* lock cmpxchg [rbx], ecx */)).toBe(-1);
    expect(m32(DATA)).toBe(99);
    expect(flags() & ZF).toBe(ZF);
    mode64();
    setR(RBX, DATA); setM32(DATA, 1);
    expect(run("f0 0f ba 2b 03 f0 0f ba 33 00" /* lock bts dword ptr [rbx], 3; lock btr dword ptr [rbx], 0 */)).toBe(-1);
    expect(m32(DATA)).toBe(8);
  });
  test("BT with a register offset addresses outside the operand", () => {
    mode64();
    setR(RBX, DATA + 16); setR(RAX, 100); setR(RCX, <u64>-1);
    setM8(DATA + 16 + 12, 0x10);
    expect(run("0f a3 03" /* bt dword ptr [rbx], eax */)).toBe(-1);
    expect(flags() & CF).toBe(CF);    // bit 100 = byte 12 bit 4
    expect(run("48 0f ab 0b" /* bts qword ptr [rbx], rcx */)).toBe(-1);
    expect(m8(DATA + 15)).toBe(0x80); // bit -1 = bit 63 of the qword at rbx-8
    expect(flags() & CF).toBe(0);
    mode64();
    setR(RBX, DATA); setM32(DATA, 0);
    expect(run("0f ba 2b 23" /* bts dword ptr [rbx], 35 */)).toBe(-1);  // immediate: offset mod 32
    expect(m32(DATA)).toBe(8);
  });
  test("MOVSXD, MOVZX, MOVSX from memory", () => {
    mode64();
    setR(RBX, DATA); setM32(DATA, 0x80000000); setM8(DATA + 4, 0xfe);
    expect(run("48 63 03 0f b6 4b 04 48 0f be 53 04" /* movsxd rax, dword ptr [rbx]; movzx ecx, byte ptr [rbx+4]; movsx rdx, byte ptr [rbx+4] */)).toBe(-1);
    expect(R(RAX)).toBe(0xffffffff80000000);
    expect(R(RCX)).toBe(0xfe);
    expect(R(RDX)).toBe(0xfffffffffffffffe);
  });
  test("CMPXCHG8B and CMPXCHG16B", () => {
    mode64();
    setR(RBX, 0x11111111); setR(RCX, 0x22222222); setR(RAX, 0x33333333); setR(RDX, 0x44444444);
    setR(RDI, DATA); setM64(DATA, 0x4444444433333333);
    expect(run("0f c7 0f" /* cmpxchg8b [rdi] */)).toBe(-1);
    expect(m64(DATA)).toBe(0x2222222211111111);
    expect(flags() & ZF).toBe(ZF);
    expect(run("0f c7 0f" /* cmpxchg8b [rdi] */)).toBe(-1);  // now unequal: EDX:EAX <- memory
    expect(R(RAX)).toBe(0x11111111);
    expect(R(RDX)).toBe(0x22222222);
    expect(flags() & ZF).toBe(0);
    mode64();
    setR(RDI, DATA + 0x40); setM64(DATA + 0x40, 1); setM64(DATA + 0x48, 2);
    setR(RAX, 1); setR(RDX, 2); setR(RBX, 3); setR(RCX, 4);
    expect(run("48 0f c7 0f" /* cmpxchg16b [rdi] */)).toBe(-1);
    expect(m64(DATA + 0x40)).toBe(3);
    expect(m64(DATA + 0x48)).toBe(4);
    setR(RDI, DATA + 0x48);
    expect(run("48 0f c7 0f" /* cmpxchg16b [rdi] */)).toBe(GP);  // misaligned
  });
  test("RDRAND / RDSEED set CF and write the register", () => {
    mode64();
    setR(RAX, 0); setFlags(ZF | OF);
    expect(run("48 0f c7 f0 0f c7 f9" /* rdrand rax; rdseed ecx */)).toBe(-1);
    expect(R(RAX)).not.toBe(0);
    expect(R(RCX) >> 32).toBe(0);
    expect(flags()).toBe(CF);
  });
  test("hint NOPs and ENDBR64 do nothing", () => {
    mode64();
    setR(RAX, 0x0000800000000000);  // a non-canonical address is never accessed by a NOP
    expect(run("0f 1f 04 00 f3 0f 1e fa 0f 18 08 f3 90 66 90" /* nop dword ptr [rax+rax*1+0]; endbr64; prefetcht0 [rax]; pause; xchg ax, ax */)).toBe(-1);
    expect(R(RAX)).toBe(0x0000800000000000);
  });
});

describe("stack and branches (64-bit)", () => {
  test("push/pop sizes", () => {
    mode64();
    setR(RAX, 0x1122334455667788);
    expect(run("50 5b 68 78 56 34 12 6a ff 59 5a 66 50 66 5e" /* push rax; pop rbx; push 0x12345678; push -1; pop rcx; pop rdx; push ax; pop si */)).toBe(-1);
    expect(R(RBX)).toBe(0x1122334455667788);
    expect(R(RCX)).toBe(0xffffffffffffffff);
    expect(R(RDX)).toBe(0x12345678);
    expect(R(RSI) & 0xffff).toBe(0x7788);
    expect(R(RSP)).toBe(STACK_TOP);
  });
  test("push rsp pushes the old value; pop [rsp] uses the incremented rsp", () => {
    mode64();
    expect(run("54 58" /* push rsp; pop rax */)).toBe(-1);
    expect(R(RAX)).toBe(STACK_TOP);
    mode64();
    setR(RAX, 0xabc);
    expect(run("50 50 8f 04 24" /* push rax; push rax; pop qword ptr [rsp] */)).toBe(-1);
    expect(R(RSP)).toBe(STACK_TOP - 8);
    expect(m64(STACK_TOP - 8)).toBe(0xabc);
  });
  test("call/ret, ret imm16, indirect call and jmp", () => {
    mode64();
    expect(run("e8 02 00 00 00 eb 06 b8 07 00 00 00 c3 90" /* call 1f; jmp 2f; 1: mov eax, 7; ret; 2: nop */)).toBe(-1);
    expect(R(RAX)).toBe(7);
    expect(R(RSP)).toBe(STACK_TOP);
    mode64();
    expect(run("6a 01 e8 02 00 00 00 eb 03 c2 08 00 90" /* push 1; call 1f; jmp 2f; 1: ret 8; 2: nop */)).toBe(-1);
    expect(R(RSP)).toBe(STACK_TOP);
    mode64();
    setR(RBX, DATA); setM64(DATA, CODE + 0x20);
    // call [rbx] to CODE+0x20 which holds mov ecx, 5; ret
    expect(run("ff 13 eb 22 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 b9 05 00 00 00 c3 90" /* call qword ptr [rbx]; jmp 1f; .fill 0x20-4, 1, 0x90; mov ecx, 5; ret; 1: nop */)).toBe(-1);
    expect(R(RCX)).toBe(5);
  });
  test("Jcc loop, LOOP, JRCXZ", () => {
    mode64();
    expect(run("b9 0a 00 00 00 31 c0 01 c8 ff c9 75 fa" /* mov ecx, 10; xor eax, eax; 1: add eax, ecx; dec ecx; jnz 1b */)).toBe(-1);
    expect(R(RAX)).toBe(55);
    mode64();
    expect(run("b9 05 00 00 00 31 c0 ff c0 e2 fc e3 05 b8 63 00 00 00 90" /* mov ecx, 5; xor eax, eax; 1: inc eax; loop 1b; jrcxz 2f; mov eax, 99; 2: nop */)).toBe(-1);
    expect(R(RAX)).toBe(5);
    expect(R(RCX)).toBe(0);
    mode64();
    expect(run("b9 05 00 00 00 31 c0 ff c0 83 f8 03 e0 f9" /* mov ecx, 5; xor eax, eax; 1: inc eax; cmp eax, 3; loopne 1b */)).toBe(-1);
    expect(R(RAX)).toBe(3);
    expect(R(RCX)).toBe(2);
  });
  test("Jcc rel32 both ways", () => {
    mode64();
    expect(run("31 c0 0f 84 c8 00 00 00 cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc b8 01 00 00 00" /* xor eax, eax; jz 1f; .fill 200, 1, 0xcc; 1: mov eax, 1 */)).toBe(-1);
    expect(R(RAX)).toBe(1);
  });
  test("ENTER/LEAVE", () => {
    mode64();
    setR(RBP, 0x1234);
    expect(run("c8 20 00 00 48 89 e1 48 89 ea c9" /* enter 0x20, 0; mov rcx, rsp; mov rdx, rbp; leave */)).toBe(-1);
    expect(R(RDX)).toBe(STACK_TOP - 8);
    expect(R(RCX)).toBe(STACK_TOP - 8 - 0x20);
    expect(R(RSP)).toBe(STACK_TOP);
    expect(R(RBP)).toBe(0x1234);
    mode64();
    setR(RBP, STACK_TOP - 0x100);
    setM64(STACK_TOP - 0x108, 0xaaaa);
    expect(run("c8 10 00 02" /* enter 0x10, 2 */)).toBe(-1);
    // pushes: old rbp, [rbp-8], frame pointer
    expect(m64(STACK_TOP - 8)).toBe(STACK_TOP - 0x100);
    expect(m64(STACK_TOP - 16)).toBe(0xaaaa);
    expect(m64(STACK_TOP - 24)).toBe(STACK_TOP - 8);
    expect(R(RBP)).toBe(STACK_TOP - 8);
    expect(R(RSP)).toBe(STACK_TOP - 24 - 0x10);
  });
  test("XLAT", () => {
    mode64();
    setR(RBX, DATA); setR(RAX, 5); setM8(DATA + 5, 0x42);
    expect(run("d7" /* xlatb */)).toBe(-1);
    expect(R(RAX)).toBe(0x42);
  });
  test("CLD/STD/CMC/CLC/STC", () => {
    mode64();
    expect(run("fd f9 f5" /* std; stc; cmc */)).toBe(-1);
    expect(getRflags() & DF).toBe(DF);
    expect(flags() & CF).toBe(0);
    expect(run("fc f9" /* cld; stc */)).toBe(-1);
    expect(getRflags() & DF).toBe(0);
    expect(flags() & CF).toBe(CF);
  });
});

describe("string instructions", () => {
  test("rep movsb forward, rep stosq, lodsb", () => {
    mode64();
    for (let i: u32 = 0; i < 16; i++) setM8(DATA + i, i + 1);
    setR(RSI, DATA); setR(RDI, DATA + 0x100); setR(RCX, 16);
    expect(run("f3 a4" /* rep movsb */)).toBe(-1);
    expect(m64(DATA + 0x100)).toBe(0x0807060504030201);
    expect(m64(DATA + 0x108)).toBe(0x100f0e0d0c0b0a09);
    expect(R(RCX)).toBe(0);
    expect(R(RSI)).toBe(DATA + 16);
    expect(R(RDI)).toBe(DATA + 0x110);
    setR(RDI, DATA + 0x200); setR(RCX, 3); setR(RAX, 0x1111222233334444);
    expect(run("f3 48 ab" /* rep stosq */)).toBe(-1);
    expect(m64(DATA + 0x210)).toBe(0x1111222233334444);
    expect(R(RDI)).toBe(DATA + 0x218);
    setR(RSI, DATA + 2);
    expect(run("ac" /* lodsb */)).toBe(-1);
    expect(R(RAX)).toBe(0x1111222233334403);
  });
  test("backwards movsd with DF=1", () => {
    mode64();
    setM32(DATA, 0xaaaa); setM32(DATA + 4, 0xbbbb);
    setR(RSI, DATA + 4); setR(RDI, DATA + 0x104); setR(RCX, 2);
    setFlags(DF);
    expect(run("f3 a5" /* rep movsd */)).toBe(-1);
    expect(m32(DATA + 0x100)).toBe(0xaaaa);
    expect(m32(DATA + 0x104)).toBe(0xbbbb);
    expect(R(RSI)).toBe(DATA - 4);
  });
  test("repne scasb finds a byte; repe cmpsb stops at the first difference", () => {
    mode64();
    for (let i: u32 = 0; i < 32; i++) setM8(DATA + i, 0x41 + i);
    setR(RDI, DATA); setR(RCX, 100); setR(RAX, 0x45);
    expect(run("f2 ae" /* repne scasb */)).toBe(-1);
    expect(R(RDI)).toBe(DATA + 5);
    expect(R(RCX)).toBe(95);
    expect(flags() & ZF).toBe(ZF);
    for (let i: u32 = 0; i < 8; i++) { setM8(DATA + 0x100 + i, i); setM8(DATA + 0x200 + i, i); }
    setM8(DATA + 0x206, 0x77);
    setR(RSI, DATA + 0x100); setR(RDI, DATA + 0x200); setR(RCX, 8);
    expect(run("f3 a6" /* repe cmpsb */)).toBe(-1);
    expect(R(RCX)).toBe(1);
    expect(R(RSI)).toBe(DATA + 0x107);
    expect(flags() & (ZF | CF)).toBe(CF);  // 6 - 0x77 borrows
  });
  test("long rep stosb resumes across chunks", () => {
    mode64();
    setR(RDI, DATA); setR(RCX, 10000); setR(RAX, 0xee);
    expect(run("f3 aa" /* rep stosb */)).toBe(-1);
    expect(R(RCX)).toBe(0);
    expect(m8(DATA + 9999)).toBe(0xee);
    expect(m8(DATA + 10000)).toBe(0);
  });
  test("32-bit address size string op uses ECX/ESI/EDI", () => {
    mode64();
    setM8(DATA, 0x99);
    setR(RSI, 0xffff000000000000 | DATA); setR(RDI, DATA + 1); setR(RCX, 0xffffffff00000001);
    expect(run("67 f3 a4" /* rep movsb [edi], [esi] */)).toBe(-1);
    expect(m8(DATA + 1)).toBe(0x99);
    expect(R(RCX)).toBe(0);
    expect(R(RSI)).toBe(DATA + 1);
  });
  test("a fault inside rep leaves the registers at the faulting iteration", () => {
    mode64();
    // The page tables map the first 4 MiB: the third byte read (0x400000) takes a #PF.
    setR(RSI, 0x3ffffe); setR(RDI, DATA); setR(RCX, 4);
    expect(run("f3 a4" /* rep movsb */)).toBe(14);
    expect(R(RCX)).toBe(2);
    expect(R(RSI)).toBe(0x400000);
    expect(R(RDI)).toBe(DATA + 2);
    mode64();
    setR(RSI, 0x0000800000000000); setR(RDI, DATA); setR(RCX, 4);
    expect(run("f3 a4" /* rep movsb */)).toBe(GP);  // non-canonical source
    expect(R(RCX)).toBe(4);
  });
});

describe("string block fast path (forward REP MOVS/STOS on host memory)", () => {
  test("overlapping rep movsb with destination one ahead replicates the first byte", () => {
    mode64();
    setM8(DATA, 0x5a);
    for (let i: u32 = 1; i < 64; i++) setM8(DATA + i, i);
    setR(RSI, DATA); setR(RDI, DATA + 1); setR(RCX, 40);
    expect(run("f3 a4" /* rep movsb */)).toBe(-1);
    for (let i: u32 = 0; i <= 40; i++) expect(m8(DATA + i)).toBe(0x5a);
    expect(m8(DATA + 41)).toBe(41);
  });
  test("overlapping rep movsd by two bytes follows element order", () => {
    mode64();
    for (let i: u32 = 0; i < 16; i++) setM8(DATA + i, i + 1);
    setR(RSI, DATA); setR(RDI, DATA + 2); setR(RCX, 3);
    expect(run("f3 a5" /* rep movsd */)).toBe(-1);
    expect(m64(DATA)).toBe(0x0403040302010201);       // 01 02 01 02 03 04 03 04
    expect(m64(DATA + 8)).toBe(0x100f0c0b08070807);   // 07 08 07 08 0b 0c 0f 10
  });
  test("rep stosd stops at the ES limit with #GP and registers at the faulting element", () => {
    mode32();
    S.setSeg(S.ES, 0x10, 0, <u32>DATA + 0x1003, 0x4093);   // byte-granular limit
    setR(RDI, DATA + 0xff0); setR(RCX, 0x500); setR(RAX, 0xcafef00d);
    expect(run("f3 ab" /* rep stosd */)).toBe(GP);
    expect(R(RCX)).toBe(0x500 - 5);
    expect(R(RDI)).toBe(DATA + 0xff0 + 20);
    expect(m32(DATA + 0x1000)).toBe(0xcafef00d);
    expect(m32(DATA + 0x1004)).toBe(0);
  });
  test("16-bit address size wraps DI inside a block", () => {
    mode32();
    setR(RDI, 0xfffe); setR(RCX, 4); setR(RAX, 0x77);
    expect(run("67 f3 aa" /* rep stosb [di] */)).toBe(-1);
    expect(m8(0xfffe)).toBe(0x77); expect(m8(0xffff)).toBe(0x77);
    expect(m8(0)).toBe(0x77); expect(m8(1)).toBe(0x77); expect(m8(2)).toBe(0);
    expect(R(RDI)).toBe(2);
    expect(R(RCX)).toBe(0);
  });
  test("rep movsq across pages copies everything", () => {
    mode64();
    for (let i: u32 = 0; i < 1024; i++) setM64(DATA + 0xf00 + <u64>i * 8, 0x0101010101010101 * <u64>(i & 0xff));
    setR(RSI, DATA + 0xf00); setR(RDI, DATA + 0x10f08); setR(RCX, 1024);
    expect(run("f3 48 a5" /* rep movsq */)).toBe(-1);
    for (let i: u32 = 0; i < 1024; i++) expect(m64(DATA + 0x10f08 + <u64>i * 8)).toBe(0x0101010101010101 * <u64>(i & 0xff));
    expect(R(RSI)).toBe(DATA + 0xf00 + 8192);
  });
});

describe("faults", () => {
  test("#DE on divide by zero and quotient overflow", () => {
    mode64();
    setR(RAX, 1); setR(RDX, 0); setR(RBX, 0);
    expect(run("48 f7 f3" /* div rbx */)).toBe(DE);
    expect(S.rip).toBe(CODE);
    expect(R(RAX)).toBe(1);
    mode64();
    setR(RAX, 0); setR(RDX, 5); setR(RBX, 5);
    expect(run("48 f7 f3" /* div rbx */)).toBe(DE);
    mode64();
    setR(RAX, 0x8000000000000000); setR(RDX, 0xffffffffffffffff); setR(RBX, <u64>-1);
    expect(run("48 f7 fb" /* idiv rbx */)).toBe(DE);
    mode64();
    setR(RAX, 0x8000); setR(RBX, 0xff);
    expect(run("f6 fb" /* idiv bl */)).toBe(DE);
    mode64();
    setR(RAX, 0); setR(RDX, 0x80000000); setR(RBX, 0xffffffff);  // INT64_MIN / -1: #DE, not a wasm trap
    expect(run("f7 fb" /* idiv ebx */)).toBe(DE);
    mode64();
    setR(RAX, 0xffffff80); setR(RDX, 0xffffffff); setR(RBX, <u64>-1);  // -128 / -1 = 128 fits in 32 bits
    expect(run("f7 fb" /* idiv ebx */)).toBe(-1);
    expect(R(RAX)).toBe(128);
  });
  test("#UD: UD2, UD0/UD1, invalid opcodes in 64-bit mode, LEA reg, bad LOCK", () => {
    mode64();
    expect(run("0f 0b" /* ud2 */)).toBe(UD);
    expect(run("0f b9 c1" /* ud1 eax, ecx */)).toBe(UD);
    expect(run("27" /* .byte 0x27 */)).toBe(UD);
    expect(run("37" /* .byte 0x37 */)).toBe(UD);
    expect(run("60" /* .byte 0x60 */)).toBe(UD);
    expect(run("d4 0a" /* .byte 0xd4, 0x0a */)).toBe(UD);
    expect(run("82 c0 01" /* .byte 0x82, 0xc0, 0x01 */)).toBe(UD);
    expect(run("48 8d c3" /* .byte 0x48, 0x8d, 0xc3 */)).toBe(UD);            // lea rax, rbx
    expect(run("f0 01 d8" /* .byte 0xf0, 0x01, 0xd8 */)).toBe(UD);            // lock add eax, ebx
    expect(run("f0 89 03" /* .byte 0xf0; mov [rbx], eax */)).toBe(UD);        // lock mov
    expect(run("f0 39 03" /* .byte 0xf0; cmp [rbx], eax */)).toBe(UD);        // lock cmp
    expect(run("f0 0f a3 03" /* .byte 0xf0; bt [rbx], eax */)).toBe(UD);         // lock bt
    expect(run("f0 90" /* .byte 0xf0; nop */)).toBe(UD);
    expect(run("0f c7 f0" /* .byte 0x0f, 0xc7, 0xf0 */)).toBe(-1);            // rdrand eax is fine
    expect(run("0f c7 c8" /* .byte 0x0f, 0xc7, 0xc8 */)).toBe(UD);            // cmpxchg8b with a register operand
    expect(run("0f c7 30" /* .byte 0x0f, 0xc7, 0x30 */)).toBe(UD);            // /6 memory form (VMPTRLD) is not here
    expect(run("8f c8" /* .byte 0x8f, 0xc8 */)).toBe(UD);                  // 8F /1
    expect(run("fe d0" /* .byte 0xfe, 0xd0 */)).toBe(UD);                  // FE /2
    expect(run("ff f8" /* .byte 0xff, 0xf8 */)).toBe(UD);                  // FF /7
  });
  test("#GP on non-canonical data addresses and branch targets", () => {
    mode64();
    setR(RBX, 0x0000800000000000);
    expect(run("48 8b 03" /* mov rax, [rbx] */)).toBe(GP);
    expect(S.rip).toBe(CODE);
    setR(RBP, 0x0000800000000000);
    expect(run("48 8b 45 00" /* mov rax, [rbp] */)).toBe(SSF);     // rBP base: SS segment -> #SS
    mode64();
    setR(RAX, 0xffff7fffffffffff);
    expect(run("ff e0" /* jmp rax */)).toBe(GP);
    expect(S.rip).toBe(CODE);
    mode64();
    expect(run("6a 01 48 b8 00 00 00 00 00 80 00 00 48 89 04 24 c3" /* push 1; mov rax, 0x0000800000000000; mov [rsp], rax; ret */)).toBe(GP);
    expect(R(RSP)).toBe(STACK_TOP - 8);  // RET did not pop
  });
  test("RMW memory operands fault as writes (#PF error code W=1)", () => {
    mode64();
    setR(RBX, 0x400000);  // beyond the 4 MiB the page tables map
    expect(run("83 03 01" /* add dword ptr [rbx], 1 */)).toBe(14);
    expect(lastError).toBe(2);
    expect(run("8b 03" /* mov eax, [rbx] */)).toBe(14);
    expect(lastError).toBe(0);
    expect(run("f0 0f ba 2b 01" /* lock bts dword ptr [rbx], 1 */)).toBe(14);
    expect(lastError).toBe(2);
    expect(run("0f ba 23 01" /* bt dword ptr [rbx], 1 */)).toBe(14);
    expect(lastError).toBe(0);
    expect(run("0f c7 0b" /* cmpxchg8b [rbx] */)).toBe(14);
    expect(lastError).toBe(2);
  });
  test("executing sequentially past 0x00007fffffffffff is #GP", () => {
    mode64();
    // Map the top 2 MiB of the lower half (VA 0x7fffffe00000) to PA 0x200000.
    setM64(0x1000 + 255 * 8, 0x4003);
    setM64(0x4000 + 511 * 8, 0x5003);
    setM64(0x5000 + 511 * 8, 0x200083);
    setM8(0x3ffffe, 0x90); setM8(0x3fffff, 0x90);
    S.rip = 0x00007ffffffffffe;
    step(); step();
    expect(faultPending).toBe(false);
    expect(S.rip).toBe(0x0000800000000000);
    step();
    expect(faultPending).toBe(true);
    expect(faultVector).toBe(13);
    clearFault();
  });
  test("an instruction longer than 15 bytes is #GP", () => {
    mode64();
    expect(run("66 66 66 66 66 66 66 66 66 66 66 66 66 66 90" /* .byte 0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66; nop */)).toBe(-1);
    expect(run("66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90" /* .byte 0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66; nop */)).toBe(GP);
  });
  test("FWAIT raises #NM only with CR0.MP and CR0.TS", () => {
    mode64();
    expect(run("9b" /* fwait */)).toBe(-1);
    S.cr0 |= S.CR0_TS;
    expect(run("9b" /* fwait */)).toBe(-1);
    S.cr0 |= S.CR0_MP;
    expect(run("9b" /* fwait */)).toBe(NM);
  });
  test("a faulting RMW write leaves flags and registers untouched", () => {
    mode64();
    setR(RBX, 0x0000800000000000); setFlags(CF | ZF);
    expect(run("48 c1 23 03" /* shl qword ptr [rbx], 3 */)).toBe(GP);
    expect(flags()).toBe(CF | ZF);
  });
});

describe("32-bit protected mode", () => {
  test("ALU, stack and call in 32-bit code", () => {
    mode32();
    setR(RAX, 0xffffffff); setR(RDX, 0);
    expect(run("83 c0 02 50 5b e8 02 00 00 00 eb 01 c3 41 4a" /* add eax, 2; push eax; pop ebx; call 1f; jmp 2f; 1: ret; 2: inc ecx; dec edx */)).toBe(-1);
    expect(R(RBX)).toBe(1);
    expect(R(RSP)).toBe(STACK_TOP);
    expect(R(RCX)).toBe(1);
    expect(R(RDX) & 0xffffffff).toBe(0xffffffff);
  });
  test("PUSHA/POPA", () => {
    mode32();
    for (let i: u32 = 0; i < 8; i++) if (i != 4) setR(i, 0x100 + i);
    expect(run("60 31 c0 31 db bd 09 00 00 00 61" /* pusha; xor eax, eax; xor ebx, ebx; mov ebp, 9; popa */)).toBe(-1);
    expect(R(RAX)).toBe(0x100);
    expect(R(RBX)).toBe(0x103);
    expect(R(RBP)).toBe(0x105);
    expect(R(RSP)).toBe(STACK_TOP);
    expect(m32(STACK_TOP - 20)).toBe(<u32>STACK_TOP);  // saved ESP is the value before PUSHA
  });
  test("DAA/DAS/AAA/AAS/AAM/AAD", () => {
    mode32();
    setR(RAX, 0x79); setR(RBX, 0x35);
    expect(run("00 d8 27" /* add al, bl; daa */)).toBe(-1);
    expect(R(RAX) & 0xff).toBe(0x14);
    expect(flags() & CF).toBe(CF);
    setR(RAX, 0x35); setR(RBX, 0x47);
    expect(run("28 d8 2f" /* sub al, bl; das */)).toBe(-1);
    expect(R(RAX) & 0xff).toBe(0x88);
    expect(flags() & CF).toBe(CF);
    setR(RAX, 0x0108); setR(RBX, 0x05);
    expect(run("00 d8 37" /* add al, bl; aaa */)).toBe(-1);
    expect(R(RAX) & 0xffff).toBe(0x0203);
    setR(RAX, 0x0203); setR(RBX, 0x05);
    expect(run("28 d8 3f" /* sub al, bl; aas */)).toBe(-1);
    expect(R(RAX) & 0xffff).toBe(0x0108);
    setR(RAX, 63);
    expect(run("d4 0a" /* aam */)).toBe(-1);
    expect(R(RAX) & 0xffff).toBe(0x0603);
    expect(run("d5 0a" /* aad */)).toBe(-1);
    expect(R(RAX) & 0xffff).toBe(63);
    expect(run("d4 00" /* aam 0 */)).toBe(DE);
  });
  test("BOUND raises #BR outside the bounds", () => {
    mode32();
    setR(RBX, DATA); setM32(DATA, 10); setM32(DATA + 4, 20);
    setR(RAX, 15);
    expect(run("62 03" /* bound eax, [ebx] */)).toBe(-1);
    setR(RAX, 21);
    expect(run("62 03" /* bound eax, [ebx] */)).toBe(BR);
    setR(RAX, <u64>-1);
    expect(run("62 03" /* bound eax, [ebx] */)).toBe(BR);
  });
  test("ARPL adjusts the RPL", () => {
    mode32();
    setR(RAX, 0x10); setR(RBX, 0x2b);
    expect(run("63 d8" /* arpl ax, bx */)).toBe(-1);
    expect(R(RAX)).toBe(0x13);
    expect(flags() & ZF).toBe(ZF);
    expect(run("63 d8" /* arpl ax, bx */)).toBe(-1);
    expect(flags() & ZF).toBe(0);
  });
  test("16-bit addressing with 67h, SALC, 82h alias", () => {
    mode32();
    setM32(0x14, 0x12345678);
    setR(RBX, 0xffff0000); setR(RSI, 0x10);  // [bx+si+4] = 0x14: the upper halves are ignored
    expect(run("67 8b 40 04" /* mov eax, [bx+si+4] */)).toBe(-1);
    expect(R(RAX)).toBe(0x12345678);
    setR(RAX, 0);
    expect(run("82 c0 05" /* .byte 0x82, 0xc0, 0x05 */)).toBe(-1);  // 82 /0 = add al, 5 outside 64-bit mode
    expect(R(RAX)).toBe(5);
  });
  test("66h near jump truncates EIP to 16 bits", () => {
    mode32();
    // jmp rel16 from CODE: target = (CODE + 4 + 0x10) & 0xffff = 0x0014
    expect(run("66 e9 10 00" /* .byte 0x66, 0xe9, 0x10, 0x00 */, 1)).toBe(-1);
    expect(S.rip).toBe(0x14);
  });
  test("LAHF/SAHF and SALC", () => {
    mode32();
    setFlags(CF | ZF);
    expect(run("9f d6" /* lahf; .byte 0xd6 */)).toBe(-1);
    expect((R(RAX) >> 8) & 0xff).toBe(0x43);
    expect(R(RAX) & 0xff).toBe(0xff);
  });
});

describe("32-bit segmentation", () => {
  test("segment override applies base and limit (#GP past the limit)", () => {
    mode32();
    S.setSeg(S.FS, 0x18, DATA, 0xfff, 0x4093);
    setM32(DATA + 0x10, 0xfeedf00d);
    expect(run("64 a1 10 00 00 00" /* mov eax, fs:[0x10] */)).toBe(-1);
    expect(R(RAX)).toBe(0xfeedf00d);
    expect(run("64 a1 fe 0f 00 00" /* mov eax, fs:[0xffe] */)).toBe(GP);   // last byte at 0x1001 > limit
    expect(run("64 c6 05 ff 0f 00 00 01" /* mov byte ptr fs:[0xfff], 1 */)).toBe(-1);
  });
  test("stack beyond the SS limit raises #SS", () => {
    mode32();
    S.setSeg(S.SS, 0x10, 0, 0xffff, 0x4093);
    S.updateMode();
    setR(RSP, 0x10002);
    expect(run("58" /* pop eax */)).toBe(SSF);
    expect(R(RSP)).toBe(0x10002);
  });
  test("read-only data segment: RMW and string stores fault, reads work", () => {
    mode32();
    S.setSeg(S.ES, 0x20, 0, 0xffffffff, 0xc091);  // read-only, accessed
    setR(RDI, DATA); setR(RCX, 2);
    expect(run("f3 aa" /* rep stosb */)).toBe(GP);
    expect(R(RCX)).toBe(2);
    setR(RBX, DATA); setM32(DATA, 5);
    expect(run("26 83 03 01" /* add dword ptr es:[ebx], 1 */)).toBe(GP);
    expect(m32(DATA)).toBe(5);
    expect(run("26 8b 03" /* mov eax, es:[ebx] */)).toBe(-1);
    expect(R(RAX)).toBe(5);
  });
});

describe("real mode", () => {
  test("16-bit operands, addressing and stack", () => {
    mode16();
    S.setSegReal(S.DS, 0x2000);        // DS base 0x20000
    setM16(0x20014, 0xbeef);
    setR(RBX, 0x10); setR(RSI, 0x4);
    expect(run("8b 00 50 59 e8 02 00 eb 01 c3 ba 01 00" /* mov ax, [bx+si]; push ax; pop cx; call 1f; jmp 2f; 1: ret; 2: mov dx, 1 */)).toBe(-1);
    expect(R(RAX) & 0xffff).toBe(0xbeef);
    expect(R(RCX) & 0xffff).toBe(0xbeef);
    expect(R(RSP)).toBe(0x8000);
    expect(R(RDX) & 0xffff).toBe(1);
  });
  test("rep movsb uses CX/SI/DI", () => {
    mode16();
    setM8(0x100, 0x11); setM8(0x101, 0x22);
    setR(RSI, 0x100); setR(RDI, 0x200); setR(RCX, 0x10002);
    expect(run("f3 a4" /* rep movsb */)).toBe(-1);
    expect(m16(0x200)).toBe(0x2211);
    expect(R(RCX)).toBe(0x10000);
  });
  test("ARPL is #UD in real mode", () => {
    mode16();
    expect(run("63 d8" /* arpl ax, bx */)).toBe(UD);
  });
});

function setM16(pa: u64, v: u32): void { setM8(pa, v & 0xff); setM8(pa + 1, v >> 8); }
