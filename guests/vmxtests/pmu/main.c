/* vmxtests/pmu: architectural performance monitoring (CPUID leaf 0AH, version 2+) seen by a
   hypervisor. The "load IA32_PERF_GLOBAL_CTRL" VM-entry (bit 13) and VM-exit (bit 12) controls and
   "save IA32_PERF_GLOBAL_CTRL" (VM-exit, bit 30): the host-state check (SDM 27.2.2, VMfailValid 8)
   and guest-state check (27.3.1.1, exit reason 33 | bit 31) on the bits reserved in the MSR, the
   value an L2 reads after the entry load, the L1 value after the exit load, the saved guest value;
   and a fixed counter enabled only while the L2 runs (guest value on, host value off) counting
   exactly the L2's instructions. Checks are left out when the CPU has no PMU or does not offer
   the control. */
#include "vmxt.h"

#define MSR_PMC0 0xC1
#define MSR_FIXED_CTR0 0x309
#define MSR_FIXED_CTR_CTRL 0x38D
#define MSR_PERF_GLOBAL_CTRL 0x38F
#define GUEST_PERF_GLOBAL_CTRL 0x2808
#define HOST_PERF_GLOBAL_CTRL 0x2C04
#define EXIT_LOAD_PERF (1u << 12)
#define EXIT_SAVE_PERF (1u << 30)
#define ENTRY_LOAD_PERF (1u << 13)

GUEST(g_vmcall, "vmcall\n hlt");
/* The L2 reads IA32_PERF_GLOBAL_CTRL (EDX:EAX), then VMCALL. */
GUEST(g_read_pgc, "mov $0x38f, %ecx\n rdmsr\n vmcall\n hlt");
/* The L2 writes IA32_PERF_GLOBAL_CTRL = RBX, then VMCALL. */
GUEST(g_write_pgc, "mov $0x38f, %ecx\n mov %ebx, %eax\n xor %edx, %edx\n wrmsr\n vmcall\n hlt");
/* The L2 runs 2 * RCX instructions (RCX > 0), then VMCALL. */
GUEST(g_loop, "1: dec %rcx\n jnz 1b\n vmcall\n hlt");

static u8 msr_bitmap[4096] __attribute__((aligned(4096)));   /* all zero: no MSR exits */
static u32 allowed1(u32 msr) { return (u32)(rdmsr(msr) >> 32); }

static void with_msr_bitmap(void) {
  vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_MSR_BITMAPS);
  vmw(MSR_BITMAP, (uptr)msr_bitmap);
}
/* The run's result; for VMfailValid also the VM-instruction error, for a VM-entry failure the
   exit qualification (only when the run ended that way). */
static long expect_result(const char *name, long r, long want) {
  expect(name, (u64)r, (u64)want);
  return r == want;
}
static char namebuf[96];
static const char *cat(const char *a, const char *b) {
  int n = 0;
  while (*a && n < 70) namebuf[n++] = *a++;
  while (*b && n < 95) namebuf[n++] = *b++;
  namebuf[n] = 0;
  return namebuf;
}
static void expect_failvalid(const char *name, u64 error) {
  if (expect_result(name, run_guest(), -2)) expect(cat(name, " error"), vmread(VM_INSTR_ERROR), error);
}
static void expect_bad_guest(const char *name) {
  if (expect_result(name, run_guest(), EXIT_FAILED | 33)) expect(cat(name, " qualification"), vmread(EXIT_QUAL), 0);
}

/* Fixed counter 0 (instructions retired) after an L2 run of 2 * n instructions, counting only
   while the L2 runs: enabled by the guest value of IA32_PERF_GLOBAL_CTRL, disabled by the host
   value. L1 itself runs with the counter off. */
static u64 l2_instructions(u64 n) {
  wrmsr(MSR_PERF_GLOBAL_CTRL, 0);
  wrmsr(MSR_FIXED_CTR_CTRL, 0x3);          /* fixed counter 0: CPL 0 and CPL > 0 */
  wrmsr(MSR_FIXED_CTR0, 0);
  vmcs_default(vmcs1, g_loop);
  vmw(ENTRY_CTLS, vmread(ENTRY_CTLS) | ENTRY_LOAD_PERF);
  vmw(EXIT_CTLS, vmread(EXIT_CTLS) | EXIT_LOAD_PERF);
  vmw(GUEST_PERF_GLOBAL_CTRL, 1ull << 32);
  vmw(HOST_PERF_GLOBAL_CTRL, 0);
  guest_regs[G_RCX] = n;
  long r = run_guest();
  if (r != EXIT_VMCALL) return ~0ull;
  u64 c = rdmsr(MSR_FIXED_CTR0);
  expect("l1-not-counted", rdmsr(MSR_FIXED_CTR0), c);   /* off again in L1 */
  return c;
}

int main(void) {
  vmxt_init("pmu");
  vmxt_vmxon();
  u32 a, b, c, d;
  cpuid(0xa, 0, &a, &b, &c, &d);
  u32 version = a & 0xff, ngp = (a >> 8) & 0xff, nfixed = d & 0x1f;
  note("CPUID.0AH EAX 0x%x EBX 0x%x EDX 0x%x", a, b, d);
  u32 xc = allowed1(msr_exit), ec = allowed1(msr_entry);
  note("IA32_PERF_GLOBAL_CTRL controls: exit load %d save %d, entry load %d",
       !!(xc & EXIT_LOAD_PERF), !!(xc & EXIT_SAVE_PERF), !!(ec & ENTRY_LOAD_PERF));
  if (version < 2 || ngp < 1 || ngp > 30 || nfixed < 1 || nfixed > 30) {
    note("no architectural PMU version 2: nothing to check");
    return vmxt_finish("pmu");
  }
  u64 valid = ((1ull << ngp) - 1) | (((1ull << nfixed) - 1) << 32);
  u64 l1_pgc = rdmsr(MSR_PERF_GLOBAL_CTRL);

  if (xc & EXIT_LOAD_PERF) {
    vmcs_default(vmcs1, g_vmcall);
    vmw(EXIT_CTLS, vmread(EXIT_CTLS) | EXIT_LOAD_PERF);
    vmw(HOST_PERF_GLOBAL_CTRL, 1ull << ngp);              /* a GP counter that does not exist */
    expect_failvalid("host-pgc-reserved-gp-bit", 8);
    vmw(HOST_PERF_GLOBAL_CTRL, 1ull << (32 + nfixed));   /* a fixed counter that does not exist */
    expect_failvalid("host-pgc-reserved-fixed-bit", 8);
    vmw(HOST_PERF_GLOBAL_CTRL, 1ull << 63);
    expect_failvalid("host-pgc-bit-63", 8);
    vmw(EXIT_CTLS, vmread(EXIT_CTLS) & ~EXIT_LOAD_PERF);
    expect_result("host-pgc-not-checked-without-load", run_guest(), EXIT_VMCALL);

    wrmsr(MSR_PERF_GLOBAL_CTRL, 0);
    vmcs_default(vmcs1, g_vmcall);
    vmw(EXIT_CTLS, vmread(EXIT_CTLS) | EXIT_LOAD_PERF);
    vmw(HOST_PERF_GLOBAL_CTRL, valid);
    expect_result("host-pgc-loaded run", run_guest(), EXIT_VMCALL);
    expect("host-pgc-loaded", rdmsr(MSR_PERF_GLOBAL_CTRL), valid);
    wrmsr(MSR_PERF_GLOBAL_CTRL, l1_pgc);
  }

  if (ec & ENTRY_LOAD_PERF) {
    vmcs_default(vmcs1, g_vmcall);
    vmw(ENTRY_CTLS, vmread(ENTRY_CTLS) | ENTRY_LOAD_PERF);
    vmw(GUEST_PERF_GLOBAL_CTRL, 1ull << ngp);
    expect_bad_guest("guest-pgc-reserved-gp-bit");
    vmw(GUEST_PERF_GLOBAL_CTRL, 1ull << 40);
    expect_bad_guest("guest-pgc-reserved-bit-40");
    vmw(ENTRY_CTLS, vmread(ENTRY_CTLS) & ~ENTRY_LOAD_PERF);
    expect_result("guest-pgc-not-checked-without-load", run_guest(), EXIT_VMCALL);

    wrmsr(MSR_PERF_GLOBAL_CTRL, 0);
    vmcs_default(vmcs1, g_read_pgc);
    with_msr_bitmap();
    vmw(ENTRY_CTLS, vmread(ENTRY_CTLS) | ENTRY_LOAD_PERF);
    vmw(GUEST_PERF_GLOBAL_CTRL, 1ull << 32 | 1);
    expect_result("guest-pgc-loaded run", run_guest(), EXIT_VMCALL);
    expect("guest-pgc-loaded", (guest_regs[G_RDX] << 32) | (u32)guest_regs[G_RAX], 1ull << 32 | 1);
    expect("guest-pgc-kept-without-exit-load", rdmsr(MSR_PERF_GLOBAL_CTRL), 1ull << 32 | 1);
    wrmsr(MSR_PERF_GLOBAL_CTRL, l1_pgc);
  }

  if (xc & EXIT_SAVE_PERF) {
    vmcs_default(vmcs1, g_write_pgc);
    with_msr_bitmap();
    vmw(EXIT_CTLS, vmread(EXIT_CTLS) | EXIT_SAVE_PERF);
    vmw(GUEST_PERF_GLOBAL_CTRL, 0);
    guest_regs[G_RBX] = 2;
    expect_result("guest-pgc-saved run", run_guest(), EXIT_VMCALL);
    expect("guest-pgc-saved", vmread(GUEST_PERF_GLOBAL_CTRL), 2);
    vmcs_default(vmcs1, g_write_pgc);
    with_msr_bitmap();
    vmw(GUEST_PERF_GLOBAL_CTRL, 0x55);
    guest_regs[G_RBX] = 1;
    expect_result("guest-pgc-not-saved run", run_guest(), EXIT_VMCALL);
    expect("guest-pgc-not-saved", vmread(GUEST_PERF_GLOBAL_CTRL), 0x55);
    wrmsr(MSR_PERF_GLOBAL_CTRL, l1_pgc);
  }

  if ((ec & ENTRY_LOAD_PERF) && (xc & EXIT_LOAD_PERF)) {
    /* The count around the L2's loop depends on how VM entry and exit themselves count; the
       difference between two loop lengths is exactly the extra L2 instructions. */
    u64 c100 = l2_instructions(100), c300 = l2_instructions(300);
    note("fixed counter 0 over an L2 run of 200 instructions: %lu", (unsigned long)c100);
    expect_true("l2-count-at-least-200", c100 != ~0ull && c100 >= 200 && c100 <= 210, c100);
    expect("l2-count-exact-difference", c300 - c100, 400);
    wrmsr(MSR_FIXED_CTR_CTRL, 0);
    wrmsr(MSR_PERF_GLOBAL_CTRL, l1_pgc);
  }
  return vmxt_finish("pmu");
}
