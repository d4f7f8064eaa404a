/* VMX instruction wrappers for the VMX test programs (guests/vmxtests): they return the VMX
   status (SDM 31.2: 0 VMsucceed, 1 VMfailInvalid (CF), 2 VMfailValid (ZF)). The encodings are in
   vmx_defs.h. Header only: the lib C files are linked into every guest, this file only where it
   is included. */
#pragma once
#include "vmx_defs.h"

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
