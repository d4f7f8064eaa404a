// One instruction: prefixes + opcode, then dispatch to the module that owns the
// opcode. Ownership is a 512-entry table (one-byte map, then the 0F map) so the
// instruction groups live in separate files without sharing one giant switch.
import { opcode, nextRip } from "./decode";
import { rip, setRip, code64 } from "./state";
import { faultPending, raiseUD } from "./fault";
import { execInteger, execHot } from "./ops/integer";
import { execSystem } from "./ops/system";
import { execSse } from "./ops/sse";
import * as D from "./decode";

const OWN_INT: u8 = 0, OWN_SYS: u8 = 1, OWN_SSE: u8 = 2, OWN_UD: u8 = 3;
const OWNER: usize = memory.data(512);

function own(op: u32, who: u8): void { store<u8>(OWNER + <usize>op, who); }
function ownRange(lo: u32, hi: u32, who: u8): void { for (let i = lo; i <= hi; i++) own(i, who); }

export function initDispatch(): void {
  ownRange(0x000, 0x1ff, OWN_INT);
  // One-byte map: system, segment, I/O, far transfers, interrupts, flags with privilege rules.
  const sys1 = memory.data<u8>([0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f,
    0x6c, 0x6d, 0x6e, 0x6f, 0x8c, 0x8e, 0x9a, 0x9c, 0x9d, 0xc4, 0xc5,
    0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xe4, 0xe5, 0xe6, 0xe7, 0xea, 0xec, 0xed,
    0xee, 0xef, 0xf1, 0xf4, 0xfa, 0xfb]);
  for (let i = 0; i < 37; i++) own(<u32>load<u8>(sys1 + <usize>i), OWN_SYS);
  ownRange(0xd8, 0xdf, OWN_SSE);  // x87 escape
  // 0F map.
  ownRange(0x100, 0x10a, OWN_SYS); // SLDT.. group 6/7, LAR, LSL, SYSCALL, CLTS, SYSRET, INVD, WBINVD
  own(0x10b, OWN_INT);             // UD2
  own(0x10d, OWN_INT);             // prefetch (NOP)
  ownRange(0x110, 0x117, OWN_SSE);
  ownRange(0x118, 0x11f, OWN_INT); // hint NOPs
  ownRange(0x120, 0x127, OWN_SYS); // MOV CR/DR
  ownRange(0x128, 0x12f, OWN_SSE);
  ownRange(0x130, 0x137, OWN_SYS); // WRMSR RDTSC RDMSR RDPMC SYSENTER SYSEXIT GETSEC
  own(0x138, OWN_SSE); own(0x13a, OWN_SSE); // three-byte maps
  ownRange(0x150, 0x17f, OWN_SSE);
  own(0x178, OWN_SYS); own(0x179, OWN_SYS); // VMREAD/VMWRITE (VMX lives with system)
  ownRange(0x1a0, 0x1a2, OWN_SYS); // PUSH/POP FS, CPUID
  ownRange(0x1a8, 0x1aa, OWN_SYS); // PUSH/POP GS, RSM
  own(0x1ae, OWN_SSE);             // group 15: FXSAVE, LDMXCSR, fences, CLFLUSH...
  own(0x1b2, OWN_SYS); own(0x1b4, OWN_SYS); own(0x1b5, OWN_SYS); // LSS LFS LGS
  own(0x1c2, OWN_SSE); own(0x1c3, OWN_SSE); ownRange(0x1c4, 0x1c6, OWN_SSE);
  ownRange(0x1d0, 0x1ff, OWN_SSE);
  own(0x1ff, OWN_INT);             // UD0
  own(0x1b9, OWN_INT);             // UD1
  own(0x104, OWN_UD); own(0x10c, OWN_UD); own(0x10e, OWN_UD); own(0x10f, OWN_UD);
  ownRange(0x139, 0x139, OWN_UD); ownRange(0x13b, 0x13f, OWN_UD);
  own(0x1a6, OWN_UD); own(0x1a7, OWN_UD);
}

// Execute one instruction at RIP. On a fault, state is as the handler left it
// (handlers commit nothing after a fault) and RIP still points at the instruction.
@inline export function step(): void {
  D.startInstr(rip);
  if (faultPending) return;
  const op = opcode;
  const who = load<u8>(OWNER + <usize>op);
  // Hot integer shapes, inline (in 64-bit mode the run loop's hotStep has already declined
  // this instruction, which then is almost never one of them).
  if (!code64 && execHot(op)) {}
  else if (who == OWN_INT) execInteger(op);
  else if (who == OWN_SYS) execSystem(op);
  else if (who == OWN_SSE) execSse(op);
  else raiseUD();
  if (!faultPending) setRip(nextRip);
}
