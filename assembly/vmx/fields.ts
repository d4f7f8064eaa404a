// The VMCS field table (SDM Vol.3C Appendix B) and the cached copy of the current VMCS.
//
// FIELDS is the one list of VMCS fields. Each row is `encoding | feature << 16`. Everything
// else is derived from the encoding (SDM 25.11.2): bit 0 access type (1 = high 32 bits of a
// 64-bit field), bits 9:1 index, bits 11:10 type (0 control, 1 VM-exit information = read-only,
// 2 guest state, 3 host state), bit 12 reserved, bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit,
// 3 natural), bits 31:15 reserved. The row number is the field's storage slot (8 bytes) in the
// cache and in the VMCS region in guest memory.
//
// `feature` names the processor feature a field belongs to; a field exists on this CPU (VMREAD/
// VMWRITE accept it, IA32_VMX_VMCS_ENUM counts it) only when its feature is in FEATURES_ON
// (vmx/caps.ts). Fields of features that are not implemented give VMfailValid(12), as on a
// processor without them.
import { FEATURES_ON } from "./caps";

export * from "./features";
import {
  FT_BASE, FT_VPID, FT_POSTED, FT_VE, FT_PML, FT_TPR, FT_APICACC, FT_VMFUNC, FT_EPT, FT_VINTR, FT_SHADOW, FT_XSS,
  FT_SGX, FT_SPP, FT_TSCSCALE, FT_TERTIARY, FT_PAT, FT_EFER, FT_PERF, FT_MPX, FT_PT, FT_LBR, FT_PKS, FT_CET,
  FT_PLE, FT_PREEMPT, FT_TIMEOUT,
} from "./features";

const B: u32 = FT_BASE << 16;

// @formatter:off
const FIELDS: usize = memory.data<u32>([
  // ---- 16-bit control fields (B.1.1) ----
  0x0000 | (FT_VPID << 16),      // virtual-processor identifier
  0x0002 | (FT_POSTED << 16),    // posted-interrupt notification vector
  0x0004 | (FT_VE << 16),        // EPTP index
  // ---- 16-bit guest-state fields (B.1.2) ----
  0x0800 | B, 0x0802 | B, 0x0804 | B, 0x0806 | B, // ES CS SS DS selector
  0x0808 | B, 0x080a | B, 0x080c | B, 0x080e | B, // FS GS LDTR TR selector
  0x0810 | (FT_VINTR << 16),     // guest interrupt status
  0x0812 | (FT_PML << 16),       // PML index
  // ---- 16-bit host-state fields (B.1.3) ----
  0x0c00 | B, 0x0c02 | B, 0x0c04 | B, 0x0c06 | B, // ES CS SS DS selector
  0x0c08 | B, 0x0c0a | B, 0x0c0c | B,             // FS GS TR selector
  // ---- 64-bit control fields (B.2.1) ----
  0x2000 | B, 0x2002 | B,        // I/O bitmap A, B
  0x2004 | B,                    // MSR bitmaps (present with "use MSR bitmaps")
  0x2006 | B, 0x2008 | B, 0x200a | B, // VM-exit MSR-store, VM-exit MSR-load, VM-entry MSR-load
  0x200c | B,                    // executive-VMCS pointer
  0x200e | (FT_PML << 16),       // PML address
  0x2010 | B,                    // TSC offset
  0x2012 | (FT_TPR << 16),       // virtual-APIC address
  0x2014 | (FT_APICACC << 16),   // APIC-access address
  0x2016 | (FT_POSTED << 16),    // posted-interrupt descriptor address
  0x2018 | (FT_VMFUNC << 16),    // VM-function controls
  0x201a | (FT_EPT << 16),       // EPT pointer
  0x201c | (FT_VINTR << 16), 0x201e | (FT_VINTR << 16), // EOI-exit bitmaps 0, 1
  0x2020 | (FT_VINTR << 16), 0x2022 | (FT_VINTR << 16), // EOI-exit bitmaps 2, 3
  0x2024 | (FT_VMFUNC << 16),    // EPTP-list address
  0x2026 | (FT_SHADOW << 16), 0x2028 | (FT_SHADOW << 16), // VMREAD, VMWRITE bitmap address
  0x202a | (FT_VE << 16),        // virtualization-exception information address
  0x202c | (FT_XSS << 16),       // XSS-exiting bitmap
  0x202e | (FT_SGX << 16),       // ENCLS-exiting bitmap
  0x2030 | (FT_SPP << 16),       // sub-page-permission-table pointer
  0x2032 | (FT_TSCSCALE << 16),  // TSC multiplier
  0x2034 | (FT_TERTIARY << 16),  // tertiary processor-based VM-execution controls
  0x2036 | (FT_SGX << 16),       // ENCLV-exiting bitmap
  // ---- 64-bit read-only data field (B.2.2) ----
  0x2400 | (FT_EPT << 16),       // guest-physical address
  // ---- 64-bit guest-state fields (B.2.3) ----
  0x2800 | B,                    // VMCS link pointer
  0x2802 | B,                    // IA32_DEBUGCTL
  0x2804 | (FT_PAT << 16),       // IA32_PAT
  0x2806 | (FT_EFER << 16),      // IA32_EFER
  0x2808 | (FT_PERF << 16),      // IA32_PERF_GLOBAL_CTRL
  0x280a | (FT_EPT << 16), 0x280c | (FT_EPT << 16), // PDPTE0, PDPTE1
  0x280e | (FT_EPT << 16), 0x2810 | (FT_EPT << 16), // PDPTE2, PDPTE3
  0x2812 | (FT_MPX << 16),       // IA32_BNDCFGS
  0x2814 | (FT_PT << 16),        // IA32_RTIT_CTL
  0x2816 | (FT_LBR << 16),       // IA32_LBR_CTL
  0x2818 | (FT_PKS << 16),       // IA32_PKRS
  // ---- 64-bit host-state fields (B.2.4) ----
  0x2c00 | (FT_PAT << 16),       // IA32_PAT
  0x2c02 | (FT_EFER << 16),      // IA32_EFER
  0x2c04 | (FT_PERF << 16),      // IA32_PERF_GLOBAL_CTRL
  0x2c06 | (FT_PKS << 16),       // IA32_PKRS
  // ---- 32-bit control fields (B.3.1) ----
  0x4000 | B, 0x4002 | B,        // pin-based, primary processor-based VM-execution controls
  0x4004 | B, 0x4006 | B, 0x4008 | B, // exception bitmap, #PF error-code mask, match
  0x400a | B,                    // CR3-target count
  0x400c | B, 0x400e | B, 0x4010 | B, // VM-exit controls, MSR-store count, MSR-load count
  0x4012 | B, 0x4014 | B,        // VM-entry controls, MSR-load count
  0x4016 | B, 0x4018 | B, 0x401a | B, // VM-entry interruption info, exception error code, instruction length
  0x401c | (FT_TPR << 16),       // TPR threshold
  0x401e | B,                    // secondary processor-based VM-execution controls
  0x4020 | (FT_PLE << 16), 0x4022 | (FT_PLE << 16), // PLE gap, PLE window
  0x4024 | (FT_TIMEOUT << 16),   // instruction-timeout control
  // ---- 32-bit read-only data fields (B.3.2) ----
  0x4400 | B, 0x4402 | B,        // VM-instruction error, exit reason
  0x4404 | B, 0x4406 | B,        // VM-exit interruption information, error code
  0x4408 | B, 0x440a | B,        // IDT-vectoring information, error code
  0x440c | B, 0x440e | B,        // VM-exit instruction length, instruction information
  // ---- 32-bit guest-state fields (B.3.3) ----
  0x4800 | B, 0x4802 | B, 0x4804 | B, 0x4806 | B, // ES CS SS DS limit
  0x4808 | B, 0x480a | B, 0x480c | B, 0x480e | B, // FS GS LDTR TR limit
  0x4810 | B, 0x4812 | B,        // GDTR, IDTR limit
  0x4814 | B, 0x4816 | B, 0x4818 | B, 0x481a | B, // ES CS SS DS access rights
  0x481c | B, 0x481e | B, 0x4820 | B, 0x4822 | B, // FS GS LDTR TR access rights
  0x4824 | B, 0x4826 | B,        // interruptibility state, activity state
  0x4828 | B,                    // SMBASE
  0x482a | B,                    // IA32_SYSENTER_CS
  0x482e | (FT_PREEMPT << 16),   // VMX-preemption timer value
  // ---- 32-bit host-state field (B.3.4) ----
  0x4c00 | B,                    // IA32_SYSENTER_CS
  // ---- natural-width control fields (B.4.1) ----
  0x6000 | B, 0x6002 | B,        // CR0, CR4 guest/host mask
  0x6004 | B, 0x6006 | B,        // CR0, CR4 read shadow
  0x6008 | B, 0x600a | B, 0x600c | B, 0x600e | B, // CR3-target values 0-3
  // ---- natural-width read-only data fields (B.4.2) ----
  0x6400 | B,                    // exit qualification
  0x6402 | B, 0x6404 | B, 0x6406 | B, 0x6408 | B, // I/O RCX, RSI, RDI, RIP
  0x640a | B,                    // guest-linear address
  // ---- natural-width guest-state fields (B.4.3) ----
  0x6800 | B, 0x6802 | B, 0x6804 | B, // CR0 CR3 CR4
  0x6806 | B, 0x6808 | B, 0x680a | B, 0x680c | B, // ES CS SS DS base
  0x680e | B, 0x6810 | B, 0x6812 | B, 0x6814 | B, // FS GS LDTR TR base
  0x6816 | B, 0x6818 | B,        // GDTR, IDTR base
  0x681a | B, 0x681c | B, 0x681e | B, 0x6820 | B, // DR7 RSP RIP RFLAGS
  0x6822 | B,                    // pending debug exceptions
  0x6824 | B, 0x6826 | B,        // IA32_SYSENTER_ESP, IA32_SYSENTER_EIP
  0x6828 | (FT_CET << 16), 0x682a | (FT_CET << 16), 0x682c | (FT_CET << 16), // S_CET, SSP, int-SSP table
  // ---- natural-width host-state fields (B.4.4) ----
  0x6c00 | B, 0x6c02 | B, 0x6c04 | B, // CR0 CR3 CR4
  0x6c06 | B, 0x6c08 | B, 0x6c0a | B, // FS GS TR base
  0x6c0c | B, 0x6c0e | B,        // GDTR, IDTR base
  0x6c10 | B, 0x6c12 | B,        // IA32_SYSENTER_ESP, IA32_SYSENTER_EIP
  0x6c14 | B, 0x6c16 | B,        // RSP RIP
  0x6c18 | (FT_CET << 16), 0x6c1a | (FT_CET << 16), 0x6c1c | (FT_CET << 16), // S_CET, SSP, int-SSP table
]);
// @formatter:on
export const NFIELDS: u32 = 169;   // rows in FIELDS (checked by fieldTableOk and the specs)

// ---- derived properties of an encoding (SDM 25.11.2) ----
export const W16: u32 = 0, W64: u32 = 1, W32: u32 = 2, WNAT: u32 = 3;
export const T_CTRL: u32 = 0, T_EXITINFO: u32 = 1, T_GUEST: u32 = 2, T_HOST: u32 = 3;
@inline export function encWidth(enc: u32): u32 { return (enc >> 13) & 3; }
@inline export function encType(enc: u32): u32 { return (enc >> 10) & 3; }
@inline export function encIndex(enc: u32): u32 { return (enc >> 1) & 0x1ff; }
@inline export function encHigh(enc: u32): bool { return (enc & 1) != 0; }
// Read-only: the VM-exit information fields (type 1).
@inline export function encReadOnly(enc: u32): bool { return encType(enc) == T_EXITINFO; }

@inline export function rowEnc(row: u32): u32 { return load<u32>(FIELDS + (<usize>row << 2)) & 0xffff; }
@inline export function rowFeature(row: u32): u32 { return load<u32>(FIELDS + (<usize>row << 2)) >> 16; }
@inline export function rowPresent(row: u32): bool { return (FEATURES_ON & (1 << rowFeature(row))) != 0; }

// Lookup: (width, type) group × index (< 64) -> row + 1 (0 = no such field).
const LOOKUP: usize = memory.data(16 * 64);
@inline function lookupKey(e: u32): u32 { return (encWidth(e) << 2 | encType(e)) << 6 | encIndex(e); }
let lookupBuilt = false;
function buildLookup(): void {
  memory.fill(LOOKUP, 0, 16 * 64);
  for (let r: u32 = 0; r < NFIELDS; r++) {
    const e = rowEnc(r);
    store<u8>(LOOKUP + <usize>lookupKey(e), <u8>(r + 1));
  }
  lookupBuilt = true;
}

// Storage slot of an encoding as VMREAD/VMWRITE see it (bits 63:0 of the register operand),
// or -1 if the processor has no such field (reserved bits set, a "high" access to a field that
// is not 64-bit, an unknown index, or a feature this CPU does not have).
export function fieldSlot(enc: u64): i32 {
  if ((enc & ~(<u64>0x6fff)) != 0) return -1;   // bits 63:15 and bit 12 reserved
  const e = <u32>enc;
  if (encHigh(e) && encWidth(e) != W64) return -1;
  const idx = encIndex(e);
  if (idx >= 64) return -1;
  if (!lookupBuilt) buildLookup();
  const r = <i32>load<u8>(LOOKUP + <usize>lookupKey(e)) - 1;
  if (r < 0 || !rowPresent(<u32>r)) return -1;
  return r;
}

// Self-check of the table: row count, no duplicates, no row with the access-type bit or a
// reserved bit set. Returns the number of the first bad row + 1, or 0 if the table is sound.
export function fieldTableOk(): u32 {
  for (let r: u32 = 0; r < NFIELDS; r++) {
    const e = rowEnc(r);
    if ((e & 0x9001) != 0) return r + 1;
    for (let q: u32 = 0; q < r; q++) if (rowEnc(q) == e) return r + 1;
  }
  if (load<u32>(FIELDS + (<usize>NFIELDS << 2) - 4) == 0) return NFIELDS;
  return 0;
}

// IA32_VMX_VMCS_ENUM bits 9:1: the highest index of any field this CPU supports.
export function highestIndex(): u32 {
  let m: u32 = 0;
  for (let r: u32 = 0; r < NFIELDS; r++) {
    if (!rowPresent(r)) continue;
    const i = encIndex(rowEnc(r));
    if (i > m) m = i;
  }
  return m;
}

// ---- the current VMCS, cached in core memory ----
export const CACHE: usize = memory.data(NFIELDS * 8, 8);
@inline export function slotGet(slot: u32): u64 { return load<u64>(CACHE + (<usize>slot << 3)); }
@inline export function slotSet(slot: u32, v: u64): void { store<u64>(CACHE + (<usize>slot << 3), v); }

// Value of a field as VMREAD returns it (full 64 bits; "high" accesses give bits 63:32).
export function readField(slot: u32, enc: u32): u64 {
  const v = slotGet(slot);
  return encHigh(enc) ? v >> 32 : v;
}
// VMWRITE semantics (SDM 31 VMWRITE): a narrower field takes the low bits; a "high" access
// writes bits 63:32 only. `v` is already zero-extended from the operand size.
export function writeField(slot: u32, enc: u32, v: u64): void {
  const w = encWidth(enc);
  if (encHigh(enc)) { slotSet(slot, (slotGet(slot) & 0xffffffff) | (v << 32)); return; }
  if (w == W16) v &= 0xffff;
  else if (w == W32) v &= 0xffffffff;
  slotSet(slot, v);
}

// Internal accessors by encoding for the VMX code itself (fields that exist on every
// configuration the code path can run in). An unknown encoding reads 0 / is dropped.
export function vmcsRead(enc: u32): u64 {
  const s = fieldSlot(<u64>enc);
  return s < 0 ? 0 : slotGet(<u32>s);
}
export function vmcsWrite(enc: u32, v: u64): void {
  const s = fieldSlot(<u64>enc);
  if (s >= 0) writeField(<u32>s, enc, v);
}

// ---- named encodings used by the VMX code ----
export const VM_INSTRUCTION_ERROR: u32 = 0x4400;
export const EXIT_REASON: u32 = 0x4402;
export const VMCS_LINK_POINTER: u32 = 0x2800;
// Control fields.
export const PIN_CONTROLS: u32 = 0x4000, PROC_CONTROLS: u32 = 0x4002, EXCEPTION_BITMAP: u32 = 0x4004;
export const PF_ERR_MASK: u32 = 0x4006, PF_ERR_MATCH: u32 = 0x4008, CR3_TARGET_COUNT: u32 = 0x400a;
export const EXIT_CONTROLS: u32 = 0x400c, EXIT_MSR_STORE_COUNT: u32 = 0x400e, EXIT_MSR_LOAD_COUNT: u32 = 0x4010;
export const ENTRY_CONTROLS: u32 = 0x4012, ENTRY_MSR_LOAD_COUNT: u32 = 0x4014, ENTRY_INTR_INFO: u32 = 0x4016;
export const ENTRY_EXC_ERROR: u32 = 0x4018, ENTRY_INSTR_LEN: u32 = 0x401a, PROC2_CONTROLS: u32 = 0x401e;
export const IO_BITMAP_A: u32 = 0x2000, IO_BITMAP_B: u32 = 0x2002, MSR_BITMAP: u32 = 0x2004;
export const EXIT_MSR_STORE_ADDR: u32 = 0x2006, EXIT_MSR_LOAD_ADDR: u32 = 0x2008, ENTRY_MSR_LOAD_ADDR: u32 = 0x200a;
export const EXECUTIVE_VMCS: u32 = 0x200c, TSC_OFFSET: u32 = 0x2010;
export const CR0_MASK: u32 = 0x6000, CR4_MASK: u32 = 0x6002, CR0_SHADOW: u32 = 0x6004, CR4_SHADOW: u32 = 0x6006;
export const CR3_TARGET0: u32 = 0x6008;
// Read-only data fields.
export const EXIT_INTR_INFO: u32 = 0x4404, EXIT_INTR_ERROR: u32 = 0x4406;
export const IDT_VECTORING_INFO: u32 = 0x4408, IDT_VECTORING_ERROR: u32 = 0x440a;
export const EXIT_INSTR_LEN: u32 = 0x440c, EXIT_INSTR_INFO: u32 = 0x440e;
export const EXIT_QUALIFICATION: u32 = 0x6400, GUEST_LINEAR_ADDR: u32 = 0x640a;
// Guest state: selector / limit / access rights / base by segment number (ES..GS, LDTR, TR).
export const GUEST_SEL0: u32 = 0x0800, GUEST_LIMIT0: u32 = 0x4800, GUEST_AR0: u32 = 0x4814, GUEST_BASE0: u32 = 0x6806;
export const GUEST_DEBUGCTL: u32 = 0x2802, GUEST_PAT: u32 = 0x2804, GUEST_EFER: u32 = 0x2806;
export const GUEST_PERF_GLOBAL_CTRL: u32 = 0x2808, HOST_PERF_GLOBAL_CTRL: u32 = 0x2c04;
export const GUEST_GDTR_LIMIT: u32 = 0x4810, GUEST_IDTR_LIMIT: u32 = 0x4812;
export const GUEST_INTERRUPTIBILITY: u32 = 0x4824, GUEST_ACTIVITY: u32 = 0x4826, GUEST_SYSENTER_CS: u32 = 0x482a;
export const GUEST_CR0: u32 = 0x6800, GUEST_CR3: u32 = 0x6802, GUEST_CR4: u32 = 0x6804;
export const GUEST_GDTR_BASE: u32 = 0x6816, GUEST_IDTR_BASE: u32 = 0x6818, GUEST_DR7: u32 = 0x681a;
export const GUEST_RSP: u32 = 0x681c, GUEST_RIP: u32 = 0x681e, GUEST_RFLAGS: u32 = 0x6820;
export const GUEST_PENDING_DBG: u32 = 0x6822, GUEST_SYSENTER_ESP: u32 = 0x6824, GUEST_SYSENTER_EIP: u32 = 0x6826;
// Host state.
export const HOST_SEL0: u32 = 0x0c00, HOST_TR_SEL: u32 = 0x0c0c, HOST_PAT: u32 = 0x2c00, HOST_EFER: u32 = 0x2c02;
export const HOST_SYSENTER_CS: u32 = 0x4c00;
export const HOST_CR0: u32 = 0x6c00, HOST_CR3: u32 = 0x6c02, HOST_CR4: u32 = 0x6c04;
export const HOST_FS_BASE: u32 = 0x6c06, HOST_GS_BASE: u32 = 0x6c08, HOST_TR_BASE: u32 = 0x6c0a;
export const HOST_GDTR_BASE: u32 = 0x6c0c, HOST_IDTR_BASE: u32 = 0x6c0e;
export const HOST_SYSENTER_ESP: u32 = 0x6c10, HOST_SYSENTER_EIP: u32 = 0x6c12, HOST_RSP: u32 = 0x6c14, HOST_RIP: u32 = 0x6c16;
export const VIRTUAL_PROCESSOR_ID: u32 = 0x0000, EPT_POINTER: u32 = 0x201a, GUEST_PHYSICAL_ADDR: u32 = 0x2400;
export const GUEST_PDPTE0: u32 = 0x280a;
export const PREEMPT_TIMER: u32 = 0x482e;
export const EPTP_INDEX: u32 = 0x0004, VE_INFO_ADDR: u32 = 0x202a;
export const VMREAD_BITMAP: u32 = 0x2026, VMWRITE_BITMAP: u32 = 0x2028;
