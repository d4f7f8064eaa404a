/* Shared harness of the VMX test programs (guests/vmxtests/<name>): checks printed as
   `PASS name` / `FAIL name: got X want Y`, VMX setup, a default VMCS whose L2 is a 64-bit guest
   running L1's own code in L1's address space (CR3, GDT, IDT shared), and L2 entry through the
   minivisor's trampoline (minivisor/vmentry.S). */
#pragma once
#include "rt.h"
#include "vmx.h"

/* ---- checks ---- */
void expect(const char *name, u64 got, u64 want);   /* PASS if got == want */
void expect_true(const char *name, int cond, u64 got);
extern const char *check_prefix;   /* printed before each check name (default "") */
#define note(...) do { puts_("info: "); printf(__VA_ARGS__); putchar_('\n'); } while (0)   /* an "info:" line */
int vmxt_finish(const char *prog) __attribute__((noreturn));   /* summary line, exit(0 / 1) */

/* ---- VMX state ---- */
extern u64 vmx_basic, vmx_misc, ept_cap, cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
extern u32 rev_id;            /* VMCS revision identifier */
extern int true_ctls;         /* IA32_VMX_BASIC[55] */
extern u32 msr_pin, msr_proc, msr_exit, msr_entry;   /* the (TRUE_) control capability MSRs */
extern u8 vmxon_region[4096], vmcs1[4096], vmcs2[4096], vmcs3[4096];
extern u8 l2_stack[16384];
extern u64 l1_efer;

void vmxt_init(const char *prog);   /* CPUID.VMX, feature control, CR0/CR4 fixed bits, IDT, TSS */
void vmxt_vmxon(void);              /* VMXON (prints FAIL and exits if it fails) */
u32 ctl(u32 want, u32 msr);         /* vmx_adjust */
int has2(u32 bit);                  /* secondary control bit allowed-1 */

/* Fresh VMCS (VMCLEAR, revision, VMPTRLD) with valid controls, host state and a 64-bit guest at
   rip on l2_stack. Exception bitmap: all ones (any L2 exception exits). */
void vmcs_default(u8 *vmcs, void *rip);
void vmcs_host_state(void);
void vmcs_guest_state(void *rip);
void vmw(u64 field, u64 value);     /* VMWRITE, FAIL line if it fails */

/* Runs the current VMCS: VMLAUNCH the first time after vmcs_default, VMRESUME after. Returns
   the basic exit reason (with bit 31 for a VM-entry failure), or -1 VMfailInvalid, -2
   VMfailValid (VM-instruction error in VM_INSTR_ERROR). guest_regs: the L2's GPRs (RAX, RBX,
   RCX, RDX, RSI, RDI, RBP, R8..R15). */
extern u64 guest_regs[15];
extern int launched;
enum { G_RAX, G_RBX, G_RCX, G_RDX, G_RSI, G_RDI, G_RBP, G_R8 };
long run_guest(void);
long run_at(void *rip);             /* GUEST_RIP = rip, RSP = top of l2_stack, then run_guest */
int vm_enter(u64 *gregs, int launched);

/* A piece of L2 code: GUEST(name, "insn\n insn") defines `name` in .text. */
#define GUEST(name, body) extern char name[]; \
  __asm__(".pushsection .text\n.globl " #name "\n" #name ":\n" body "\n.popsection");

/* Identity EPT of the first 1 GiB (2 MiB pages, WB, RWX) in ept_pml4: ept_identity() builds it,
   ept_pte4k() splits the 2 MiB page holding gpa into 4 KiB pages and returns gpa's entry. */
extern u64 ept_pml4[512], ept_pdpt[512], ept_pd[512];
void ept_identity(void);
u64 *ept_pte4k(u64 gpa);
u64 eptp_of(u64 *pml4, int ad);
