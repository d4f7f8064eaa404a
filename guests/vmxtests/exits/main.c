/* vmxtests/exits: exit conditions and what the VM exit reports (SDM 26.1-26.2 conditions,
   28.2 exit information: reason, qualification Tables 28-1..28-5, instruction length,
   interruption information 25.9.2, guest RIP at the instruction). The L2 is a 64-bit guest
   running pieces of code below in L1's address space (no EPT). */
#include "vmxt.h"

GUEST(g_cpuid, "cpuid\n hlt");
GUEST(g_hlt, "hlt\n hlt");
GUEST(g_vmcall, "vmcall\n hlt");
GUEST(g_invlpg, "invlpg (%rax)\n hlt");
GUEST(g_rdtsc, "rdtsc\n hlt");
GUEST(g_rdtsc_vmcall, "rdtsc\n vmcall\n hlt");
GUEST(g_out80, "outb %al, $0x80\n hlt");
GUEST(g_inw_dx, "mov $0x1234, %dx\n.globl g_inw_dx_at\ng_inw_dx_at: inw %dx, %ax\n hlt");
GUEST(g_outl_dx, "mov $0xcf8, %dx\n.globl g_outl_dx_at\ng_outl_dx_at: outl %eax, %dx\n hlt");
GUEST(g_rep_outsb, "mov $0x3f8, %dx\n.globl g_rep_outsb_at\ng_rep_outsb_at: rep outsb\n hlt");
GUEST(g_insb, "mov $0x80, %dx\n.globl g_insb_at\ng_insb_at: insb\n hlt");
GUEST(g_io_bitmap, "inb $0x71, %al\n.globl g_io_bitmap_at\ng_io_bitmap_at: inb $0x70, %al\n hlt");
GUEST(g_io_cross, "inw $0x6f, %ax\n hlt");
GUEST(g_io_b, "mov $0x8001, %dx\n.globl g_io_b_at\ng_io_b_at: inb %dx, %al\n hlt");
GUEST(g_msr, "mov $0x174, %ecx\n rdmsr\n.globl g_msr_at\ng_msr_at: mov $0x10, %ecx\n rdmsr\n hlt");
GUEST(g_wrmsr, "mov $0xC0000102, %ecx\n xor %eax, %eax\n xor %edx, %edx\n wrmsr\n hlt");
GUEST(g_rdmsr_outside, "mov $0x40000000, %ecx\n rdmsr\n hlt");
GUEST(g_cr0_read, "mov %cr0, %rax\n vmcall\n hlt");
GUEST(g_cr0_ts, "mov %cr0, %rbx\n or $8, %rbx\n.globl g_cr0_ts_at\ng_cr0_ts_at: mov %rbx, %cr0\n vmcall\n hlt");
GUEST(g_clts, "clts\n vmcall\n hlt");
GUEST(g_lmsw, "lmsw %bx\n hlt");
GUEST(g_cr3_store, "mov %cr3, %rcx\n hlt");
GUEST(g_cr3_load, "mov %cr3, %rdx\n.globl g_cr3_load_at\ng_cr3_load_at: mov %rdx, %cr3\n vmcall\n hlt");
GUEST(g_cr4_write, "mov %cr4, %rsi\n xor $0x80, %rsi\n.globl g_cr4_write_at\ng_cr4_write_at: mov %rsi, %cr4\n hlt");
GUEST(g_cr8_load, "xor %eax, %eax\n.globl g_cr8_load_at\ng_cr8_load_at: mov %rax, %cr8\n hlt");
GUEST(g_cr8_store, "mov %cr8, %rsi\n hlt");
GUEST(g_ud2, "ud2\n hlt");
GUEST(g_gp, "mov $0x4000000000000000, %rax\n.globl g_gp_at\ng_gp_at: mov (%rax), %rax\n hlt");
GUEST(g_pf_read, "mov $0x40000000, %rax\n.globl g_pf_read_at\ng_pf_read_at: mov (%rax), %rbx\n hlt");
GUEST(g_pf_write, "mov $0x40001008, %rax\n movq $1, (%rax)\n hlt");
GUEST(g_int3, "int3\n hlt");
GUEST(g_ud2_handled, "ud2\n hlt");
GUEST(g_after_ud, "vmcall\n hlt");
GUEST(g_loop, "1: jmp 1b");
GUEST(g_nops, "nop\n nop\n hlt");
GUEST(g_sti, "sti\n nop\n.globl g_sti_at\ng_sti_at: hlt");
GUEST(g_vmread, "mov $0x681e, %rax\n.globl g_vmread_at\ng_vmread_at: vmread %rax, %rbx\n hlt");
GUEST(g_invd, "invd\n hlt");
GUEST(g_wbinvd, "wbinvd\n hlt");
GUEST(g_rdpmc, "xor %ecx, %ecx\n.globl g_rdpmc_at\ng_rdpmc_at: rdpmc\n hlt");
GUEST(g_movdr, "mov %dr7, %rdx\n hlt");
GUEST(g_movdr_to, "mov $0x400, %r9\n.globl g_movdr_to_at\ng_movdr_to_at: mov %r9, %dr0\n hlt");
GUEST(g_vmclear, "vmclear (%rax)\n hlt");
GUEST(g_vmptrld, "vmptrld (%rax)\n hlt");
GUEST(g_vmlaunch, "vmlaunch\n hlt");
GUEST(g_vmresume, "vmresume\n hlt");
GUEST(g_vmwrite, "mov $0x681e, %rax\n.globl g_vmwrite_at\ng_vmwrite_at: vmwrite %rcx, %rax\n hlt");
GUEST(g_vmxoff, "vmxoff\n hlt");
GUEST(g_invept, "mov $1, %ecx\n.globl g_invept_at\ng_invept_at: invept (%rax), %rcx\n hlt");
GUEST(g_invvpid, "mov $1, %ecx\n.globl g_invvpid_at\ng_invvpid_at: invvpid (%rax), %rcx\n hlt");
GUEST(g_vmptrst, "vmptrst (%rax)\n hlt");
GUEST(g_vmxon, "vmxon (%rax)\n hlt");

GUEST(g_invpcid, "invpcid 0x10(%rbx), %rcx\n vmcall\n hlt");
/* PAUSE loops: RCX counts the PAUSEs started; g_pause_gap waits ~4000 instructions between
   PAUSEs (far more than PLE_Gap = 100 TSC ticks) and ends with VMCALL */
GUEST(g_pause_loop, "xor %ecx, %ecx\n1: inc %ecx\n.globl g_pause_at\ng_pause_at: pause\n jmp 1b");
GUEST(g_pause_gap, "mov $20, %ebx\n1: pause\n mov $2000, %ecx\n2: dec %ecx\n jnz 2b\n dec %ebx\n jnz 1b\n vmcall\n hlt");
/* IRETQ to the next instruction (CS 0x38 = SEL_CODE64, SS 0x10 = SEL_DATA), then VMCALL; the
   _bad variant returns to CS 0xfff8 (beyond the GDT limit): #GP(0xfff8) at the IRETQ */
GUEST(g_iret_ok, "mov %rsp, %rax\n push $0x10\n push %rax\n pushfq\n push $0x38\n lea 1f(%rip), %rax\n push %rax\n iretq\n1: vmcall\n hlt");
GUEST(g_iret_bad, "mov %rsp, %rax\n push $0x10\n push %rax\n pushfq\n push $0xfff8\n lea 1f(%rip), %rax\n push %rax\n.globl g_iret_bad_at\ng_iret_bad_at: iretq\n1: vmcall\n hlt");

extern char g_pause_at[], g_iret_bad_at[];
extern char g_vmwrite_at[], g_invept_at[], g_invvpid_at[], g_rdpmc_at[], g_movdr_to_at[], g_cr0_ts_at[], g_cr3_load_at[], g_cr4_write_at[], g_cr8_load_at[], g_gp_at[], g_insb_at[], g_inw_dx_at[], g_io_b_at[], g_io_bitmap_at[], g_msr_at[], g_outl_dx_at[], g_pf_read_at[], g_rep_outsb_at[], g_sti_at[], g_vmread_at[];

static u8 io_a[4096] __attribute__((aligned(4096)));
static u8 io_b[4096] __attribute__((aligned(4096)));
static u8 msr_bm[4096] __attribute__((aligned(4096)));
static u8 outs_buf[16] = "abc";
static u32 proc_base;

static void set_proc(u32 bits) {
  vmw(PROC_CTLS, ctl(bits, msr_proc) & ~((PROC_CR3_LOAD | PROC_CR3_STORE) & ~bits));
}
static void exit_is(const char *name, long r, u64 reason, void *rip, long len) {
  expect(name, (u64)r, reason);
  if (r != (long)reason) return;
  static char b[96]; int n = 0; const char *p = name;
  while (*p && n < 80) b[n++] = *p++;
  if (rip) { memcpy(b + n, " rip", 5); expect(b, vmread(GUEST_RIP), (uptr)rip); }
  if (len >= 0) { memcpy(b + n, " len", 5); expect(b, vmread(EXIT_INSTR_LEN), (u64)len); }
}
static u8 invpcid_desc[32] __attribute__((aligned(16)));
/* Runs the L2 at rip with the interruptibility state ib (bit 3 = blocking by NMI). */
static long run_blocked(void *rip, u64 ib) {
  vmw(GUEST_RIP, (uptr)rip);
  vmw(GUEST_RSP, (uptr)(l2_stack + sizeof l2_stack));
  vmw(GUEST_RFLAGS, 2); vmw(GUEST_ACTIVITY, 0);
  vmw(GUEST_INTERRUPTIBILITY, ib);
  return run_guest();
}
#define PROC2_INVPCID (1u << 12)
#define PROC2_PLE (1u << 10)
#define PROC_PAUSE_EXIT (1u << 30)
#define PIN_VIRT_NMI (1u << 5)
enum { PLE_GAP = 0x4020, PLE_WINDOW = 0x4022, EXIT_PAUSE = 40, EXIT_INVPCID = 58 };
/* enable INVPCID, PAUSE-loop exiting, IRET and NMI blocking (SDM 26.3, 28.2.2) */
static void rest_checks(void) {
  u32 p2 = (rdmsr(msr_proc) >> 63) ? (u32)(rdmsr(MSR_VMX_PROCBASED2) >> 32) : 0;
  u32 pin1 = (u32)(rdmsr(msr_pin) >> 32);
  set_proc(0);
  /* INVPCID (SDM 25.6.2, 26.1.3): #UD in L2 without "enable INVPCID"; with it, "INVLPG exiting"
     makes it exit (58) with the displacement as qualification and the INVEPT/INVPCID/INVVPID
     instruction information (reg2 31:28, base 26:23, index invalid 22, segment 17:15, address
     size 9:7, scale 1:0) */
  if (p2 & PROC2_INVPCID) {
    guest_regs[G_RBX] = (uptr)invpcid_desc - 0x10; guest_regs[G_RCX] = 3;
    exit_is("invpcid-without-enable-ud", run_at(g_invpcid), EXIT_EXCEPTION, g_invpcid, -1);
    expect("invpcid-without-enable-ud interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000306);
    set_proc(PROC_SECONDARY); vmw(PROC_CTLS2, PROC2_INVPCID);
    exit_is("invpcid-enabled-runs", run_at(g_invpcid), EXIT_VMCALL, g_invpcid + 6, 3);
    set_proc(PROC_SECONDARY | PROC_INVLPG_EXIT);
    exit_is("invpcid-exit", run_at(g_invpcid), EXIT_INVPCID, g_invpcid, 6);
    expect("invpcid-exit qualification", vmread(EXIT_QUAL), 0x10);
    expect("invpcid-exit instruction-info", vmread(EXIT_INSTR_INFO) & 0xffff8783, 0x11c18100);
    set_proc(PROC_INVLPG_EXIT);
    exit_is("invpcid-invlpg-exiting-without-enable-ud", run_at(g_invpcid), EXIT_EXCEPTION, g_invpcid, -1);
    vmw(PROC_CTLS2, 0);
    set_proc(0);
  }
  /* PAUSE-loop exiting (SDM 26.1.3): at CPL 0, a PAUSE more than PLE_Gap TSC ticks after the
     previous one (or the first after VM entry) starts a loop; one more than PLE_Window ticks
     after the loop's start exits (40). The preemption timer guards against a missing exit. */
  if (p2 & PROC2_PLE) {
    int timer = (int)(pin1 & PIN_PREEMPT_TIMER);
    vmw(PIN_CTLS, ctl(timer ? PIN_PREEMPT_TIMER : 0, msr_pin));
    if (timer) vmw(PREEMPT_TIMER, 400000000u >> (vmx_misc & 31));
    set_proc(PROC_SECONDARY); vmw(PROC_CTLS2, PROC2_PLE);
    vmw(PLE_GAP, 0x7fffffff); vmw(PLE_WINDOW, 0x100000);
    exit_is("ple-window", run_at(g_pause_loop), EXIT_PAUSE, g_pause_at, 2);
    expect_true("ple-window several pauses", guest_regs[G_RCX] > 1, guest_regs[G_RCX]);
    vmw(PLE_WINDOW, 0);
    exit_is("ple-window0-second-pause", run_at(g_pause_loop), EXIT_PAUSE, g_pause_at, 2);
    expect("ple-window0-second-pause count", guest_regs[G_RCX], 2);
    vmw(PLE_GAP, 100);
    exit_is("ple-gap-new-loops", run_at(g_pause_gap), EXIT_VMCALL, 0, 3);
    set_proc(PROC_SECONDARY | PROC_PAUSE_EXIT);
    vmw(PLE_GAP, 0x7fffffff); vmw(PLE_WINDOW, 0x7fffffff);
    exit_is("pause-exiting-before-ple", run_at(g_pause_loop), EXIT_PAUSE, g_pause_at, 2);
    expect("pause-exiting-before-ple count", guest_regs[G_RCX], 1);
    vmw(PROC_CTLS2, 0);
    set_proc(0);
    vmw(PIN_CTLS, ctl(0, msr_pin));
  }
  /* IRET and blocking by NMI (SDM 26.3): NMI exiting 0 -> IRET unblocks; NMI exiting 1 and
     virtual NMIs 0 -> unchanged; virtual NMIs -> virtual-NMI blocking removed. A #GP of an IRET
     that removed blocking exits with bit 12 ("NMI unblocking due to IRET") in the interruption
     information (SDM 28.2.2) and blocking clear in the saved interruptibility state. */
  exit_is("iret-unblocks-nmi", run_blocked(g_iret_ok, 8), EXIT_VMCALL, 0, 3);
  expect("iret-unblocks-nmi interruptibility", vmread(GUEST_INTERRUPTIBILITY), 0);
  exit_is("iret-fault-unblocks-nmi", run_blocked(g_iret_bad, 8), EXIT_EXCEPTION, g_iret_bad_at, -1);
  expect("iret-fault-unblocks-nmi interruption-info", vmread(EXIT_INTR_INFO) & 0x80001fff, 0x80001b0d);
  expect("iret-fault-unblocks-nmi error-code", vmread(EXIT_INTR_ERR), 0xfff8);
  expect("iret-fault-unblocks-nmi interruptibility", vmread(GUEST_INTERRUPTIBILITY), 0);
  exit_is("iret-fault-not-blocked", run_blocked(g_iret_bad, 0), EXIT_EXCEPTION, g_iret_bad_at, -1);
  expect("iret-fault-not-blocked interruption-info", vmread(EXIT_INTR_INFO) & 0x80001fff, 0x80000b0d);
  if (pin1 & PIN_NMI) {
    vmw(PIN_CTLS, ctl(PIN_NMI, msr_pin));
    exit_is("nmi-exiting-iret-keeps-blocking", run_blocked(g_iret_ok, 8), EXIT_VMCALL, 0, 3);
    expect("nmi-exiting-iret-keeps-blocking interruptibility", vmread(GUEST_INTERRUPTIBILITY), 8);
    exit_is("nmi-exiting-iret-fault-keeps-blocking", run_blocked(g_iret_bad, 8), EXIT_EXCEPTION, g_iret_bad_at, -1);
    expect("nmi-exiting-iret-fault-keeps-blocking interruptibility", vmread(GUEST_INTERRUPTIBILITY), 8);
    if (pin1 & PIN_VIRT_NMI) {
      vmw(PIN_CTLS, ctl(PIN_NMI | PIN_VIRT_NMI, msr_pin));
      exit_is("virtual-nmi-iret-unblocks", run_blocked(g_iret_ok, 8), EXIT_VMCALL, 0, 3);
      expect("virtual-nmi-iret-unblocks interruptibility", vmread(GUEST_INTERRUPTIBILITY), 0);
      exit_is("virtual-nmi-iret-fault", run_blocked(g_iret_bad, 8), EXIT_EXCEPTION, g_iret_bad_at, -1);
      expect("virtual-nmi-iret-fault interruption-info", vmread(EXIT_INTR_INFO) & 0x80001fff, 0x80001b0d);
      expect("virtual-nmi-iret-fault interruptibility", vmread(GUEST_INTERRUPTIBILITY), 0);
    }
    vmw(PIN_CTLS, ctl(0, msr_pin));
  }
}

int main(void) {
  vmxt_init("exits");
  vmxt_vmxon();
  vmcs_default(vmcs1, g_vmcall);
  proc_base = (u32)vmread(PROC_CTLS);
  long r;

  /* unconditional and simple instruction exits */
  exit_is("cpuid", run_at(g_cpuid), EXIT_CPUID, g_cpuid, 2);
  exit_is("vmcall", run_at(g_vmcall), EXIT_VMCALL, g_vmcall, 3);
  set_proc(PROC_HLT_EXIT);
  exit_is("hlt", run_at(g_hlt), EXIT_HLT, g_hlt, 1);
  set_proc(PROC_INVLPG_EXIT);
  guest_regs[G_RAX] = 0x123456;
  exit_is("invlpg", run_at(g_invlpg), EXIT_INVLPG, g_invlpg, 3);
  expect("invlpg qualification", vmread(EXIT_QUAL), 0x123456);
  set_proc(PROC_RDTSC_EXIT);
  exit_is("rdtsc", run_at(g_rdtsc), EXIT_RDTSC, g_rdtsc, 2);
  set_proc(PROC_TSC_OFFSET);
  vmw(TSC_OFFSET, 1ull << 50);
  r = run_at(g_rdtsc_vmcall);
  expect("tsc-offset vmcall", r, EXIT_VMCALL);
  expect_true("tsc-offset added", ((guest_regs[G_RDX] << 32) | (u32)guest_regs[G_RAX]) >= (1ull << 50), guest_regs[G_RDX]);
  vmw(TSC_OFFSET, 0);

  /* I/O: qualification = size-1 | IN<<3 | string<<4 | REP<<5 | immediate<<6 | port<<16 (Table 28-5) */
  set_proc(PROC_UNCOND_IO);
  exit_is("io-outb-imm", run_at(g_out80), EXIT_IO, g_out80, 2);
  expect("io-outb-imm qualification", vmread(EXIT_QUAL), 0x800040);
  exit_is("io-inw-dx", run_at(g_inw_dx), EXIT_IO, g_inw_dx_at, 2);
  expect("io-inw-dx qualification", vmread(EXIT_QUAL), 0x12340009);
  exit_is("io-outl-dx", run_at(g_outl_dx), EXIT_IO, g_outl_dx_at, 1);
  expect("io-outl-dx qualification", vmread(EXIT_QUAL), 0x0cf80003);
  guest_regs[G_RSI] = (uptr)outs_buf; guest_regs[G_RCX] = 3;
  exit_is("io-rep-outsb", run_at(g_rep_outsb), EXIT_IO, g_rep_outsb_at, 2);
  expect("io-rep-outsb qualification", vmread(EXIT_QUAL), 0x03f80030);
  expect("io-rep-outsb guest-linear-address", vmread(GUEST_LINEAR_ADDR), (uptr)outs_buf);
  /* IA32_VMX_BASIC[54]: instruction information for INS/OUTS (SDM 28.2.5): address size 9:7
     (2 = 64-bit), segment register 17:15 (3 = DS; undefined for INS) */
  int insouts = (int)((vmx_basic >> 54) & 1);
  if (insouts) expect("io-rep-outsb instruction-info", vmread(EXIT_INSTR_INFO) & 0x38380, 0x18100);
  guest_regs[G_RDI] = (uptr)outs_buf + 8;
  exit_is("io-insb", run_at(g_insb), EXIT_IO, g_insb_at, 1);
  expect("io-insb qualification", vmread(EXIT_QUAL), 0x00800018);
  expect("io-insb guest-linear-address", vmread(GUEST_LINEAR_ADDR), (uptr)outs_buf + 8);
  if (insouts) expect("io-insb instruction-info address size", vmread(EXIT_INSTR_INFO) & 0x380, 0x100);
  /* I/O bitmaps: port 0x70 (A) and 0x8001 (B) trapped, 0x71 not */
  io_a[0x70 / 8] |= 1u << (0x70 % 8);
  io_b[(0x8001 - 0x8000) / 8] |= 1u << (0x8001 % 8);
  set_proc(PROC_IO_BITMAPS);
  vmw(IO_BITMAP_A, (uptr)io_a); vmw(IO_BITMAP_B, (uptr)io_b);
  exit_is("io-bitmap-a", run_at(g_io_bitmap), EXIT_IO, g_io_bitmap_at, 2);
  expect("io-bitmap-a qualification", vmread(EXIT_QUAL), 0x700048);
  exit_is("io-bitmap-multibyte-overlap", run_at(g_io_cross), EXIT_IO, g_io_cross, 3);
  expect("io-bitmap-multibyte-overlap qualification", vmread(EXIT_QUAL), 0x6f0049);
  exit_is("io-bitmap-b", run_at(g_io_b), EXIT_IO, g_io_b_at, 1);
  expect("io-bitmap-b qualification", vmread(EXIT_QUAL), 0x80010008);

  /* MSR bitmaps (SDM 25.6.9): read-low bit 0x10 set, 0x174 clear; write-high bit 0xC0000102 */
  set_proc(0);
  guest_regs[G_RCX] = 0x174;
  exit_is("rdmsr-without-bitmaps", run_at(g_msr), EXIT_RDMSR, g_msr + 5, 2);
  msr_bm[0x10 / 8] |= 1u << (0x10 % 8);
  msr_bm[3072 + 0x102 / 8] |= 1u << (0x102 % 8);
  set_proc(PROC_MSR_BITMAPS);
  vmw(MSR_BITMAP, (uptr)msr_bm);
  exit_is("rdmsr-bitmap", run_at(g_msr), EXIT_RDMSR, g_msr_at + 5, 2);
  expect("rdmsr-bitmap rcx", (u32)guest_regs[G_RCX], 0x10);
  exit_is("wrmsr-bitmap-high", run_at(g_wrmsr), EXIT_WRMSR, g_wrmsr + 9, 2);
  exit_is("rdmsr-outside-bitmap-ranges", run_at(g_rdmsr_outside), EXIT_RDMSR, g_rdmsr_outside + 5, 2);

  /* MOV CR / CLTS / LMSW (qualification Table 28-3: CR number 3:0, access type 5:4, LMSW
     operand type 6, register 11:8, LMSW source 31:16) */
  set_proc(0);
  u64 cr0 = read_cr0();
  vmw(CR0_MASK, 8); vmw(CR0_SHADOW, cr0 | 8);   /* TS owned by L1, reads as 1 */
  r = run_at(g_cr0_read);
  expect("cr0-read-shadow", r, EXIT_VMCALL);
  expect("cr0-read-shadow ts", (guest_regs[G_RAX] >> 3) & 1, 1);
  expect("cr0-read-shadow other bits", guest_regs[G_RAX] & ~8ull, cr0 & ~8ull);
  exit_is("clts-shadow-ts1", run_at(g_clts), EXIT_CR, g_clts, 2);
  expect("clts qualification", vmread(EXIT_QUAL), 0x20);
  vmw(CR0_SHADOW, cr0 & ~8ull);
  exit_is("clts-shadow-ts0-no-exit", run_at(g_clts), EXIT_VMCALL, g_clts + 2, 3);
  exit_is("mov-to-cr0-masked-bit", run_at(g_cr0_ts), EXIT_CR, g_cr0_ts_at, 3);
  expect("mov-to-cr0 qualification", vmread(EXIT_QUAL), 0x300);
  guest_regs[G_RBX] = (cr0 & 0xffff) | 8;
  exit_is("lmsw", run_at(g_lmsw), EXIT_CR, g_lmsw, 3);
  expect("lmsw qualification", vmread(EXIT_QUAL), 0x30 | (((cr0 & 0xffff) | 8) << 16));
  vmw(CR0_MASK, 0); vmw(CR0_SHADOW, cr0);
  if (!(rdmsr(msr_proc) & PROC_CR3_STORE)) {
    set_proc(PROC_CR3_STORE);
    exit_is("mov-from-cr3", run_at(g_cr3_store), EXIT_CR, g_cr3_store, 3);
    expect("mov-from-cr3 qualification", vmread(EXIT_QUAL), 0x113);
    set_proc(PROC_CR3_LOAD);
    exit_is("mov-to-cr3", run_at(g_cr3_load), EXIT_CR, g_cr3_load_at, 3);
    expect("mov-to-cr3 qualification", vmread(EXIT_QUAL), 0x203);
    vmw(CR3_TARGET0, read_cr3()); vmw(CR3_TARGET_COUNT, 1);
    exit_is("mov-to-cr3-target-no-exit", run_at(g_cr3_load), EXIT_VMCALL, g_cr3_load_at + 3, 3);
    vmw(CR3_TARGET_COUNT, 0);
  } else note("CR3 exiting not clearable: CR3 tests skipped");
  set_proc(0);
  vmw(CR4_MASK, 0x80); vmw(CR4_SHADOW, read_cr4());
  exit_is("mov-to-cr4-masked-bit", run_at(g_cr4_write), EXIT_CR, g_cr4_write_at, 3);
  expect("mov-to-cr4 qualification", vmread(EXIT_QUAL), 0x604);
  vmw(CR4_MASK, 0);
  if ((rdmsr(msr_proc) >> 32) & PROC_CR8_LOAD) {
    set_proc(PROC_CR8_LOAD);
    exit_is("mov-to-cr8", run_at(g_cr8_load), EXIT_CR, g_cr8_load_at, 4);
    expect("mov-to-cr8 qualification", vmread(EXIT_QUAL), 0x8);
    set_proc(PROC_CR8_STORE);
    exit_is("mov-from-cr8", run_at(g_cr8_store), EXIT_CR, g_cr8_store, 4);
    expect("mov-from-cr8 qualification", vmread(EXIT_QUAL), 0x618);
  }

  /* exceptions through the exception bitmap: interruption information (25.9.2) = vector |
     type << 8 | error code valid << 11 | valid << 31 */
  set_proc(0);
  exit_is("ud2", run_at(g_ud2), EXIT_EXCEPTION, g_ud2, -1);
  expect("ud2 interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000306);
  exit_is("gp-noncanonical", run_at(g_gp), EXIT_EXCEPTION, g_gp_at, -1);
  expect("gp interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000b0d);
  expect("gp error-code", vmread(EXIT_INTR_ERR), 0);
  u64 cr2 = read_cr2();
  exit_is("pf-read", run_at(g_pf_read), EXIT_EXCEPTION, g_pf_read_at, -1);
  expect("pf-read interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000b0e);
  expect("pf-read error-code", vmread(EXIT_INTR_ERR), 0);
  expect("pf-read qualification (linear address)", vmread(EXIT_QUAL), 0x40000000);
  expect("pf-exit leaves cr2", read_cr2(), cr2);
  exit_is("pf-write", run_at(g_pf_write), EXIT_EXCEPTION, 0, -1);
  expect("pf-write error-code", vmread(EXIT_INTR_ERR), 2);
  expect("pf-write qualification", vmread(EXIT_QUAL), 0x40001008);
  /* #PF error-code mask/match (25.6.3): bit 14 set, mask 2 match 2: only writes exit */
  vmw(PF_ERR_MASK, 2); vmw(PF_ERR_MATCH, 2);
  exit_is("pf-mask-match-write", run_at(g_pf_write), EXIT_EXCEPTION, 0, -1);
  vmw(PF_ERR_MASK, 0); vmw(PF_ERR_MATCH, 0);
  exit_is("int3", run_at(g_int3), EXIT_EXCEPTION, g_int3, 1);
  expect("int3 interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000603);
  /* not in the bitmap: delivered through the L2's IDT (L1's handlers, running in L2), which
     resume at fixup_ip = g_after_ud */
  vmw(EXC_BITMAP, ~(1u << 6));
  fixup_ip = (uptr)g_after_ud; last_trap.vec = 0xff;
  exit_is("ud2-not-in-bitmap-delivered-to-l2", run_at(g_ud2_handled), EXIT_VMCALL, g_after_ud, 3);
  expect("ud2-not-in-bitmap vector seen by l2", last_trap.vec, 6);
  expect("ud2-not-in-bitmap ip seen by l2", last_trap.ip, (uptr)g_ud2_handled);
  fixup_ip = 0;
  /* triple fault: IDT limit 0, no exception exits: #UD -> #GP -> #DF -> shutdown */
  vmw(EXC_BITMAP, 0);
  vmw(GUEST_IDTR_LIMIT, 0);
  exit_is("triple-fault", run_at(g_ud2), EXIT_TRIPLE, 0, -1);
  struct { u16 limit; u64 base; } __attribute__((packed)) idtr;
  __asm__ volatile("sidt %0" : "=m"(idtr));
  vmw(GUEST_IDTR_LIMIT, idtr.limit);
  vmw(EXC_BITMAP, 0xffffffff);

  /* VMX-preemption timer (25.5.1): counts down, exit 52; 0 exits before the first instruction */
  if ((rdmsr(msr_pin) >> 32) & PIN_PREEMPT_TIMER) {
    vmw(PIN_CTLS, ctl(PIN_PREEMPT_TIMER, msr_pin));
    vmw(EXIT_CTLS, vmread(EXIT_CTLS) | ((rdmsr(msr_exit) >> 32) & EXIT_SAVE_TIMER));
    vmw(PREEMPT_TIMER, 2000);
    exit_is("preemption-timer", run_at(g_loop), EXIT_PREEMPT, g_loop, -1);
    if (vmread(EXIT_CTLS) & EXIT_SAVE_TIMER) expect("preemption-timer saved value", vmread(PREEMPT_TIMER), 0);
    vmw(PREEMPT_TIMER, 0);
    exit_is("preemption-timer-zero", run_at(g_nops), EXIT_PREEMPT, g_nops, -1);
    vmw(PIN_CTLS, ctl(0, msr_pin));
    vmw(EXIT_CTLS, vmread(EXIT_CTLS) & ~EXIT_SAVE_TIMER);
  }
  /* monitor trap flag: exit after one instruction, RIP past it */
  if ((rdmsr(msr_proc) >> 32) & PROC_MTF) {
    set_proc(PROC_MTF);
    exit_is("mtf", run_at(g_nops), EXIT_MTF, g_nops + 1, -1);
    r = run_guest();
    exit_is("mtf-second", r, EXIT_MTF, g_nops + 2, -1);
    set_proc(0);
  }
  /* interrupt-window exiting: IF=0 -> no exit until STI and the instruction after it */
  if ((rdmsr(msr_proc) >> 32) & PROC_INT_WINDOW) {
    set_proc(PROC_INT_WINDOW);
    exit_is("interrupt-window-after-sti-shadow", run_at(g_sti), EXIT_INT_WINDOW, g_sti_at, -1);
    vmw(GUEST_RFLAGS, 0x202);
    exit_is("interrupt-window-if1-immediate", run_guest(), EXIT_INT_WINDOW, g_sti_at, -1);
    set_proc(0);
  }

  /* INVD (unconditional), WBINVD / RDPMC / MOV DR exiting (qualification Table 28-4: DR number
     2:0, direction 4 (1 = MOV from DR), register 11:8) */
  exit_is("invd", run_at(g_invd), 13, g_invd, 2);
  u32 p2 = (u32)(rdmsr(MSR_VMX_PROCBASED2) >> 32);
  if ((rdmsr(msr_proc) >> 63) && (p2 & (1u << 6))) {
    set_proc(PROC_SECONDARY); vmw(PROC_CTLS2, 1u << 6);
    exit_is("wbinvd", run_at(g_wbinvd), 54, g_wbinvd, 2);
    vmw(PROC_CTLS2, 0);
  }
  if ((rdmsr(msr_proc) >> 32) & (1u << 11)) {
    set_proc(1u << 11);
    exit_is("rdpmc", run_at(g_rdpmc), 15, g_rdpmc_at, 2);
  }
  if ((rdmsr(msr_proc) >> 32) & (1u << 23)) {
    set_proc(1u << 23);
    exit_is("mov-from-dr7", run_at(g_movdr), 29, g_movdr, 3);
    expect("mov-from-dr7 qualification", vmread(EXIT_QUAL), 0x217);
    exit_is("mov-to-dr0", run_at(g_movdr_to), 29, g_movdr_to_at, 4);
    expect("mov-to-dr0 qualification", vmread(EXIT_QUAL), 0x900);
  }
  set_proc(0);

  /* VMX instructions in L2 exit unconditionally, with instruction information (Table 28-13) */
  guest_regs[G_RAX] = (uptr)vmcs2;
  exit_is("l2-vmptrst", run_at(g_vmptrst), EXIT_VMPTRST, g_vmptrst, 3);
  exit_is("l2-vmxon", run_at(g_vmxon), EXIT_VMXON, g_vmxon, 4);
  exit_is("l2-vmread", run_at(g_vmread), EXIT_VMREAD, g_vmread_at, 3);
  expect("l2-vmread instruction-info", vmread(EXIT_INSTR_INFO) & 0xf0000478, 0x00000418);
  exit_is("l2-vmclear", run_at(g_vmclear), EXIT_VMCLEAR, g_vmclear, 4);
  exit_is("l2-vmptrld", run_at(g_vmptrld), EXIT_VMPTRLD, g_vmptrld, 3);
  exit_is("l2-vmlaunch", run_at(g_vmlaunch), EXIT_VMLAUNCH, g_vmlaunch, 3);
  exit_is("l2-vmresume", run_at(g_vmresume), EXIT_VMRESUME, g_vmresume, 3);
  exit_is("l2-vmwrite", run_at(g_vmwrite), EXIT_VMWRITE, g_vmwrite_at, 3);
  expect("l2-vmwrite instruction-info", vmread(EXIT_INSTR_INFO) & 0xf0000478, 0x00000408);
  exit_is("l2-vmxoff", run_at(g_vmxoff), EXIT_VMXOFF, g_vmxoff, 3);
  guest_regs[G_RAX] = (uptr)vmcs2;
  if (ept_cap & (1u << 20)) {
    exit_is("l2-invept", run_at(g_invept), EXIT_INVEPT, g_invept_at, 5);
    expect("l2-invept instruction-info reg2", vmread(EXIT_INSTR_INFO) >> 28, 1);
  }
  if (ept_cap & (1ull << 32)) exit_is("l2-invvpid", run_at(g_invvpid), EXIT_INVVPID, g_invvpid_at, 5);

  /* external-interrupt exiting (pin 0) with the PIC and PIT: exit reason 1 even with
     RFLAGS.IF = 0; with "acknowledge interrupt on exit" the vector is in the interruption
     information (SDM 28.2.2). The preemption timer guards against a missing interrupt. */
  if ((rdmsr(msr_exit) >> 32) & (1u << 15)) {
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 4); outb(0x21, 1);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 2); outb(0xa1, 1);
    outb(0x21, 0xfe); outb(0xa1, 0xff);
    outb(0x43, 0x34); outb(0x40, 0x00); outb(0x40, 0x10);   /* PIT channel 0, rate 4096 */
    int timer = (int)((rdmsr(msr_pin) >> 32) & PIN_PREEMPT_TIMER);
    vmw(PIN_CTLS, ctl(PIN_EXT_INT | (timer ? PIN_PREEMPT_TIMER : 0), msr_pin));
    if (timer) vmw(PREEMPT_TIMER, 200000000u >> (vmx_misc & 31));
    u64 xc = vmread(EXIT_CTLS);
    vmw(EXIT_CTLS, xc | (1u << 15));
    exit_is("external-interrupt-acked", run_at(g_loop), EXIT_EXT_INT, g_loop, -1);
    expect("external-interrupt-acked interruption-info", vmread(EXIT_INTR_INFO) & 0x800007ff, 0x80000020);
    outb(0x20, 0x20);   /* EOI: the exit acknowledged IRQ 0 */
    vmw(EXIT_CTLS, xc);
    exit_is("external-interrupt-not-acked", run_at(g_loop), EXIT_EXT_INT, g_loop, -1);
    expect("external-interrupt-not-acked interruption-info valid", vmread(EXIT_INTR_INFO) >> 31, 0);
    outb(0x20, 0x20);
    vmw(GUEST_RIP, (uptr)g_loop); vmw(GUEST_RFLAGS, 0x202);   /* IF = 1: the same */
    vmw(EXIT_CTLS, xc | (1u << 15));
    exit_is("external-interrupt-acked-if1", run_guest(), EXIT_EXT_INT, g_loop, -1);
    expect("external-interrupt-acked-if1 interruption-info", vmread(EXIT_INTR_INFO) & 0x800007ff, 0x80000020);
    outb(0x20, 0x20);
    vmw(EXIT_CTLS, xc);
    /* HLT activity state (IA32_VMX_MISC[6]), no preemption timer: an external interrupt ends it
       with an exit that saves activity state HLT; without external-interrupt exiting it wakes the
       L2, which takes it through its IDT (the trap hook resumes at g_after_ud: VMCALL) */
    if (vmx_misc & (1u << 6)) {
      vmw(PIN_CTLS, ctl(PIN_EXT_INT, msr_pin));
      vmw(EXIT_CTLS, xc | (1u << 15));
      vmw(GUEST_RIP, (uptr)g_loop); vmw(GUEST_RFLAGS, 0x202); vmw(GUEST_ACTIVITY, 1); vmw(GUEST_INTERRUPTIBILITY, 0);
      exit_is("hlt-state-external-interrupt", run_guest(), EXIT_EXT_INT, g_loop, -1);
      expect("hlt-state-external-interrupt saved activity", vmread(GUEST_ACTIVITY), 1);
      outb(0x20, 0x20);
      vmw(EXIT_CTLS, xc);
      vmw(PIN_CTLS, ctl(0, msr_pin));
      vmw(EXC_BITMAP, 0);
      fixup_ip = (uptr)g_after_ud; last_trap.vec = 0xff;
      vmw(GUEST_RIP, (uptr)g_loop); vmw(GUEST_RFLAGS, 0x202); vmw(GUEST_ACTIVITY, 1);
      exit_is("hlt-state-woken-by-interrupt", run_guest(), EXIT_VMCALL, g_after_ud, 3);
      expect("hlt-state-woken-by-interrupt vector in l2", last_trap.vec, 0x20);
      expect("hlt-state-woken-by-interrupt activity", vmread(GUEST_ACTIVITY), 0);
      fixup_ip = 0;
      outb(0x20, 0x20);   /* the L2's handler did not EOI */
      vmw(EXC_BITMAP, 0xffffffff);
    }
    outb(0x21, 0xff);   /* mask everything again; the pending IRQ 0 stays in the IRR */
    vmw(PIN_CTLS, ctl(0, msr_pin));
  }
  rest_checks();
  vmxt_finish("exits");
}
