// 66 0F 38 82 /r: INVPCID r32/r64, m128 (SDM Vol.2 INVPCID; TLB effects in mmu/tlb.ts).
import * as S from "../state";
import { raiseUD, raiseGP, faultPending } from "../fault";
import * as D from "../decode";
import { readMem, isCanonicalMax } from "../segmem";
import { tlbFlushPcid } from "../../mmu/access";
import { nonRoot } from "../../vmx/vstate";
import * as VX from "../../vmx/intercept";

export function invpcid(): void {
  // The register operand must be memory; in VMX non-root operation INVPCID is #UD unless
  // "enable INVPCID" is 1 (SDM 26.3 / 25.6.2).
  if (D.modMod == 3 || D.lockPrefix || (nonRoot && VX.invpcidUd())) { raiseUD(); return; }
  if (S.vm86 || (S.protMode && S.cpl != 0)) { raiseGP(0); return; }
  // "INVLPG exiting" with "enable INVPCID": VM exit 58 before the operand is read (SDM 26.1.3;
  // #UD and the CPL #GP have priority, 26.1.1).
  if (nonRoot && VX.exitInvpcid()) return;
  const type = S.code64 ? S.getReg64(D.modReg) : <u64>S.getReg32(D.modReg);
  const lo = readMem(D.eaSeg, D.eaAddr(), 8);
  if (faultPending) return;
  const lin = readMem(D.eaSeg, D.eaAddr() + 8, 8);
  if (faultPending) return;
  if (type > 3 || (lo >> 12) != 0) { raiseGP(0); return; }
  const pcid = <u32>lo & 0xfff;
  // Canonical against the widest linear-address width supported (57 bits), whatever CR4.LA57 is.
  if (type == 0 && !isCanonicalMax(lin)) { raiseGP(0); return; }
  // Types 0/1 name one PCID: only PCID 0 exists while CR4.PCIDE = 0.
  if (type <= 1 && pcid != 0 && (S.cr4 & S.CR4_PCIDE) == 0) { raiseGP(0); return; }
  tlbFlushPcid(<u32>type, pcid, lin);
}
