/* Shared harness of the VMX test programs, see vmxt.h. */
#include "vmxt.h"

static int n_checks, n_failed;
const char *check_prefix = "";
void expect(const char *name, u64 got, u64 want) {
  n_checks++;
  if (got == want) printf("PASS %s%s\n", check_prefix, name);
  else { n_failed++; printf("FAIL %s%s: got 0x%lx want 0x%lx\n", check_prefix, name, (unsigned long)got, (unsigned long)want); }
}
void expect_true(const char *name, int cond, u64 got) {
  n_checks++;
  if (cond) printf("PASS %s%s\n", check_prefix, name);
  else { n_failed++; printf("FAIL %s%s: got 0x%lx\n", check_prefix, name, (unsigned long)got); }
}
int vmxt_finish(const char *prog) {
  printf("%s: %d checks, %d passed, %d failed\n", prog, n_checks, n_checks - n_failed, n_failed);
  printf("vmxtests: done\n");
  exit(n_failed ? 1 : 0);
}

u64 vmx_basic, vmx_misc, ept_cap, cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1, l1_efer;
u32 rev_id, msr_pin, msr_proc, msr_exit, msr_entry;
int true_ctls;
u8 vmxon_region[4096] __attribute__((aligned(4096)));
u8 vmcs1[4096] __attribute__((aligned(4096)));
u8 vmcs2[4096] __attribute__((aligned(4096)));
u8 vmcs3[4096] __attribute__((aligned(4096)));
u8 l2_stack[16384] __attribute__((aligned(16)));
u64 guest_regs[15];
int launched;

u32 ctl(u32 want, u32 msr) { return vmx_adjust(want, msr); }
int has2(u32 bit) { return (true_ctls ? (rdmsr(MSR_VMX_TRUE_PROCBASED) >> 63) : (rdmsr(MSR_VMX_PROCBASED) >> 63)) && ((rdmsr(MSR_VMX_PROCBASED2) >> 32) & bit); }

void vmxt_init(const char *prog) {
  printf("%s: VMX test program\n", prog);
  idt_init();
  u32 a, b, c, d;
  cpuid(1, 0, &a, &b, &c, &d);
  if (!(c & (1u << 5))) { printf("FAIL cpuid-vmx: got 0 want 1\n"); vmxt_finish(prog); }
  vmx_basic = rdmsr(MSR_VMX_BASIC);
  vmx_misc = rdmsr(MSR_VMX_MISC);
  rev_id = (u32)vmx_basic & 0x7fffffff;
  true_ctls = (vmx_basic >> 55) & 1;
  msr_pin = true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED;
  msr_proc = true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED;
  msr_exit = true_ctls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT;
  msr_entry = true_ctls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY;
  cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0); cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
  cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0); cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
  ept_cap = (rdmsr(MSR_VMX_PROCBASED) >> 63) && ((rdmsr(MSR_VMX_PROCBASED2) >> 32) & (PROC2_EPT | PROC2_VPID)) ? rdmsr(MSR_VMX_EPT_VPID_CAP) : 0;
  l1_efer = rdmsr(MSR_EFER);
  write_cr0((read_cr0() | cr0_fixed0) & cr0_fixed1);
  tss_init();   /* host TR must not be 0 (SDM 27.2.3) */
  note("IA32_VMX_BASIC 0x%lx MISC 0x%lx EPT_VPID_CAP 0x%lx", (unsigned long)vmx_basic, (unsigned long)vmx_misc, (unsigned long)ept_cap);
}

static void feature_control_lock(void) {
  u64 fc = rdmsr(MSR_FEATURE_CONTROL);
  if (!(fc & 1)) wrmsr(MSR_FEATURE_CONTROL, fc | 1 | 4);
}
void vmxt_vmxon(void) {
  feature_control_lock();
  write_cr4(((read_cr4() | (1u << 13)) | cr4_fixed0) & cr4_fixed1);
  *(u32 *)vmxon_region = rev_id;
  int r = vmxon((uptr)vmxon_region);
  if (r) { printf("FAIL vmxon: got %d want 0\n", r); vmxt_finish("vmxtests"); }
}

void vmw(u64 f, u64 v) {
  int r = vmwrite_s(f, v);
  if (r) printf("FAIL vmwrite 0x%lx = 0x%lx: status %d error %lu\n", (unsigned long)f, (unsigned long)v, r,
                (unsigned long)vmread(VM_INSTR_ERROR));
}

void vmcs_host_state(void) {
  u16 cs, ss, ds, es, fs, gs;
  __asm__ volatile("mov %%cs, %0; mov %%ss, %1; mov %%ds, %2; mov %%es, %3; mov %%fs, %4; mov %%gs, %5"
                   : "=r"(cs), "=r"(ss), "=r"(ds), "=r"(es), "=r"(fs), "=r"(gs));
  struct { u16 limit; u64 base; } __attribute__((packed)) gdtr, idtr;
  __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
  vmw(HOST_CR0, read_cr0()); vmw(HOST_CR3, read_cr3()); vmw(HOST_CR4, read_cr4());
  vmw(HOST_CS_SEL, cs & ~7); vmw(HOST_SS_SEL, ss & ~7); vmw(HOST_DS_SEL, ds & ~7);
  vmw(HOST_ES_SEL, es & ~7); vmw(HOST_FS_SEL, fs & ~7); vmw(HOST_GS_SEL, gs & ~7);
  vmw(HOST_TR_SEL, SEL_TSS);
  vmw(HOST_FS_BASE, 0); vmw(HOST_GS_BASE, 0); vmw(HOST_TR_BASE, (uptr)&tss);
  vmw(HOST_GDTR_BASE, gdtr.base); vmw(HOST_IDTR_BASE, idtr.base);
  vmw(HOST_SYSENTER_CS, 0); vmw(HOST_SYSENTER_ESP, 0); vmw(HOST_SYSENTER_EIP, 0);
  vmw(HOST_EFER, l1_efer);
  extern char vm_exit_point[];
  vmw(HOST_RIP, (uptr)vm_exit_point);
}

/* The L2 continues L1's 64-bit world: same CR0/CR3/CR4, EFER, flat segments of the shared GDT. */
void vmcs_guest_state(void *rip) {
  struct { u16 limit; u64 base; } __attribute__((packed)) gdtr, idtr;
  __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
  vmw(GUEST_CR0, read_cr0()); vmw(GUEST_CR3, read_cr3()); vmw(GUEST_CR4, read_cr4());
  vmw(CR0_SHADOW, read_cr0()); vmw(CR4_SHADOW, read_cr4());
  vmw(GUEST_DR7, 0x400);
  vmw(GUEST_RSP, (uptr)(l2_stack + sizeof l2_stack));
  vmw(GUEST_RIP, (uptr)rip);
  vmw(GUEST_RFLAGS, 2);
  for (int s = SEG_ES; s <= SEG_TR; s++) {
    u16 sel = SEL_DATA; u32 ar = 0xC093, limit = 0xFFFFFFFF; u64 base = 0;
    if (s == SEG_CS) { sel = SEL_CODE64; ar = 0xA09B; }
    if (s == SEG_LDTR) { sel = 0; ar = 0x10000; limit = 0; }
    if (s == SEG_TR) { sel = SEL_TSS; ar = 0x8B; limit = sizeof(struct tss) - 1; base = (uptr)&tss; }
    vmw(GUEST_ES_SEL + 2 * s, sel);
    vmw(GUEST_ES_LIMIT + 2 * s, limit);
    vmw(GUEST_ES_AR + 2 * s, ar);
    vmw(GUEST_ES_BASE + 2 * s, base);
  }
  vmw(GUEST_GDTR_BASE, gdtr.base); vmw(GUEST_GDTR_LIMIT, gdtr.limit);
  vmw(GUEST_IDTR_BASE, idtr.base); vmw(GUEST_IDTR_LIMIT, idtr.limit);
  vmw(GUEST_INTERRUPTIBILITY, 0); vmw(GUEST_ACTIVITY, 0); vmw(GUEST_PENDING_DBG, 0);
  vmw(GUEST_DEBUGCTL, 0);
  vmw(GUEST_SYSENTER_CS, 0); vmw(GUEST_SYSENTER_ESP, 0); vmw(GUEST_SYSENTER_EIP, 0);
  vmw(GUEST_EFER, l1_efer);
  vmw(VMCS_LINK_PTR, ~0ull);
}

void vmcs_default(u8 *vmcs, void *rip) {
  *(u32 *)vmcs = rev_id;
  int r = vmclear((uptr)vmcs);
  if (!r) r = vmptrld((uptr)vmcs);
  if (r) { printf("FAIL vmcs-load: got %d want 0\n", r); vmxt_finish("vmxtests"); }
  launched = 0;
  vmw(PIN_CTLS, ctl(0, msr_pin));
  vmw(PROC_CTLS, ctl(0, msr_proc) & ~(PROC_CR3_LOAD | PROC_CR3_STORE));
  vmw(EXIT_CTLS, ctl(EXIT_HOST_64 | EXIT_LOAD_EFER | EXIT_SAVE_EFER, msr_exit));
  vmw(ENTRY_CTLS, ctl(ENTRY_IA32E | ENTRY_LOAD_EFER, msr_entry));
  vmw(EXC_BITMAP, 0xffffffff);
  vmw(PF_ERR_MASK, 0); vmw(PF_ERR_MATCH, 0);
  vmw(CR3_TARGET_COUNT, 0);
  vmw(EXIT_MSR_STORE_COUNT, 0); vmw(EXIT_MSR_LOAD_COUNT, 0); vmw(ENTRY_MSR_LOAD_COUNT, 0);
  vmw(ENTRY_INTR_INFO, 0);
  vmw(CR0_MASK, 0); vmw(CR4_MASK, 0);
  vmcs_host_state();
  vmcs_guest_state(rip);
}

long run_guest(void) {
  int r = vm_enter(guest_regs, launched);
  if (r) return -r;
  u32 reason = (u32)vmread(EXIT_REASON);
  if (!(reason & EXIT_FAILED)) launched = 1;
  return (reason & EXIT_FAILED) ? (long)(reason & (EXIT_FAILED | 0xffff)) : (long)(reason & 0xffff);
}
long run_at(void *rip) {
  vmw(GUEST_RIP, (uptr)rip);
  vmw(GUEST_RSP, (uptr)(l2_stack + sizeof l2_stack));
  vmw(GUEST_RFLAGS, 2);
  vmw(GUEST_ACTIVITY, 0);
  vmw(GUEST_INTERRUPTIBILITY, 0);
  return run_guest();
}

u64 ept_pml4[512] __attribute__((aligned(4096)));
u64 ept_pdpt[512] __attribute__((aligned(4096)));
u64 ept_pd[512] __attribute__((aligned(4096)));
static u64 ept_pts[4][512] __attribute__((aligned(4096)));
static int ept_npts;
void ept_identity(void) {
  memset(ept_pml4, 0, 4096); memset(ept_pdpt, 0, 4096); memset(ept_pd, 0, 4096);
  ept_npts = 0;
  ept_pml4[0] = (uptr)ept_pdpt | 7;
  ept_pdpt[0] = (uptr)ept_pd | 7;
  for (u64 i = 0; i < 512; i++) ept_pd[i] = (i << 21) | (1u << 7) | (6 << 3) | 7;   /* 2 MiB, WB, RWX */
}
u64 *ept_pte4k(u64 gpa) {
  u64 *pde = &ept_pd[(gpa >> 21) & 511];
  if (*pde & (1u << 7)) {
    if (ept_npts == 4) { printf("FAIL ept-pts: out of EPT page tables\n"); vmxt_finish("vmxtests"); }
    u64 *pt = ept_pts[ept_npts++];
    u64 base = gpa & ~0x1fffffull;
    for (u64 i = 0; i < 512; i++) pt[i] = (base + (i << 12)) | (6 << 3) | 7;
    *pde = (uptr)pt | 7;
  }
  u64 *pt = (u64 *)(uptr)(*pde & 0xFFFFFFFFFF000ull);
  return &pt[(gpa >> 12) & 511];
}
u64 eptp_of(u64 *pml4, int ad) { return (uptr)pml4 | (3 << 3) | 6 | (ad ? 1u << 6 : 0); }
