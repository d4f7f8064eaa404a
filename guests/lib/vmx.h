/* VMX definitions shared by the VMX guests (guests/vmxtests; the encodings match the minivisor's):
   VMCS field encodings (SDM Vol. 3D Appendix B), capability MSRs (Appendix A), exit reasons
   (Appendix C), VM-instruction error numbers (SDM 31.4) and instruction wrappers that return
   the VMX status (SDM 31.2: 0 VMsucceed, 1 VMfailInvalid (CF), 2 VMfailValid (ZF)).
   Header only: the lib C files are linked into every guest, this file only where it is included. */
#pragma once
#include "rt.h"

enum {
  VPID = 0x0000,
  GUEST_ES_SEL = 0x0800, GUEST_CS_SEL = 0x0802, GUEST_SS_SEL = 0x0804, GUEST_DS_SEL = 0x0806,
  GUEST_FS_SEL = 0x0808, GUEST_GS_SEL = 0x080A, GUEST_LDTR_SEL = 0x080C, GUEST_TR_SEL = 0x080E,
  HOST_ES_SEL = 0x0C00, HOST_CS_SEL = 0x0C02, HOST_SS_SEL = 0x0C04, HOST_DS_SEL = 0x0C06,
  HOST_FS_SEL = 0x0C08, HOST_GS_SEL = 0x0C0A, HOST_TR_SEL = 0x0C0C,
  IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002, MSR_BITMAP = 0x2004,
  EXIT_MSR_STORE_ADDR = 0x2006, EXIT_MSR_LOAD_ADDR = 0x2008, ENTRY_MSR_LOAD_ADDR = 0x200A,
  TSC_OFFSET = 0x2010, EPT_POINTER = 0x201A,
  VMREAD_BITMAP = 0x2026, VMWRITE_BITMAP = 0x2028,
  GUEST_PHYS_ADDR = 0x2400,
  VMCS_LINK_PTR = 0x2800, GUEST_DEBUGCTL = 0x2802, GUEST_PAT = 0x2804, GUEST_EFER = 0x2806,
  HOST_PAT = 0x2C00, HOST_EFER = 0x2C02,
  PIN_CTLS = 0x4000, PROC_CTLS = 0x4002, EXC_BITMAP = 0x4004, PF_ERR_MASK = 0x4006,
  PF_ERR_MATCH = 0x4008, CR3_TARGET_COUNT = 0x400A,
  EXIT_CTLS = 0x400C, EXIT_MSR_STORE_COUNT = 0x400E, EXIT_MSR_LOAD_COUNT = 0x4010,
  ENTRY_CTLS = 0x4012, ENTRY_MSR_LOAD_COUNT = 0x4014, ENTRY_INTR_INFO = 0x4016,
  ENTRY_EXC_ERR = 0x4018, ENTRY_INSTR_LEN = 0x401A, PROC_CTLS2 = 0x401E,
  VM_INSTR_ERROR = 0x4400, EXIT_REASON = 0x4402, EXIT_INTR_INFO = 0x4404, EXIT_INTR_ERR = 0x4406,
  IDT_VECT_INFO = 0x4408, IDT_VECT_ERR = 0x440A, EXIT_INSTR_LEN = 0x440C, EXIT_INSTR_INFO = 0x440E,
  GUEST_ES_LIMIT = 0x4800, GUEST_CS_LIMIT = 0x4802, GUEST_GDTR_LIMIT = 0x4810, GUEST_IDTR_LIMIT = 0x4812,
  GUEST_ES_AR = 0x4814, GUEST_CS_AR = 0x4816, GUEST_SS_AR = 0x4818, GUEST_TR_AR = 0x4822,
  GUEST_INTERRUPTIBILITY = 0x4824, GUEST_ACTIVITY = 0x4826, GUEST_SYSENTER_CS = 0x482A,
  PREEMPT_TIMER = 0x482E,
  HOST_SYSENTER_CS = 0x4C00,
  CR0_MASK = 0x6000, CR4_MASK = 0x6002, CR0_SHADOW = 0x6004, CR4_SHADOW = 0x6006,
  CR3_TARGET0 = 0x6008,
  EXIT_QUAL = 0x6400, GUEST_LINEAR_ADDR = 0x640A,
  GUEST_CR0 = 0x6800, GUEST_CR3 = 0x6802, GUEST_CR4 = 0x6804, GUEST_ES_BASE = 0x6806,
  GUEST_CS_BASE = 0x6808, GUEST_FS_BASE = 0x680E, GUEST_LDTR_BASE = 0x6812, GUEST_TR_BASE = 0x6814,
  GUEST_GDTR_BASE = 0x6816, GUEST_IDTR_BASE = 0x6818, GUEST_DR7 = 0x681A, GUEST_RSP = 0x681C,
  GUEST_RIP = 0x681E, GUEST_RFLAGS = 0x6820, GUEST_PENDING_DBG = 0x6822,
  GUEST_SYSENTER_ESP = 0x6824, GUEST_SYSENTER_EIP = 0x6826,
  HOST_CR0 = 0x6C00, HOST_CR3 = 0x6C02, HOST_CR4 = 0x6C04, HOST_FS_BASE = 0x6C06,
  HOST_GS_BASE = 0x6C08, HOST_TR_BASE = 0x6C0A, HOST_GDTR_BASE = 0x6C0C, HOST_IDTR_BASE = 0x6C0E,
  HOST_SYSENTER_ESP = 0x6C10, HOST_SYSENTER_EIP = 0x6C12, HOST_RSP = 0x6C14, HOST_RIP = 0x6C16,
};
/* Segment-register fields: ES CS SS DS FS GS LDTR TR are 2 apart in each group. */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };

#define MSR_FEATURE_CONTROL 0x3A
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PINBASED 0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_EXIT 0x483
#define MSR_VMX_ENTRY 0x484
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_PROCBASED2 0x48B
#define MSR_VMX_EPT_VPID_CAP 0x48C
#define MSR_VMX_TRUE_PINBASED 0x48D
#define MSR_VMX_TRUE_PROCBASED 0x48E
#define MSR_VMX_TRUE_EXIT 0x48F
#define MSR_VMX_TRUE_ENTRY 0x490

/* Controls (SDM 25.6-25.8) */
#define PIN_EXT_INT (1u << 0)
#define PIN_NMI (1u << 3)
#define PIN_PREEMPT_TIMER (1u << 6)
#define PROC_INT_WINDOW (1u << 2)
#define PROC_TSC_OFFSET (1u << 3)
#define PROC_HLT_EXIT (1u << 7)
#define PROC_INVLPG_EXIT (1u << 9)
#define PROC_RDTSC_EXIT (1u << 12)
#define PROC_CR3_LOAD (1u << 15)
#define PROC_CR3_STORE (1u << 16)
#define PROC_CR8_LOAD (1u << 19)
#define PROC_CR8_STORE (1u << 20)
#define PROC_UNCOND_IO (1u << 24)
#define PROC_IO_BITMAPS (1u << 25)
#define PROC_MTF (1u << 27)
#define PROC_MSR_BITMAPS (1u << 28)
#define PROC_SECONDARY (1u << 31)
#define PROC2_EPT (1u << 1)
#define PROC2_VPID (1u << 5)
#define PROC2_UNRESTRICTED (1u << 7)
#define PROC2_SHADOW_VMCS (1u << 14)
#define EXIT_HOST_64 (1u << 9)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
#define EXIT_SAVE_TIMER (1u << 22)
#define ENTRY_IA32E (1u << 9)
#define ENTRY_LOAD_EFER (1u << 15)

/* Exit reasons (SDM Appendix C) */
enum {
  EXIT_EXCEPTION = 0, EXIT_EXT_INT = 1, EXIT_TRIPLE = 2, EXIT_INT_WINDOW = 7, EXIT_CPUID = 10,
  EXIT_HLT = 12, EXIT_INVLPG = 14, EXIT_RDTSC = 16, EXIT_VMCALL = 18, EXIT_VMCLEAR = 19,
  EXIT_VMLAUNCH = 20, EXIT_VMPTRLD = 21, EXIT_VMPTRST = 22, EXIT_VMREAD = 23, EXIT_VMRESUME = 24,
  EXIT_VMWRITE = 25, EXIT_VMXOFF = 26, EXIT_VMXON = 27, EXIT_CR = 28, EXIT_IO = 30,
  EXIT_RDMSR = 31, EXIT_WRMSR = 32, EXIT_BAD_GUEST = 33, EXIT_MSR_LOAD = 34, EXIT_MTF = 37,
  EXIT_EPT_VIOLATION = 48, EXIT_EPT_MISCONFIG = 49, EXIT_INVEPT = 50, EXIT_PREEMPT = 52,
  EXIT_INVVPID = 53,
};
#define EXIT_FAILED (1u << 31)   /* VM-entry failure (SDM 27.8) */

/* VM-instruction error numbers (SDM 31.4, Table 31-1) */
enum {
  VMERR_VMCALL_ROOT = 1, VMERR_VMCLEAR_ADDR = 2, VMERR_VMCLEAR_VMXON = 3, VMERR_LAUNCH_NOT_CLEAR = 4,
  VMERR_RESUME_NOT_LAUNCHED = 5, VMERR_ENTRY_CTLS = 7, VMERR_ENTRY_HOST = 8,
  VMERR_VMPTRLD_ADDR = 9, VMERR_VMPTRLD_VMXON = 10, VMERR_VMPTRLD_REV = 11,
  VMERR_UNSUPPORTED_FIELD = 12, VMERR_READ_ONLY = 13, VMERR_VMXON_ROOT = 15,
  VMERR_INV_OPERAND = 28,
};

/* ---- instruction wrappers: return 0 (VMsucceed), 1 (VMfailInvalid), 2 (VMfailValid) ---- */
static inline int vmx_status_(u8 cf, u8 zf) { return cf ? 1 : zf ? 2 : 0; }
#define VMX_MEMOP(name, insn) \
  static inline int name(u64 pa) { u8 cf, zf; \
    __asm__ volatile(insn " %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory"); \
    return vmx_status_(cf, zf); }
VMX_MEMOP(vmxon, "vmxon")
VMX_MEMOP(vmclear, "vmclear")
VMX_MEMOP(vmptrld, "vmptrld")
static inline int vmptrst(u64 *pa) { u8 cf, zf;
  __asm__ volatile("vmptrst %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf), "=m"(*pa) :: "cc", "memory");
  return vmx_status_(cf, zf); }
static inline int vmxoff(void) { u8 cf, zf;
  __asm__ volatile("vmxoff; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) :: "cc", "memory");
  return vmx_status_(cf, zf); }
static inline int vmread_s(u64 f, u64 *v) { u8 cf, zf; u64 r = 0;
  __asm__ volatile("vmread %3, %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf), "+r"(r) : "r"(f) : "cc");
  *v = r; return vmx_status_(cf, zf); }
static inline int vmwrite_s(u64 f, u64 v) { u8 cf, zf;
  __asm__ volatile("vmwrite %3, %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "r"(f), "rm"(v) : "cc", "memory");
  return vmx_status_(cf, zf); }
static inline u64 vmread(u64 f) { u64 v; vmread_s(f, &v); return v; }
struct inv_desc { u64 a, b; };
static inline int invept(u64 type, const struct inv_desc *d) { u8 cf, zf;
  __asm__ volatile("invept %2, %3; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(*d), "r"(type) : "cc", "memory");
  return vmx_status_(cf, zf); }
static inline int invvpid(u64 type, const struct inv_desc *d) { u8 cf, zf;
  __asm__ volatile("invvpid %2, %3; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(*d), "r"(type) : "cc", "memory");
  return vmx_status_(cf, zf); }

/* Allowed settings of a control (SDM A.3): bits 31:0 of the capability MSR are the allowed
   0-settings (1 = must be 1), bits 63:32 the allowed 1-settings. */
static inline u32 vmx_adjust(u32 want, u32 msr) {
  u64 cap = rdmsr(msr);
  return (want | (u32)cap) & (u32)(cap >> 32);
}
