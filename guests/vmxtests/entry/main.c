/* vmxtests/entry: VM-entry checks, one broken field at a time on an otherwise valid VMCS.
   Controls (SDM 27.2.1) and host state (27.2.2-27.2.4) fail VMLAUNCH with VMfailValid error 7 / 8;
   guest state (27.3.1) fails VM entry with exit reason 33 | bit 31 and qualification 0 (4 for
   a bad VMCS link pointer, SDM 27.8); MSR loading (27.4) with reason
   34 | bit 31 and the 1-based index of the failing entry as qualification. */
#include "vmxt.h"

GUEST(g_vmcall, "vmcall\n hlt");
GUEST(g_ud2, "ud2\n hlt");
GUEST(g_after_trap, "vmcall\n hlt");
GUEST(g_rdmsr_vmcall, "mov $0x175, %ecx\n rdmsr\n vmcall\n hlt");

/* Virtual-8086 L2 code (copied to V86_BASE; offsets: CPUID 3, INT 21H 5, IN 80H 7, IN 81H 9,
   OUTSB 11, HLT 12) */
__asm__(".pushsection .rodata\n.globl v86_code, v86_code_end\nv86_code:\n.code16\n"
        " mov $0x1234, %ax\n cpuid\n int $0x21\n inb $0x80, %al\n inb $0x81, %al\n outsb\n hlt\n"
        ".code64\nv86_code_end:\n.popsection");
extern char v86_code[], v86_code_end[];

static char namebuf[96];
static const char *cat(const char *a, const char *b) {
  int n = 0;
  while (*a && n < 70) namebuf[n++] = *a++;
  while (*b && n < 95) namebuf[n++] = *b++;
  namebuf[n] = 0;
  return namebuf;
}
enum { K_CTL = 7, K_HOST = 8, K_GUEST = 33, K_MSR = 34, K_OK = 18 };
static void result(const char *name, int kind, u64 qual) {
  long r = run_guest();
  if (kind == K_CTL || kind == K_HOST) {
    expect(name, (u64)r, (u64)-2);
    if (r == -2) expect(cat(name, " error"), vmread(VM_INSTR_ERROR), kind);
  } else if (kind == K_OK) {
    expect(name, (u64)r, EXIT_VMCALL);
  } else {
    expect(name, (u64)r, EXIT_FAILED | kind);
    if (r == (long)(EXIT_FAILED | kind)) expect(cat(name, " qualification"), vmread(EXIT_QUAL), qual);
  }
}
/* CASE(name, kind, qualification, statements that break one field) */
#define CASE(name, kind, qual, ...) do { vmcs_default(vmcs1, g_vmcall); __VA_ARGS__; result(name, kind, qual); } while (0)

/* ---- virtual-8086 guests (SDM 27.3.1.2 / 27.3.1.4): RFLAGS.VM = 1 needs CS, SS, DS, ES, FS, GS
   with base = selector << 4, limit FFFFH, access rights F3H, CR0.PE = 1 and no IA-32e mode. The
   L2 runs with 32-bit paging (4 MiB pages, user), its own TSS whose I/O bitmap allows port 80H
   and denies 81H, CS = SS = DS = ES = FS = GS = 2000H (code copied to 20000H). ---- */
#define V86_SEG 0x2000u
#define V86_BASE (V86_SEG << 4)
static u32 v86_pd[1024] __attribute__((aligned(4096)));
static u8 v86_tss[0x68 + 0x20] __attribute__((aligned(16)));
static void v86_guest(u64 rip, u32 iopl) {
  vmcs_default(vmcs1, g_vmcall);
  for (int i = 0; i < 1024; i++) v86_pd[i] = (i < 4) ? ((u32)i << 22) | 0x87 : 0;   /* P RW U PS */
  memcpy((void *)(uptr)V86_BASE, v86_code, (u64)(v86_code_end - v86_code));
  memset(v86_tss, 0, sizeof v86_tss);
  *(u16 *)(v86_tss + 0x66) = 0x68;
  v86_tss[0x68 + 0x81 / 8] = 1u << (0x81 % 8);
  vmw(ENTRY_CTLS, ctl(ENTRY_LOAD_EFER, msr_entry));
  vmw(GUEST_EFER, l1_efer & ~0x500ull);                 /* LME, LMA = 0 */
  vmw(GUEST_CR3, (uptr)v86_pd);
  vmw(GUEST_CR4, cr4_fixed0 | (1u << 4) | (1u << 13));  /* PSE, VMXE */
  for (int s = SEG_ES; s <= SEG_GS; s++) {
    vmw(GUEST_ES_SEL + 2 * s, V86_SEG); vmw(GUEST_ES_BASE + 2 * s, V86_BASE);
    vmw(GUEST_ES_LIMIT + 2 * s, 0xffff); vmw(GUEST_ES_AR + 2 * s, 0xf3);
  }
  vmw(GUEST_TR_BASE, (uptr)v86_tss); vmw(GUEST_ES_LIMIT + 2 * SEG_TR, 0x68 + 0x11); vmw(GUEST_TR_AR, 0x8b);
  vmw(GUEST_RIP, rip); vmw(GUEST_RSP, 0xfff0);
  vmw(GUEST_RFLAGS, 0x20002 | (iopl << 12));
}
static void v86_fail(const char *name) {
  long r = run_guest();
  expect(name, (u64)r, EXIT_FAILED | EXIT_BAD_GUEST);
  if (r == (long)(EXIT_FAILED | EXIT_BAD_GUEST)) expect(cat(name, " qualification"), vmread(EXIT_QUAL), 0);
}
static void v86_checks(void) {
  long r;
  v86_guest(0, 0);
  guest_regs[G_RAX] = 0;
  r = run_guest();
  expect("v86-entry-cpuid-exit", (u64)r, EXIT_CPUID);
  if (r != EXIT_CPUID) return;
  expect("v86-cpuid rip", vmread(GUEST_RIP), 3);
  expect("v86-cpuid instruction-length", vmread(EXIT_INSTR_LEN), 2);
  expect("v86-ran-mov-ax", guest_regs[G_RAX] & 0xffff, 0x1234);
  expect("v86-saved-rflags", vmread(GUEST_RFLAGS), 0x20002);
  expect("v86-saved-cs-selector", vmread(GUEST_CS_SEL), V86_SEG);
  expect("v86-saved-cs-base", vmread(GUEST_CS_BASE), V86_BASE);
  expect("v86-saved-cs-limit", vmread(GUEST_CS_LIMIT), 0xffff);
  expect("v86-saved-cs-access-rights", vmread(GUEST_CS_AR), 0xf3);
  expect("v86-saved-ss-access-rights", vmread(GUEST_SS_AR), 0xf3);
  /* IOPL 0: INT n is #GP(0) (SDM 20.2.7), an exception-bitmap exit */
  vmw(GUEST_RIP, 5);
  expect("v86-int-iopl0-gp", (u64)run_guest(), EXIT_EXCEPTION);
  expect("v86-int-iopl0-gp interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000b0d);
  expect("v86-int-iopl0-gp error-code", vmread(EXIT_INTR_ERR), 0);
  expect("v86-int-iopl0-gp rip", vmread(GUEST_RIP), 5);
  /* HLT at CPL 3 is #GP(0) before HLT exiting (SDM 26.1.1) */
  vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_HLT_EXIT);
  vmw(GUEST_RIP, 12);
  expect("v86-hlt-gp-before-hlt-exiting", (u64)run_guest(), EXIT_EXCEPTION);
  expect("v86-hlt-gp interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000b0d);
  /* I/O: in virtual-8086 mode the TSS I/O bitmap is consulted whatever IOPL (SDM 20.2.8.1);
     a denied port is #GP(0) ahead of I/O exiting (SDM 26.1.1) */
  v86_guest(7, 3);
  vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_UNCOND_IO);
  expect("v86-in-allowed-port-io-exit", (u64)run_guest(), EXIT_IO);
  expect("v86-in-allowed-port qualification", vmread(EXIT_QUAL), 0x800048);
  expect("v86-in-saved-rflags-iopl3", vmread(GUEST_RFLAGS), 0x23002);
  vmw(GUEST_RIP, 9);
  expect("v86-in-denied-port-gp", (u64)run_guest(), EXIT_EXCEPTION);
  expect("v86-in-denied-port interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000b0d);
  vmw(GUEST_RIP, 11);
  guest_regs[G_RSI] = 0x10; guest_regs[G_RDX] = 0x80;
  expect("v86-outsb-io-exit", (u64)run_guest(), EXIT_IO);
  expect("v86-outsb qualification", vmread(EXIT_QUAL), 0x800010);
  expect("v86-outsb guest-linear-address", vmread(GUEST_LINEAR_ADDR), V86_BASE + 0x10);
  if ((vmx_basic >> 54) & 1) expect("v86-outsb instruction-info", vmread(EXIT_INSTR_INFO) & 0x38380, 0x18000);
  /* VM-entry checks on a virtual-8086 guest: exit reason 33 | bit 31 */
  v86_guest(0, 0); vmw(GUEST_CS_AR, 0xfb); v86_fail("v86-guest-cs-ar-not-f3");
  v86_guest(0, 0); vmw(GUEST_ES_BASE + 2 * SEG_DS, V86_BASE + 1); v86_fail("v86-guest-ds-base-not-selector-x16");
  v86_guest(0, 0); vmw(GUEST_ES_LIMIT + 2 * SEG_FS, 0xfffff); v86_fail("v86-guest-fs-limit-not-ffff");
  v86_guest(0, 0); vmw(ENTRY_CTLS, ctl(ENTRY_LOAD_EFER | ENTRY_IA32E, msr_entry)); vmw(GUEST_EFER, l1_efer);
  vmw(GUEST_CR4, cr4_fixed0 | (1u << 5) | (1u << 13)); v86_fail("v86-guest-ia32e-mode");
  if (vmx_misc & (1u << 6)) { v86_guest(0, 0); vmw(GUEST_ACTIVITY, 1); v86_fail("v86-guest-hlt-state-ss-dpl3"); }
}

static u32 allowed1(u32 msr) { return (u32)(rdmsr(msr) >> 32); }
static u32 allowed0(u32 msr) { return (u32)rdmsr(msr); }
static u32 highest_zero(u32 m) { for (int b = 31; b >= 0; b--) if (!(m & (1u << b))) return 1u << b; return 0; }
static u32 lowest_one(u32 m) { return m & -m; }

static u64 msr_area[8][2] __attribute__((aligned(16)));
static u64 msr_store[4][2] __attribute__((aligned(16)));
static u64 msr_exitload[4][2] __attribute__((aligned(16)));
static u8 bitmap[4096] __attribute__((aligned(4096)));
static u8 link_vmcs[4096] __attribute__((aligned(4096)));

int main(void) {
  vmxt_init("entry");
  vmxt_vmxon();
  u32 proc2_cap = (u32)(rdmsr(MSR_VMX_PROCBASED2) >> 32);
  int have2 = (allowed1(msr_proc) >> 31) & 1;

  CASE("baseline-valid-vmcs", K_OK, 0, );

  /* ---- VM-execution, exit and entry control fields: error 7 ---- */
  CASE("ctl-pin-reserved-1", K_CTL, 0, vmw(PIN_CTLS, vmread(PIN_CTLS) | highest_zero(allowed1(msr_pin))));
  CASE("ctl-proc-default1-cleared", K_CTL, 0, vmw(PROC_CTLS, vmread(PROC_CTLS) & ~lowest_one(allowed0(msr_proc))));
  CASE("ctl-exit-default1-cleared", K_CTL, 0, vmw(EXIT_CTLS, vmread(EXIT_CTLS) & ~lowest_one(allowed0(msr_exit))));
  CASE("ctl-entry-default1-cleared", K_CTL, 0, vmw(ENTRY_CTLS, vmread(ENTRY_CTLS) & ~lowest_one(allowed0(msr_entry))));
  if (have2) CASE("ctl-proc2-reserved-1", K_CTL, 0, vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY); vmw(PROC_CTLS2, highest_zero(proc2_cap)));
  CASE("ctl-cr3-target-count", K_CTL, 0, vmw(CR3_TARGET_COUNT, ((vmx_misc >> 16) & 0x1ff) + 1));
  if (allowed1(msr_proc) & PROC_IO_BITMAPS)
    CASE("ctl-io-bitmap-unaligned", K_CTL, 0, vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_IO_BITMAPS); vmw(IO_BITMAP_A, (uptr)bitmap + 8); vmw(IO_BITMAP_B, (uptr)bitmap));
  if (allowed1(msr_proc) & PROC_MSR_BITMAPS) {
    CASE("ctl-msr-bitmap-unaligned", K_CTL, 0, vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_MSR_BITMAPS); vmw(MSR_BITMAP, (uptr)bitmap + 0x800));
    CASE("ctl-msr-bitmap-beyond-maxphyaddr", K_CTL, 0, vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_MSR_BITMAPS); vmw(MSR_BITMAP, 1ull << 52));
  }
  if (have2 && (proc2_cap & PROC2_EPT)) {
    ept_identity();
#define EPT_ON vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY); vmw(PROC_CTLS2, PROC2_EPT)
    CASE("ctl-ept-valid", K_OK, 0, EPT_ON; vmw(EPT_POINTER, eptp_of(ept_pml4, 0)));
    CASE("ctl-eptp-memory-type-2", K_CTL, 0, EPT_ON; vmw(EPT_POINTER, eptp_of(ept_pml4, 0) & ~7ull) ; vmw(EPT_POINTER, ((uptr)ept_pml4) | (3 << 3) | 2));
    CASE("ctl-eptp-walk-length-1", K_CTL, 0, EPT_ON; vmw(EPT_POINTER, ((uptr)ept_pml4) | 6));
    CASE("ctl-eptp-reserved-bit-7", K_CTL, 0, EPT_ON; vmw(EPT_POINTER, eptp_of(ept_pml4, 0) | 0x80));
    if (!(ept_cap & (1u << 21)))
      CASE("ctl-eptp-ad-unsupported", K_CTL, 0, EPT_ON; vmw(EPT_POINTER, eptp_of(ept_pml4, 1)));
  }
  if (have2 && (proc2_cap & PROC2_UNRESTRICTED))
    CASE("ctl-unrestricted-without-ept", K_CTL, 0, vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY); vmw(PROC_CTLS2, PROC2_UNRESTRICTED));
  if (have2 && (proc2_cap & PROC2_VPID)) {
    CASE("ctl-vpid-valid", K_OK, 0, vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY); vmw(PROC_CTLS2, PROC2_VPID); vmw(VPID, 1));
    CASE("ctl-vpid-zero", K_CTL, 0, vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY); vmw(PROC_CTLS2, PROC2_VPID); vmw(VPID, 0));
  }
  if ((allowed1(msr_exit) & EXIT_SAVE_TIMER) && !(allowed0(msr_pin) & PIN_PREEMPT_TIMER))
    CASE("ctl-save-timer-without-timer", K_CTL, 0, vmw(EXIT_CTLS, vmread(EXIT_CTLS) | EXIT_SAVE_TIMER));
  CASE("ctl-entry-intr-reserved-type", K_CTL, 0, vmw(ENTRY_INTR_INFO, 0x80000000u | (1u << 8) | 0x20));
  CASE("ctl-entry-intr-hw-exception-vector-32", K_CTL, 0, vmw(ENTRY_INTR_INFO, 0x80000000u | (3u << 8) | 32));
  CASE("ctl-entry-intr-error-code-for-ud", K_CTL, 0, vmw(ENTRY_INTR_INFO, 0x80000000u | (1u << 11) | (3u << 8) | 6));
  CASE("ctl-entry-intr-reserved-bits", K_CTL, 0, vmw(ENTRY_INTR_INFO, 0x80000000u | (1u << 20) | 32));
  CASE("ctl-entry-intr-nmi-not-vector-2", K_CTL, 0, vmw(ENTRY_INTR_INFO, 0x80000000u | (2u << 8) | 3));
  if (!(vmx_misc & (1u << 30)))   /* IA32_VMX_MISC[30]: length 0 allowed (Bochs) */
    CASE("ctl-entry-intr-swint-length-0", K_CTL, 0, vmw(ENTRY_INTR_INFO, 0x80000000u | (4u << 8) | 0x40); vmw(ENTRY_INSTR_LEN, 0));
  CASE("ctl-entry-msr-load-unaligned", K_CTL, 0, vmw(ENTRY_MSR_LOAD_COUNT, 1); vmw(ENTRY_MSR_LOAD_ADDR, (uptr)msr_area + 4));
  CASE("ctl-exit-msr-store-unaligned", K_CTL, 0, vmw(EXIT_MSR_STORE_COUNT, 1); vmw(EXIT_MSR_STORE_ADDR, (uptr)msr_area + 8));

  /* ---- host-state area: error 8 ---- */
  CASE("host-cr0-ne-clear", K_HOST, 0, vmw(HOST_CR0, read_cr0() & ~0x20ull));
  CASE("host-cr4-vmxe-clear", K_HOST, 0, vmw(HOST_CR4, read_cr4() & ~(1ull << 13)));
  CASE("host-cr4-pae-clear-64bit-host", K_HOST, 0, vmw(HOST_CR4, read_cr4() & ~(1ull << 5)));
  CASE("host-cr3-beyond-maxphyaddr", K_HOST, 0, vmw(HOST_CR3, read_cr3() | (1ull << 52)));
  CASE("host-cs-null", K_HOST, 0, vmw(HOST_CS_SEL, 0));
  CASE("host-tr-null", K_HOST, 0, vmw(HOST_TR_SEL, 0));
  CASE("host-ss-ti-set", K_HOST, 0, vmw(HOST_SS_SEL, SEL_DATA | 4));
  CASE("host-ds-rpl-set", K_HOST, 0, vmw(HOST_DS_SEL, SEL_DATA | 3));
  CASE("host-rip-noncanonical", K_HOST, 0, vmw(HOST_RIP, 0x4000000000000000ull));
  CASE("host-fs-base-noncanonical", K_HOST, 0, vmw(HOST_FS_BASE, 0x8000000000000000ull));
  CASE("host-gdtr-base-noncanonical", K_HOST, 0, vmw(HOST_GDTR_BASE, 0x4000000000001000ull));
  CASE("host-sysenter-esp-noncanonical", K_HOST, 0, vmw(HOST_SYSENTER_ESP, 0x4000000000002000ull));
  CASE("host-address-space-size-0-in-ia32e", K_HOST, 0, vmw(EXIT_CTLS, vmread(EXIT_CTLS) & ~EXIT_HOST_64));
  CASE("host-efer-reserved-bit", K_HOST, 0, vmw(HOST_EFER, l1_efer | 2));
  CASE("host-efer-lma-clear", K_HOST, 0, vmw(HOST_EFER, l1_efer & ~0x500ull));

  if (allowed1(msr_exit) & (1u << 19))
    CASE("host-pat-reserved-type", K_HOST, 0, vmw(EXIT_CTLS, vmread(EXIT_CTLS) | (1u << 19)); vmw(HOST_PAT, 0x0007040600070403ull));

  /* ---- guest-state area: exit reason 33 | bit 31 ---- */
  CASE("guest-cr0-pe-clear-pg-set", K_GUEST, 0, vmw(GUEST_CR0, read_cr0() & ~1ull));
  CASE("guest-cr4-vmxe-clear", K_GUEST, 0, vmw(GUEST_CR4, read_cr4() & ~(1ull << 13)));
  CASE("guest-cr3-beyond-maxphyaddr", K_GUEST, 0, vmw(GUEST_CR3, read_cr3() | (1ull << 52)));
  CASE("guest-rflags-bit1-clear", K_GUEST, 0, vmw(GUEST_RFLAGS, 0));
  CASE("guest-rflags-reserved-bit15", K_GUEST, 0, vmw(GUEST_RFLAGS, 2 | (1u << 15)));
  CASE("guest-rip-noncanonical", K_GUEST, 0, vmw(GUEST_RIP, 0x4000000000000000ull));
  {
    /* RIP 0x0000800000000000: bits 63:N identical only if N = 57 (CPUID 0x80000008 EAX[15:8]);
       then VM entry succeeds and the fetch faults (CR4.LA57 = 0): #GP, exception exit */
    u32 a, b, c, d;
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    u32 n = (a >> 8) & 0xff;
    vmcs_default(vmcs1, g_vmcall);
    vmw(GUEST_RIP, 0x0000800000000000ull);
    long r = run_guest();
    if (n == 57) {
      expect("guest-rip-48bit-noncanonical-la57-cpu-enters", (u64)r, EXIT_EXCEPTION);
      expect("guest-rip-48bit-noncanonical-la57-cpu-enters gp", vmread(EXIT_INTR_INFO) & 0xff, 13);
    } else expect("guest-rip-48bit-noncanonical", (u64)r, EXIT_FAILED | EXIT_BAD_GUEST);
  }
  CASE("guest-cs-data-type", K_GUEST, 0, vmw(GUEST_CS_AR, 0xA093));
  CASE("guest-cs-not-present", K_GUEST, 0, vmw(GUEST_CS_AR, 0xA01B));
  CASE("guest-cs-l-and-d", K_GUEST, 0, vmw(GUEST_CS_AR, 0xE09B));
  CASE("guest-ss-dpl-ne-rpl", K_GUEST, 0, vmw(GUEST_SS_AR, 0xC0F3));
  CASE("guest-tr-available-tss", K_GUEST, 0, vmw(GUEST_TR_AR, 0x89));
  CASE("guest-tr-ti-set", K_GUEST, 0, vmw(GUEST_TR_SEL, SEL_TSS | 4));
  CASE("guest-tr-unusable", K_GUEST, 0, vmw(GUEST_TR_AR, 0x1008B));
  CASE("guest-ldtr-usable-wrong-type", K_GUEST, 0, vmw(GUEST_ES_AR + 2 * SEG_LDTR, 0x83));
  CASE("guest-gdtr-base-noncanonical", K_GUEST, 0, vmw(GUEST_GDTR_BASE, 0x4000000000000000ull));
  CASE("guest-gdtr-limit-above-0xffff", K_GUEST, 0, vmw(GUEST_GDTR_LIMIT, 0x10000));
  CASE("guest-activity-state-4", K_GUEST, 0, vmw(GUEST_ACTIVITY, 4));
  CASE("guest-sti-blocking-if-clear", K_GUEST, 0, vmw(GUEST_INTERRUPTIBILITY, 1));
  CASE("guest-interruptibility-reserved", K_GUEST, 0, vmw(GUEST_INTERRUPTIBILITY, 1u << 5));
  CASE("guest-sti-and-movss-blocking", K_GUEST, 0, vmw(GUEST_RFLAGS, 0x202); vmw(GUEST_INTERRUPTIBILITY, 3));
  CASE("guest-efer-lma-without-ia32e-entry", K_GUEST, 0, vmw(GUEST_EFER, l1_efer & ~0x400ull));
  CASE("guest-efer-reserved-bit", K_GUEST, 0, vmw(GUEST_EFER, l1_efer | 2));
  CASE("guest-ia32e-without-cr4-pae", K_GUEST, 0, vmw(GUEST_CR4, read_cr4() & ~0x20ull));
  CASE("guest-link-pointer-unaligned", K_GUEST, 4, vmw(VMCS_LINK_PTR, (uptr)link_vmcs + 0x10));
  CASE("guest-link-pointer-bad-revision", K_GUEST, 4, *(u32 *)link_vmcs = rev_id ^ 1; vmw(VMCS_LINK_PTR, (uptr)link_vmcs));
  if (have2 && (proc2_cap & PROC2_SHADOW_VMCS)) {
    /* VMCS shadowing: VMREAD/VMWRITE bitmap addresses (error 7), the link pointer must name a
       shadow VMCS (bit 31 of its revision) or be ~0 */
#define SHADOW_ON vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY); vmw(PROC_CTLS2, PROC2_SHADOW_VMCS); \
    vmw(VMREAD_BITMAP, (uptr)bitmap); vmw(VMWRITE_BITMAP, (uptr)bitmap)
    CASE("shadowing-link-pointer-none", K_OK, 0, SHADOW_ON);
    CASE("ctl-vmread-bitmap-unaligned", K_CTL, 0, SHADOW_ON; vmw(VMREAD_BITMAP, (uptr)bitmap + 0x10));
    CASE("guest-link-pointer-not-shadow-vmcs", K_GUEST, 4, SHADOW_ON; *(u32 *)link_vmcs = rev_id; vmw(VMCS_LINK_PTR, (uptr)link_vmcs));
    CASE("shadowing-link-pointer-shadow-vmcs", K_OK, 0, SHADOW_ON; *(u32 *)link_vmcs = rev_id | 0x80000000u; vmw(VMCS_LINK_PTR, (uptr)link_vmcs));
    CASE("guest-link-pointer-shadow-vmcs-without-shadowing", K_GUEST, 4, *(u32 *)link_vmcs = rev_id | 0x80000000u; vmw(VMCS_LINK_PTR, (uptr)link_vmcs));
    *(u32 *)link_vmcs = rev_id;
  }
  if (allowed1(msr_entry) & (1u << 14))
    CASE("guest-pat-reserved-type", K_GUEST, 0, vmw(ENTRY_CTLS, vmread(ENTRY_CTLS) | (1u << 14)); vmw(GUEST_PAT, 0x0007040600070402ull));

  /* ---- MSR loading on VM entry: exit reason 34 | bit 31, qualification = entry index (1-based) ---- */
  msr_area[0][0] = 0x174; msr_area[0][1] = 0x10;   /* IA32_SYSENTER_CS: loads fine */
  msr_area[1][0] = 0xC0000100; msr_area[1][1] = 0; /* IA32_FS_BASE may not be loaded this way (SDM 27.4) */
  CASE("msr-load-fs-base-entry-2", K_MSR, 2, vmw(ENTRY_MSR_LOAD_COUNT, 2); vmw(ENTRY_MSR_LOAD_ADDR, (uptr)msr_area));
  msr_area[1][0] = 0x175 | (1ull << 32);           /* reserved bits 63:32 of the first quadword */
  CASE("msr-load-reserved-bits-entry-2", K_MSR, 2, vmw(ENTRY_MSR_LOAD_COUNT, 2); vmw(ENTRY_MSR_LOAD_ADDR, (uptr)msr_area));
  msr_area[1][0] = 0x808;                          /* x2APIC MSR range 0x800-0x8ff */
  u32 a1, b1, c1, d1;
  cpuid(1, 0, &a1, &b1, &c1, &d1);
  if (c1 & (1u << 21))   /* the x2APIC check applies when the CPU supports x2APIC mode */
    CASE("msr-load-x2apic-entry-2", K_MSR, 2, vmw(ENTRY_MSR_LOAD_COUNT, 2); vmw(ENTRY_MSR_LOAD_ADDR, (uptr)msr_area));
  msr_area[0][0] = MSR_EFER; msr_area[0][1] = l1_efer | 2;   /* WRMSR would #GP */
  CASE("msr-load-gp-entry-1", K_MSR, 1, vmw(ENTRY_MSR_LOAD_COUNT, 2); vmw(ENTRY_MSR_LOAD_ADDR, (uptr)msr_area));

  /* a valid list is loaded: the L2 reads IA32_SYSENTER_ESP = value from the entry list; the
     exit MSR-store list saves the L2's value, the exit MSR-load list loads L1's */
  msr_area[0][0] = 0x175; msr_area[0][1] = 0x12345678;
  msr_area[1][0] = 0x174; msr_area[1][1] = 0x20;
  msr_store[0][0] = 0x174; msr_store[0][1] = 0;
  msr_exitload[0][0] = 0xC0000102; msr_exitload[0][1] = 0xabcdef000ull;   /* IA32_KERNEL_GS_BASE */
  vmcs_default(vmcs1, g_rdmsr_vmcall);
  vmw(ENTRY_MSR_LOAD_COUNT, 2); vmw(ENTRY_MSR_LOAD_ADDR, (uptr)msr_area);
  vmw(EXIT_MSR_STORE_COUNT, 1); vmw(EXIT_MSR_STORE_ADDR, (uptr)msr_store);
  vmw(EXIT_MSR_LOAD_COUNT, 1); vmw(EXIT_MSR_LOAD_ADDR, (uptr)msr_exitload);
  vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_MSR_BITMAPS); vmw(MSR_BITMAP, (uptr)bitmap);   /* no RDMSR exits */
  guest_regs[G_RAX] = guest_regs[G_RDX] = 0;
  expect("msr-lists-vmcall", run_guest(), EXIT_VMCALL);
  expect("msr-load-list-applied", guest_regs[G_RAX], 0x12345678);
  expect("msr-store-list-saved", msr_store[0][1], 0x20);
  expect("msr-exit-load-list-applied", rdmsr(0xC0000102), 0xabcdef000ull);
  expect("msr-host-sysenter-cs-loaded", rdmsr(0x174), 0);

  /* event injection (SDM 27.6): delivered through the L2's IDT (L1's handlers, running in L2,
     resume at fixup_ip = g_after_trap); an injected exception is not subject to the exception
     bitmap, which is all ones here */
  vmcs_default(vmcs1, g_vmcall);
  vmw(ENTRY_INTR_INFO, 0x80000000u | (3u << 8) | 6);   /* #UD */
  fixup_ip = (uptr)g_after_trap; last_trap.vec = 0xff;
  expect("inject-ud", run_guest(), EXIT_VMCALL);
  expect("inject-ud vector in l2", last_trap.vec, 6);
  expect("inject-ud rip in l2", last_trap.ip, (uptr)g_vmcall);
  expect("inject-ud valid bit cleared", vmread(ENTRY_INTR_INFO) >> 31, 0);
  vmcs_default(vmcs1, g_vmcall);
  vmw(ENTRY_INTR_INFO, 0x80000000u | (1u << 11) | (3u << 8) | 13);   /* #GP(0x1234) */
  vmw(ENTRY_EXC_ERR, 0x1234);
  fixup_ip = (uptr)g_after_trap; last_trap.vec = 0xff;
  expect("inject-gp-error-code", run_guest(), EXIT_VMCALL);
  expect("inject-gp-error-code vector in l2", last_trap.vec, 13);
  expect("inject-gp-error-code error in l2", last_trap.err, 0x1234);
  vmcs_default(vmcs1, g_vmcall);
  vmw(ENTRY_INTR_INFO, 0x80000000u | (4u << 8) | 0x41);   /* INT 0x41, length 2: returns after it */
  vmw(ENTRY_INSTR_LEN, 2);
  fixup_ip = (uptr)g_after_trap; last_trap.vec = 0xff;
  expect("inject-software-interrupt", run_guest(), EXIT_VMCALL);
  expect("inject-software-interrupt vector in l2", last_trap.vec, 0x41);
  expect("inject-software-interrupt return rip", last_trap.ip, (uptr)g_vmcall + 2);
  fixup_ip = 0;

  v86_checks();

  /* a VM-entry failure for guest state does not launch the VMCS: VMLAUNCH again works */
  vmcs_default(vmcs1, g_vmcall);
  vmw(GUEST_RFLAGS, 0);
  expect("failed-entry-reason", run_guest(), EXIT_FAILED | EXIT_BAD_GUEST);
  vmw(GUEST_RFLAGS, 2);
  expect("failed-entry-vmcs-still-clear", vm_enter(guest_regs, 0), 0);
  expect("failed-entry-then-launch-exit", vmread(EXIT_REASON), EXIT_VMCALL);
  vmxt_finish("entry");
}
