/* vmxtests/instr: VMX instructions as L1 sees them. Success (VMsucceed: CF=ZF=0), VMfailInvalid
   (CF=1, no current VMCS), VMfailValid (ZF=1) with the VM-instruction error number (SDM 31.4
   Table 31-1), and the faults that have priority (#UD outside VMX operation or with CR4.VMXE=0,
   #GP at CPL > 0, #GP for VMXON with IA32_FEATURE_CONTROL unlocked). Pseudocode: SDM 31.3. */
#include "vmxt.h"

static u8 bad_rev[4096] __attribute__((aligned(4096)));

/* fault probes: vector of the fault (0xff: none) */
static int ud_vmxon(u64 pa) { TRY("", "vmxon %0", :: "m"(pa) : "cc", "memory"); return (int)last_trap.vec; }
static int ud_vmread(void) { u64 v; TRY("", "vmread %1, %0", : "=r"(v) : "r"(0x681eull) : "cc"); return (int)last_trap.vec; }
static int ud_vmxoff(void) { TRY("", "vmxoff", ::: "cc"); return (int)last_trap.vec; }

/* compatibility mode (IA32_EFER.LMA = 1, CS.L = 0): every VMX instruction is #UD (SDM 31.3).
   compat_probe_N far-calls 32-bit code (SEL_CODE32) that runs one VMX instruction; the trap
   hook resumes at the far return (fixup_ip), still in compatibility mode. */
u64 compat_scratch;   /* referenced from asm */
#define COMPAT_PROBE(n, insn) \
  __asm__(".pushsection .text\n.code64\n.globl compat_probe_" #n "\ncompat_probe_" #n ":\n" \
          " movq $3f, fixup_ip(%rip)\n lcall *4f(%rip)\n movq $0, fixup_ip(%rip)\n ret\n" \
          ".code32\n2: " insn "\n3: lret\n.code64\n.popsection\n" \
          ".pushsection .data\n4: .long 2b\n .word 0x08\n.popsection");
COMPAT_PROBE(0, "vmptrst compat_scratch")
COMPAT_PROBE(1, "vmxoff")
COMPAT_PROBE(2, "vmcall")
COMPAT_PROBE(3, "vmclear compat_scratch")
void compat_probe_0(void), compat_probe_1(void), compat_probe_2(void), compat_probe_3(void);
static int compat(void (*probe)(void)) { last_trap.vec = 0xff; probe(); return (int)last_trap.vec; }

/* ring 3: results stored, printed by ring 0 */
static volatile int u_vmread_vec, u_vmxoff_vec, u_vmptrst_vec, u_vmcall_vec, u_invept_vec, u_invvpid_vec;
static struct inv_desc u_desc;
static volatile u64 u_err;
static void user_probe(void) {
  u64 v, pa;
  TRY("", "vmread %1, %0", : "=r"(v) : "r"(0x681eull) : "cc"); u_vmread_vec = (int)last_trap.vec; u_err = last_trap.err;
  TRY("", "vmxoff", ::: "cc"); u_vmxoff_vec = (int)last_trap.vec;
  TRY("", "vmptrst %0", : "=m"(pa) :: "cc"); u_vmptrst_vec = (int)last_trap.vec;
  TRY("", "vmcall", ::: "cc"); u_vmcall_vec = (int)last_trap.vec;
  TRY("", "invept %0, %1", :: "m"(u_desc), "r"(2ull) : "cc", "memory"); u_invept_vec = (int)last_trap.vec;
  TRY("", "invvpid %0, %1", :: "m"(u_desc), "r"(2ull) : "cc", "memory"); u_invvpid_vec = (int)last_trap.vec;
}

static void status(const char *name, int got, int want, u64 err) {
  /* want: 0, 1, or 2 + error number */
  if (want >= 2) {
    char buf[80]; int n = 0; const char *p = name; while (*p && n < 60) buf[n++] = *p++;
    buf[n] = 0;
    expect(name, got, 2);
    const char *suf = " error"; p = suf; while (*p) buf[n++] = *p++; buf[n] = 0;
    if (got == 2) expect(buf, err, (u64)(want - 2));
  } else expect(name, got, (u64)want);
}
#define VMFAIL(n) (2 + (n))
/* the instruction first, then VMREAD of the error field */
#define STATUS(name, expr, want) do { int r_ = (expr); status(name, r_, want, vmread(VM_INSTR_ERROR)); } while (0)

int main(void) {
  vmxt_init("instr");
  u64 pa_vmxon = (uptr)vmxon_region, pa1 = (uptr)vmcs1, pa2 = (uptr)vmcs2, v;
  *(u32 *)vmxon_region = rev_id; *(u32 *)vmcs1 = rev_id; *(u32 *)vmcs2 = rev_id;
  *(u32 *)bad_rev = rev_id ^ 1;

  /* ---- outside VMX operation ---- */
  write_cr4(read_cr4() & ~(1ull << 13));
  expect("vmxon-cr4-vmxe0-ud", ud_vmxon(pa_vmxon), 6);           /* SDM 31.3 VMXON: #UD if CR4.VMXE = 0 */
  expect("vmread-outside-vmx-ud", ud_vmread(), 6);
  expect("vmxoff-outside-vmx-ud", ud_vmxoff(), 6);
  u64 fc = rdmsr(MSR_FEATURE_CONTROL);
  write_cr4(((read_cr4() | (1u << 13)) | cr4_fixed0) & cr4_fixed1);
  if (!(fc & 1)) {
    expect("vmxon-feature-control-unlocked-gp", ud_vmxon(pa_vmxon), 13);   /* lock bit 0 clear -> #GP(0) */
    wrmsr(MSR_FEATURE_CONTROL, fc | 1 | 4);
  } else note("IA32_FEATURE_CONTROL already locked (0x%lx)", (unsigned long)fc);
  {
    u64 cr0 = read_cr0();
    /* VMXON with CR0.NE = 0 violates IA32_VMX_CR0_FIXED0 (NE is fixed to 1) -> #GP(0) */
    if (cr0_fixed0 & 0x20) {
      write_cr0(cr0 & ~0x20ull);
      expect("vmxon-cr0-ne0-gp", ud_vmxon(pa_vmxon), 13);
      write_cr0(cr0);
    }
  }
  expect("vmxon-bad-revision", vmxon((uptr)bad_rev), 1);          /* VMfailInvalid */
  expect("vmxon-unaligned", vmxon(pa_vmxon + 8), 1);
  *(u32 *)bad_rev = rev_id | 0x80000000u;
  expect("vmxon-revision-bit31", vmxon((uptr)bad_rev), 1);
  *(u32 *)bad_rev = rev_id ^ 1;
  expect("vmxon-beyond-maxphyaddr", vmxon(1ull << 52), 1);
  expect("vmxon", vmxon(pa_vmxon), 0);

  /* ---- VMX root, no current VMCS: VMfail is VMfailInvalid ---- */
  expect("vmxon-in-root-no-vmcs", vmxon(pa_vmxon), 1);
  expect("vmptrst-no-vmcs", (vmptrst(&v), v), ~0ull);
  expect("vmread-no-vmcs", vmread_s(GUEST_RIP, &v), 1);
  expect("vmwrite-no-vmcs", vmwrite_s(GUEST_RIP, 0), 1);
  expect("vmlaunch-no-vmcs", vm_enter(guest_regs, 0), 1);
  expect("vmresume-no-vmcs", vm_enter(guest_regs, 1), 1);
  expect("vmclear-vmxon-ptr-no-vmcs", vmclear(pa_vmxon), 1);
  expect("vmptrld-vmxon-ptr-no-vmcs", vmptrld(pa_vmxon), 1);
  expect("vmptrld-bad-revision-no-vmcs", vmptrld((uptr)bad_rev), 1);

  /* ---- a current VMCS: VMfailValid with the error number ---- */
  expect("vmclear", vmclear(pa1), 0);
  expect("vmptrld", vmptrld(pa1), 0);
  vmptrst(&v);
  expect("vmptrst", v, pa1);
  STATUS("vmxon-in-root", vmxon(pa_vmxon), VMFAIL(VMERR_VMXON_ROOT));
  STATUS("vmclear-vmxon-ptr", vmclear(pa_vmxon), VMFAIL(VMERR_VMCLEAR_VMXON));
  STATUS("vmclear-unaligned", vmclear(pa2 + 0x10), VMFAIL(VMERR_VMCLEAR_ADDR));
  STATUS("vmclear-beyond-maxphyaddr", vmclear(1ull << 52), VMFAIL(VMERR_VMCLEAR_ADDR));
  STATUS("vmptrld-vmxon-ptr", vmptrld(pa_vmxon), VMFAIL(VMERR_VMPTRLD_VMXON));
  STATUS("vmptrld-unaligned", vmptrld(pa2 + 0x10), VMFAIL(VMERR_VMPTRLD_ADDR));
  STATUS("vmptrld-bad-revision", vmptrld((uptr)bad_rev), VMFAIL(VMERR_VMPTRLD_REV));
  vmptrst(&v);
  expect("vmptrld-failures-keep-current", v, pa1);

  /* VMREAD / VMWRITE */
  expect("vmwrite-guest-rip", vmwrite_s(GUEST_RIP, 0x123456789abcull), 0);
  expect("vmread-guest-rip", vmread(GUEST_RIP), 0x123456789abcull);
  vmwrite_s(GUEST_ES_SEL, 0xabcd1234);
  expect("vmwrite-16bit-truncates", vmread(GUEST_ES_SEL), 0x1234);
  vmwrite_s(GUEST_ES_LIMIT, 0x1234567890ull);
  expect("vmwrite-32bit-truncates", vmread(GUEST_ES_LIMIT), 0x34567890);
  vmwrite_s(TSC_OFFSET, 0x1122334455667788ull);
  expect("vmread-64bit-high-half", vmread(TSC_OFFSET + 1), 0x11223344);
  vmwrite_s(TSC_OFFSET + 1, 0xaabbccdd);
  expect("vmwrite-64bit-high-half", vmread(TSC_OFFSET), 0xaabbccdd55667788ull);
  STATUS("vmread-unsupported-field", vmread_s(0x6801, &v), VMFAIL(VMERR_UNSUPPORTED_FIELD));
  STATUS("vmwrite-unsupported-field", vmwrite_s(0x7ffe, 0), VMFAIL(VMERR_UNSUPPORTED_FIELD));
  STATUS("vmread-field-bits-63-32", vmread_s(0x100000000ull | GUEST_RIP, &v), VMFAIL(VMERR_UNSUPPORTED_FIELD));
  if (!(vmx_misc & (1u << 29)))   /* IA32_VMX_MISC[29]: VMWRITE may write read-only fields */
    STATUS("vmwrite-read-only", vmwrite_s(EXIT_REASON, 0), VMFAIL(VMERR_READ_ONLY));
  else note("IA32_VMX_MISC[29] set: VMWRITE to exit-information fields allowed");
  expect("vmread-error-field", vmread_s(VM_INSTR_ERROR, &v), 0);
  {
    static volatile u64 mem = 0, src = 0xfeedf00d;
    u8 cf, zf;
    __asm__ volatile("vmwrite %2, %3; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(src), "r"((u64)GUEST_RSP) : "cc", "memory");
    expect("vmwrite-memory-operand", vmx_status_(cf, zf), 0);
    __asm__ volatile("vmread %2, %3; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "r"((u64)GUEST_RSP), "m"(mem) : "cc", "memory");
    expect("vmread-memory-operand", vmx_status_(cf, zf), 0);
    expect("vmread-memory-operand value", mem, 0xfeedf00d);
  }
  /* VMCLEAR of another VMCS keeps the current one */
  *(u32 *)vmcs2 = rev_id;
  expect("vmclear-other", vmclear(pa2), 0);
  vmptrst(&v);
  expect("vmclear-other-keeps-current", v, pa1);

  /* VMLAUNCH / VMRESUME state: a launched VMCS cannot be launched, a clear one not resumed */
  vmcs_default(vmcs1, 0);
  STATUS("vmresume-clear-vmcs", vm_enter(guest_regs, 1), VMFAIL(VMERR_RESUME_NOT_LAUNCHED));
  GUEST(g_vmcall, "vmcall\n hlt");
  expect("vmlaunch-exit-vmcall", run_at(g_vmcall), EXIT_VMCALL);
  STATUS("vmlaunch-launched-vmcs", vm_enter(guest_regs, 0), VMFAIL(VMERR_LAUNCH_NOT_CLEAR));
  vmw(GUEST_RIP, (uptr)g_vmcall);
  expect("vmresume-launched", vm_enter(guest_regs, 1), 0);
  expect("vmresume-exit-vmcall", vmread(EXIT_REASON), EXIT_VMCALL);
  /* VMCLEAR makes it clear again and leaves no current VMCS */
  expect("vmclear-current", vmclear(pa1), 0);
  vmptrst(&v);
  expect("vmclear-current-invalidates", v, ~0ull);
  expect("vmptrld-again", vmptrld(pa1), 0);
  STATUS("vmresume-after-vmclear", vm_enter(guest_regs, 1), VMFAIL(VMERR_RESUME_NOT_LAUNCHED));
  expect("vmlaunch-after-vmclear", vm_enter(guest_regs, 0), 0);
  /* VMCS contents survive VMCLEAR + VMPTRLD of another VMCS and back */
  vmw(GUEST_RIP, 0x5a5a5a);
  vmclear(pa1);
  *(u32 *)vmcs2 = rev_id; vmclear(pa2); vmptrld(pa2);
  vmwrite_s(GUEST_RIP, 0x777);
  vmptrld(pa1);
  expect("vmcs-data-kept-across-vmptrld", vmread(GUEST_RIP), 0x5a5a5a);
  vmptrld(pa2);
  expect("vmcs2-data", vmread(GUEST_RIP), 0x777);
  vmptrld(pa1);

  /* a shadow VMCS (revision bit 31) can be made current when VMCS shadowing is supported, but
     VMLAUNCH of it is VMfailInvalid (SDM 31.3 VMPTRLD, VMLAUNCH); VMXON rejects bit 31 */
  {
    u32 p2 = (u32)(rdmsr(MSR_VMX_PROCBASED2) >> 32);
    if ((rdmsr(msr_proc) >> 63) && (p2 & PROC2_SHADOW_VMCS)) {
      *(u32 *)vmcs2 = rev_id | 0x80000000u;
      vmclear(pa2);
      expect("vmptrld-shadow-vmcs", vmptrld(pa2), 0);
      expect("vmlaunch-shadow-vmcs-failinvalid", vm_enter(guest_regs, 0), 1);
      *(u32 *)vmcs2 = rev_id;
      vmclear(pa2);
      vmptrld(pa1);
    } else {
      *(u32 *)vmcs2 = rev_id | 0x80000000u;
      STATUS("vmptrld-shadow-vmcs-unsupported", vmptrld(pa2), VMFAIL(VMERR_VMPTRLD_REV));
      *(u32 *)vmcs2 = rev_id;
    }
  }

  /* INVEPT / INVVPID operands (SDM 31.3: error 28 for an unsupported type or bad operand) */
  if (ept_cap & (1u << 20)) {
    struct inv_desc d = { eptp_of(ept_pml4, 0), 0 };
    ept_identity();
    expect("invept-all-context", invept(2, &d), (ept_cap & (1u << 26)) ? 0 : 2);
    expect("invept-single-context", invept(1, &d), (ept_cap & (1u << 25)) ? 0 : 2);
    STATUS("invept-type-0", invept(0, &d), VMFAIL(VMERR_INV_OPERAND));
    STATUS("invept-type-3", invept(3, &d), VMFAIL(VMERR_INV_OPERAND));
  } else note("no INVEPT");
  if (ept_cap & (1ull << 32)) {
    struct inv_desc d = { 1, 0x1000 };
    if (ept_cap & (1ull << 40)) expect("invvpid-individual", invvpid(0, &d), 0);
    if (ept_cap & (1ull << 41)) expect("invvpid-single", invvpid(1, &d), 0);
    if (ept_cap & (1ull << 42)) expect("invvpid-all", invvpid(2, &d), 0);
    STATUS("invvpid-type-4", invvpid(4, &d), VMFAIL(VMERR_INV_OPERAND));
    struct inv_desc z = { 0, 0x1000 };
    if (ept_cap & (1ull << 41)) STATUS("invvpid-single-vpid0", invvpid(1, &z), VMFAIL(VMERR_INV_OPERAND));
    struct inv_desc nc = { 1, 0x8000000000000000ull };
    if (ept_cap & (1ull << 40)) STATUS("invvpid-individual-noncanonical", invvpid(0, &nc), VMFAIL(VMERR_INV_OPERAND));
    struct inv_desc rsv = { 1ull << 20, 0x1000 };   /* bits 63:16 of the first qword are reserved */
    if (ept_cap & (1ull << 41)) STATUS("invvpid-reserved-bits", invvpid(1, &rsv), VMFAIL(VMERR_INV_OPERAND));
  } else note("no INVVPID");

  /* CPL 3 in VMX root operation: #GP(0) for VMREAD, VMXOFF, VMPTRST and VMCALL (SDM 31.3) */
  enter_user(user_probe, user_stack + sizeof user_stack);
  expect("vmread-cpl3-gp", u_vmread_vec, 13);
  expect("vmread-cpl3-gp-error-code", u_err, 0);
  expect("vmxoff-cpl3-gp", u_vmxoff_vec, 13);
  expect("vmptrst-cpl3-gp", u_vmptrst_vec, 13);
  expect("vmcall-cpl3-root-gp", u_vmcall_vec, 13);
  if (ept_cap & (1u << 20)) expect("invept-cpl3-gp", u_invept_vec, 13);
  if (ept_cap & (1ull << 32)) expect("invvpid-cpl3-gp", u_invvpid_vec, 13);

  expect("vmptrst-compat-mode-ud", compat(compat_probe_0), 6);
  expect("vmxoff-compat-mode-ud", compat(compat_probe_1), 6);
  expect("vmcall-compat-mode-ud", compat(compat_probe_2), 6);
  expect("vmclear-compat-mode-ud", compat(compat_probe_3), 6);
  (void)compat_scratch;

  /* VMXOFF: leaves VMX operation; VMX instructions are #UD again */
  expect("vmxoff", vmxoff(), 0);
  expect("vmread-after-vmxoff-ud", ud_vmread(), 6);
  expect("vmxon-again", vmxon(pa_vmxon), 0);
  vmptrst(&v);
  expect("vmxon-no-current-vmcs", v, ~0ull);
  /* last: Bochs 2.7 stops with "VMCALL: not implemented yet" on VMCALL in VMX root operation */
  vmptrld(pa1);
  STATUS("vmcall-in-root", ({ u8 cf, zf; __asm__ volatile("vmcall; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) :: "cc", "memory"); vmx_status_(cf, zf); }),
         VMFAIL(VMERR_VMCALL_ROOT));
  vmxt_finish("instr");
}
