/* vmxtests/ept: EPT translation (SDM 29.3): permissions and EPT violations with their
   qualification (Table 28-7: bit 0 read, 1 write, 2 fetch, 3-5 the entry's R/W/X, 7 guest linear
   address valid, 8 the access was the translation of that address (not a paging-structure
   access)), guest-physical and guest-linear address; EPT misconfigurations (29.3.3.1); remapping
   with 4 KiB and 2 MiB entries; accessed/dirty flags (29.3.5, EPTP bit 6); INVEPT and INVVPID
   making a changed translation visible. The L2 is L1's 64-bit code under an identity EPT. */
#include "vmxt.h"

GUEST(g_vmcall, "vmcall\n hlt");
GUEST(g_read, "mov (%rax), %rbx\n vmcall\n hlt");
GUEST(g_write, "movq $0x55, (%rax)\n vmcall\n hlt");
GUEST(g_jmp, "jmp *%rax");
GUEST(g_ud2, "ud2\n hlt");

static u8 tpage[6][4096] __attribute__((aligned(4096)));
static u8 ve_info[4096] __attribute__((aligned(4096)));
enum { EPTP_INDEX = 0x0004, VE_INFO_ADDR = 0x202A };
static u64 l2_pml4[512] __attribute__((aligned(4096)));
static u64 l2_pdpt[512] __attribute__((aligned(4096)));
static u64 l2_pd[512] __attribute__((aligned(4096)));
static u64 l2_pt[512] __attribute__((aligned(4096)));
extern u64 boot_pd[512];

#define LEAF(pa, perm) ((u64)(uptr)(pa) | (6 << 3) | (perm))
#define QMASK 0x1bf   /* bits 0-5, 7, 8 (bit 6 and 9+ depend on optional features) */

static void flush(void) { struct inv_desc d = { vmread(EPT_POINTER), 0 }; invept(2, &d); }
static long go(void *rip) { flush(); return run_at(rip); }
static void violation(const char *name, long r, u64 gpa, u64 gla, u64 qual, void *rip) {
  static char b[96]; int n = 0; const char *p = name;
  while (*p && n < 70) b[n++] = *p++;
  expect(name, (u64)r, EXIT_EPT_VIOLATION);
  if (r != EXIT_EPT_VIOLATION) return;
  memcpy(b + n, " qualification", 15); expect(b, vmread(EXIT_QUAL) & QMASK, qual);
  memcpy(b + n, " gpa", 5); expect(b, vmread(GUEST_PHYS_ADDR), gpa);
  if (qual & 0x80) { memcpy(b + n, " gla", 5); expect(b, vmread(GUEST_LINEAR_ADDR), gla); }
  if (rip) { memcpy(b + n, " rip", 5); expect(b, vmread(GUEST_RIP), (uptr)rip); }
}

int main(void) {
  vmxt_init("ept");
  if (!(ept_cap & (1u << 6))) { note("no EPT"); vmxt_finish("ept"); }
  vmxt_vmxon();
  int ad = (ept_cap >> 21) & 1, xonly = ept_cap & 1;
  u32 proc2_cap = (u32)(rdmsr(MSR_VMX_PROCBASED2) >> 32);
  ept_identity();
  for (int i = 0; i < 6; i++) { memset(tpage[i], 0, 4096); *(u64 *)tpage[i] = 0x1111111111111111ull * (u64)(i + 1); }
  u64 *pte[6];
  for (int i = 0; i < 6; i++) pte[i] = ept_pte4k((uptr)tpage[i]);
  vmcs_default(vmcs1, g_vmcall);
  vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY);
  vmw(PROC_CTLS2, PROC2_EPT);
  vmw(EPT_POINTER, eptp_of(ept_pml4, 0));
  expect("identity-ept-runs", go(g_vmcall), EXIT_VMCALL);
  guest_regs[G_RAX] = (uptr)tpage[0]; guest_regs[G_RBX] = 0;
  expect("identity-ept-read", go(g_read), EXIT_VMCALL);
  expect("identity-ept-read value", guest_regs[G_RBX], 0x1111111111111111ull);

  /* permissions */
  *pte[0] = 0;
  guest_regs[G_RAX] = (uptr)tpage[0] + 0x123;
  violation("read-not-present", go(g_read), (uptr)tpage[0] + 0x123, (uptr)tpage[0] + 0x123, 0x181, g_read);
  guest_regs[G_RAX] = (uptr)tpage[0] + 0x80;
  violation("write-not-present", go(g_write), (uptr)tpage[0] + 0x80, (uptr)tpage[0] + 0x80, 0x182, g_write);
  *pte[0] = LEAF(tpage[0], 1);   /* read-only */
  guest_regs[G_RAX] = (uptr)tpage[0];
  expect("read-only-read", go(g_read), EXIT_VMCALL);
  expect("read-only-read value", guest_regs[G_RBX], 0x1111111111111111ull);
  violation("read-only-write", go(g_write), (uptr)tpage[0], (uptr)tpage[0], 0x18a, g_write);
  expect("read-only-write not done", *(u64 *)tpage[0], 0x1111111111111111ull);
  *pte[0] = LEAF(tpage[0], 3);   /* read/write */
  expect("read-write-write", go(g_write), EXIT_VMCALL);
  expect("read-write-write value", *(u64 *)tpage[0], 0x55);
  /* fetch from a page without X: the page holds "vmcall; hlt" */
  memcpy(tpage[1], g_vmcall, 4);
  *pte[1] = LEAF(tpage[1], 3);
  guest_regs[G_RAX] = (uptr)tpage[1];
  violation("fetch-not-executable", go(g_jmp), (uptr)tpage[1], (uptr)tpage[1], 0x19c, tpage[1]);
  *pte[1] = LEAF(tpage[1], 7);
  expect("fetch-executable", go(g_jmp), EXIT_VMCALL);
  expect("fetch-executable rip", vmread(GUEST_RIP), (uptr)tpage[1]);
  if (xonly) {
    *pte[1] = LEAF(tpage[1], 4);
    expect("execute-only-fetch", go(g_jmp), EXIT_VMCALL);
    guest_regs[G_RAX] = (uptr)tpage[1] + 8;
    violation("execute-only-read", go(g_read), (uptr)tpage[1] + 8, (uptr)tpage[1] + 8, 0x1a1, g_read);
  }
  *pte[1] = LEAF(tpage[1], 7);

  /* misconfigurations: write without read, reserved memory type */
  *pte[2] = LEAF(tpage[2], 2);
  guest_regs[G_RAX] = (uptr)tpage[2] + 0x40;
  long r = go(g_read);
  expect("misconfig-write-only", r, EXIT_EPT_MISCONFIG);
  if (r == EXIT_EPT_MISCONFIG) expect("misconfig-write-only gpa", vmread(GUEST_PHYS_ADDR), (uptr)tpage[2] + 0x40);
  *pte[2] = (uptr)tpage[2] | (2 << 3) | 7;
  r = go(g_read);
  expect("misconfig-memory-type-2", r, EXIT_EPT_MISCONFIG);
  if (r == EXIT_EPT_MISCONFIG) expect("misconfig-memory-type-2 gpa", vmread(GUEST_PHYS_ADDR), (uptr)tpage[2] + 0x40);
  *pte[2] = (uptr)tpage[2] | (7 << 3) | 7;
  expect("misconfig-memory-type-7", go(g_read), EXIT_EPT_MISCONFIG);
  *pte[2] = LEAF(tpage[2], 7);

  /* remapping: GPA of tpage[3] -> tpage[4]; GPA 0x30000000 (2 MiB) -> host-physical 0 */
  *pte[3] = LEAF(tpage[4], 7);
  guest_regs[G_RAX] = (uptr)tpage[3];
  expect("remap-4k", go(g_read), EXIT_VMCALL);
  expect("remap-4k value", guest_regs[G_RBX], 0x5555555555555555ull);
  *pte[3] = LEAF(tpage[3], 7);
  u64 low = (uptr)tpage[5];
  if (low < (2u << 20)) {
    ept_pd[0x30000000 >> 21] = 0 | (1u << 7) | (6 << 3) | 7;
    guest_regs[G_RAX] = 0x30000000 + low;
    expect("remap-2m", go(g_read), EXIT_VMCALL);
    expect("remap-2m value", guest_regs[G_RBX], 0x6666666666666666ull);
  } else note("image above 2 MiB: 2M remap skipped");

  /* INVEPT: after the entry changes and INVEPT, the old translation is gone */
  guest_regs[G_RAX] = (uptr)tpage[3];
  expect("invept-before", go(g_read), EXIT_VMCALL);
  *pte[3] = 0;
  struct inv_desc d = { vmread(EPT_POINTER), 0 };
  if (ept_cap & (1u << 25)) {
    expect("invept-single-context", invept(1, &d), 0);
    violation("invept-after-single-context", run_at(g_read), (uptr)tpage[3], (uptr)tpage[3], 0x181, g_read);
  }
  *pte[3] = LEAF(tpage[3], 7);
  flush();

  /* EPT violation while delivering an exception: the IDT's page is not present; the exit
     reports the #UD being delivered in the IDT-vectoring information (SDM 28.2.4) */
  {
    struct { u16 limit; u64 base; } __attribute__((packed)) idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    u64 gate = idtr.base + 6 * 16;
    u64 *ipte = ept_pte4k(gate), save = *ipte;
    vmw(EXC_BITMAP, 0);
    *ipte = 0;
    violation("idt-not-present", go(g_ud2), gate, gate, 0x181, g_ud2);
    expect("idt-not-present idt-vectoring-info", vmread(IDT_VECT_INFO) & 0x80000fff, 0x80000306);
    *ipte = save;
    vmw(EXC_BITMAP, 0xffffffff);
    flush();
  }

  /* EPT violation on the guest's own paging-structure access: bit 8 clear, GPA = the PTE */
  for (int i = 0; i < 512; i++) l2_pd[i] = ((u64)i << 21) | 0x83;
  l2_pd[0x20000000 >> 21] = (uptr)l2_pt | 3;
  l2_pt[0] = (uptr)tpage[4] | 3;
  l2_pml4[0] = (uptr)l2_pdpt | 3; l2_pdpt[0] = (uptr)l2_pd | 3;
  vmw(GUEST_CR3, (uptr)l2_pml4);
  guest_regs[G_RAX] = 0x20000000;
  expect("own-page-tables-read", go(g_read), EXIT_VMCALL);
  expect("own-page-tables-read value", guest_regs[G_RBX], 0x5555555555555555ull);
  u64 *pt_pte = ept_pte4k((uptr)l2_pt);
  *pt_pte = 0;
  guest_regs[G_RAX] = 0x20000008;
  violation("paging-structure-not-present", go(g_read), (uptr)l2_pt + 8 * 0, 0x20000008, 0x081, g_read);
  *pt_pte = LEAF(l2_pt, 7);

  /* VPID + INVVPID: the L2 translation 0x20000000 -> tpage[4] is changed to tpage[5] by L1;
     after INVVPID (individual address) the L2 must see the new one */
  if ((proc2_cap & PROC2_VPID) && (ept_cap & (1ull << 40))) {
    vmw(PROC_CTLS2, PROC2_EPT | PROC2_VPID);
    vmw(VPID, 1);
    guest_regs[G_RAX] = 0x20000000;
    expect("vpid-read", go(g_read), EXIT_VMCALL);
    expect("vpid-read value", guest_regs[G_RBX], 0x5555555555555555ull);
    l2_pt[0] = (uptr)tpage[5] | 3;
    struct inv_desc v = { 1, 0x20000000 };
    expect("invvpid-individual-address", invvpid(0, &v), 0);
    expect("vpid-read-after-invvpid", run_at(g_read), EXIT_VMCALL);
    expect("vpid-read-after-invvpid value", guest_regs[G_RBX], 0x6666666666666666ull);
    l2_pt[0] = (uptr)tpage[4] | 3;
    struct inv_desc s = { 1, 0 };
    if (ept_cap & (1ull << 41)) {
      expect("invvpid-single-context", invvpid(1, &s), 0);
      expect("vpid-read-after-single-context", run_at(g_read), EXIT_VMCALL);
      expect("vpid-read-after-single-context value", guest_regs[G_RBX], 0x5555555555555555ull);
    }
    vmw(PROC_CTLS2, PROC2_EPT);
  }
  vmw(GUEST_CR3, read_cr3());

  /* accessed and dirty flags (bits 8, 9) */
  *pte[3] = LEAF(tpage[3], 7);
  guest_regs[G_RAX] = (uptr)tpage[3];
  expect("no-ad-read", go(g_read), EXIT_VMCALL);
  expect("no-ad-write", go(g_write), EXIT_VMCALL);
  expect("no-ad flags stay clear", *pte[3] & 0x300, 0);
  if (ad) {
    vmw(EPT_POINTER, eptp_of(ept_pml4, 1));
    u64 *pd_pte = ept_pte4k((uptr)boot_pd);
    *pd_pte &= ~0x300ull;
    u64 *pde = &ept_pd[((uptr)tpage[3] >> 21) & 511];
    *pde &= ~0x300ull;
    expect("ad-read", go(g_read), EXIT_VMCALL);
    expect("ad-read sets accessed", *pte[3] & 0x300, 0x100);
    expect("ad-read non-leaf accessed", *pde & 0x100, 0x100);
    expect("ad-write", go(g_write), EXIT_VMCALL);
    expect("ad-write sets dirty", *pte[3] & 0x300, 0x300);
    expect("ad-guest-paging-structure-access-is-write", *pd_pte & 0x300, 0x300);
    /* a read-only page with A/D on: guest page-walk writes to it need W */
    vmw(EPT_POINTER, eptp_of(ept_pml4, 0));
  } else note("no EPT A/D flags");
  /* EPT-violation #VE (SDM 26.5.7): a violation whose deciding EPT entry has bit 63 clear is a
     virtualization exception (vector 20) when the 32 bits at offset 4 of the information area
     are 0; the area gets exit reason 48, FFFFFFFFH, qualification, guest-linear and
     guest-physical address and the EPTP index. Exception bitmap bit 20 makes it a VM exit. */
  if (proc2_cap & (1u << 18)) {
    memset(ve_info, 0, sizeof ve_info);
    vmw(PROC_CTLS2, PROC2_EPT | (1u << 18));
    vmw(VE_INFO_ADDR, (uptr)ve_info); vmw(EPTP_INDEX, 5);
    *pte[0] = LEAF(tpage[0], 1);
    guest_regs[G_RAX] = (uptr)tpage[0] + 8;
    r = go(g_write);
    expect("ve-exception-bitmap-exit", (u64)r, EXIT_EXCEPTION);
    expect("ve-exception-bitmap-exit interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000314);
    expect("ve-exception-bitmap-exit rip", vmread(GUEST_RIP), (uptr)g_write);
    expect("ve-info exit reason", *(u32 *)ve_info, EXIT_EPT_VIOLATION);
    expect("ve-info semaphore", *(u32 *)(ve_info + 4), 0xffffffff);
    expect("ve-info qualification", *(u64 *)(ve_info + 8) & QMASK, 0x18a);
    expect("ve-info guest-linear", *(u64 *)(ve_info + 16), (uptr)tpage[0] + 8);
    expect("ve-info guest-physical", *(u64 *)(ve_info + 24), (uptr)tpage[0] + 8);
    expect("ve-info eptp-index", *(u16 *)(ve_info + 32), 5);
    violation("ve-semaphore-set-exits", go(g_write), (uptr)tpage[0] + 8, (uptr)tpage[0] + 8, 0x18a, g_write);
    *(u32 *)(ve_info + 4) = 0;
    *pte[0] = LEAF(tpage[0], 1) | (1ull << 63);
    violation("ve-suppressed-exits", go(g_write), (uptr)tpage[0] + 8, (uptr)tpage[0] + 8, 0x18a, g_write);
    expect("ve-suppressed semaphore untouched", *(u32 *)(ve_info + 4), 0);
    *pte[0] = 0;
    vmw(EXC_BITMAP, ~(1u << 20));
    fixup_ip = (uptr)g_vmcall; last_trap.vec = 0xff;
    expect("ve-delivered-to-l2", (u64)go(g_write), EXIT_VMCALL);
    expect("ve-delivered-to-l2 vector", last_trap.vec, 20);
    expect("ve-delivered-to-l2 ip", last_trap.ip, (uptr)g_write);
    expect("ve-delivered-to-l2 info qualification", *(u64 *)(ve_info + 8) & QMASK, 0x182);
    fixup_ip = 0;
    vmw(EXC_BITMAP, 0xffffffff);
    *pte[0] = LEAF(tpage[0], 7);
    vmw(PROC_CTLS2, PROC2_EPT);
  }
  vmxt_finish("ept");
}
