/* minivisor: nestvm's bundled L1 hypervisor (64-bit, multiboot v1).
   Turns on VMX, builds an EPT per L2 guest, loads the L2 multiboot ELF32 images given as
   multiboot modules, runs them round-robin with the VMX-preemption timer, emulates their serial
   port, CPUID, VMCALL hypercalls, HLT, RDMSR(TSC) and lazily backs part of their memory on EPT
   violations. When every L2 has exited (isa-debug-exit port 0xf4, or the exit hypercall) it
   prints per-L2 exit statistics and exits with 0 if every L2 exited with 0.
   References: Intel SDM Vol. 3C chapters 24-31 (numbering of the 2023+ editions: 25 = VMCS,
   26 = non-root operation, 27 = VM entries, 28 = VM exits, 29 = address translation). */
#include "rt.h"

#include "vmx_defs.h"   /* VMCS field encodings, capability MSRs, control bits (SDM Appendix A, B) */

/* Exit reasons (SDM Appendix C) */
static const char *reason_name(unsigned r) {
  switch (r) {
  case 0: return "exception"; case 1: return "external-int"; case 2: return "triple-fault";
  case 10: return "cpuid"; case 12: return "hlt"; case 18: return "vmcall";
  case 28: return "cr-access"; case 30: return "io"; case 31: return "rdmsr"; case 32: return "wrmsr";
  case 33: return "bad-guest-state"; case 48: return "ept-violation"; case 49: return "ept-misconfig";
  case 52: return "preempt-timer";
  default: return "other";
  }
}

/* ---- VMX instruction wrappers ---- */
static int vmx_failed;
static u64 vmread(u64 f) {
  u64 v = 0;
  __asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(f) : "cc");
  return v;
}
static void vmwrite(u64 f, u64 v) {
  u8 bad;
  __asm__ volatile("vmwrite %2, %1; setbe %0" : "=q"(bad) : "r"(f), "rm"(v) : "cc", "memory");
  if (bad) {
    printf("minivisor: VMWRITE 0x%lx = 0x%lx failed (VM-instruction error %lu)\n",
           (unsigned long)f, (unsigned long)v, (unsigned long)vmread(VM_INSTR_ERROR));
    vmx_failed = 1;
  }
}
#define VMX_OP(name, insn) \
  static int name(u64 pa) { u8 bad; \
    __asm__ volatile(insn " %1; setbe %0" : "=q"(bad) : "m"(pa) : "cc", "memory"); return bad; }
VMX_OP(vmxon, "vmxon")
VMX_OP(vmclear, "vmclear")
VMX_OP(vmptrld, "vmptrld")

int vm_enter(u64 *gregs, int launched);
extern char vm_exit_point[];

/* ---- page allocator: bump allocation of zeroed 4 KiB pages above the image and modules ---- */
static u64 heap, heap_end;
static void *try_alloc_pages(u64 n) {
  heap = (heap + 4095) & ~4095ull;
  if (heap + n * 4096 > heap_end) return 0;
  void *p = (void *)(uptr)heap;
  heap += n * 4096;
  u64 cnt = n * 512; void *d = p;
  __asm__ volatile("rep stosq" : "+D"(d), "+c"(cnt) : "a"(0ull) : "memory");
  return p;
}
static void *alloc_pages(u64 n) {
  void *p = try_alloc_pages(n);
  if (!p) { printf("minivisor: out of memory\n"); exit(1); }
  return p;
}

/* ---- L2 guests ---- */
#define MAX_L2 4
#define L2_MEM (4u << 20)         /* guest-physical [0, 4 MiB): backed when the L2 is loaded */
#define L2_LAZY_END (32u << 20)   /* [4 MiB, 32 MiB): backed page by page on EPT violations */
#define L2_MBI 0x9000             /* multiboot info for the L2 */
#define L2_GDT 0x8000             /* flat 32-bit GDT as the L2's boot loader would leave it */
#define L2_PD 0xA000              /* identity 4 MiB-page directory, only without unrestricted guest */
#define SLICE_TSC 200000ull       /* time slice in TSC cycles */
#define NREASONS 64

enum { G_RAX, G_RBX, G_RCX, G_RDX, G_RSI, G_RDI, G_RBP, G_R8 };
struct l2 {
  u64 regs[15];
  char name[24];
  u8 *mem;             /* L1 address of guest-physical 0 (eager part) */
  u64 *ept_pml4;
  u8 *vmcs;
  int launched, alive, exit_code;
  u32 lazy_pages;
  u64 count[NREASONS], cycles[NREASONS];   /* exits and L1 handler TSC cycles per reason */
  u64 entries, guest_tsc;                   /* TSC cycles spent in VMX non-root operation */
  char line[160]; int linelen;
  u8 lcr;              /* emulated COM1 line control register (bit 7: DLAB) */
};
static struct l2 l2s[MAX_L2];
static int nl2;

static const u64 ept_pte_flags_leaf = 7 | (6 << 3);   /* RWX, memory type WB (SDM 29.3.7) */
static u64 *ept_walk(struct l2 *g, u64 gpa, int create) {
  u64 *t = g->ept_pml4;
  for (int level = 3; level > 0; level--) {
    unsigned idx = (gpa >> (12 + 9 * level)) & 511;
    if (!(t[idx] & 7)) {
      void *nt = create ? try_alloc_pages(1) : 0;
      if (!nt) return 0;
      t[idx] = (u64)(uptr)nt | 7;   /* non-leaf: RWX */
    }
    t = (u64 *)(uptr)(t[idx] & 0xFFFFFFFFFF000ull);
  }
  return &t[(gpa >> 12) & 511];
}
static int ept_map(struct l2 *g, u64 gpa, u64 hpa) {
  u64 *e = ept_walk(g, gpa, 1);
  if (!e) return -1;
  *e = hpa | ept_pte_flags_leaf;
  return 0;
}

static u8 *io_bitmap_a, *io_bitmap_b, *msr_bitmap;
static u32 pin_ctls, proc_ctls, proc2_ctls, exit_ctls, entry_ctls;
static u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1, vmx_basic, preempt_shift;
static int unrestricted, hlt_state;

/* Allowed settings: bits 31:0 of the capability MSR are the allowed 0-settings (1 = must be 1),
   bits 63:32 the allowed 1-settings (SDM A.3). */
static u32 adjust(u32 want, u32 msr, const char *what, u32 need) {
  u64 cap = rdmsr(msr);
  u32 v = (want | (u32)cap) & (u32)(cap >> 32);
  if ((v & need) != need) { printf("minivisor: %s control bits 0x%x not allowed (cap 0x%lx)\n", what, need & ~v, (unsigned long)cap); exit(1); }
  return v;
}

static void emit_line(struct l2 *g) {
  g->line[g->linelen] = 0;
  printf("[%s] %s\n", g->name, g->line);
  g->linelen = 0;
}
static void l2_putc(struct l2 *g, char c) {
  if (c == '\n') { emit_line(g); return; }
  if (c == '\r') return;
  if (g->linelen < (int)sizeof g->line - 1) g->line[g->linelen++] = c;
}

/* Translate an L2 guest-physical range to an L1 pointer (eager memory only). */
static void *gpa_ptr(struct l2 *g, u64 gpa, u64 len) {
  if (gpa >= L2_MEM || len > L2_MEM - gpa) return 0;
  return g->mem + gpa;
}

static int load_elf(struct l2 *g, const u8 *img, u32 size) {
  if (size < 52 || memcmp(img, "\x7f" "ELF", 4) || img[4] != 1) { printf("minivisor: %s: not an ELF32 image\n", g->name); return -1; }
  u32 phoff = *(const u32 *)(img + 28), entry = *(const u32 *)(img + 24);
  u16 phentsize = *(const u16 *)(img + 42), phnum = *(const u16 *)(img + 44);
  if (phentsize < 32) { printf("minivisor: %s: bad program header size\n", g->name); return -1; }
  for (int i = 0; i < phnum; i++) {
    const u8 *ph = img + phoff + (u32)i * phentsize;
    if ((u64)phoff + (u64)(i + 1) * phentsize > size) return -1;
    u32 type = *(const u32 *)ph, off = *(const u32 *)(ph + 4), pa = *(const u32 *)(ph + 12);
    u32 filesz = *(const u32 *)(ph + 16), memsz = *(const u32 *)(ph + 20);
    if (type != 1) continue;   /* PT_LOAD */
    u8 *dst = gpa_ptr(g, pa, memsz);
    if (!dst || filesz > memsz || (u64)off + filesz > size) { printf("minivisor: %s: PT_LOAD at 0x%x+0x%x does not fit\n", g->name, pa, memsz); return -1; }
    memcpy(dst, img + off, filesz);
    memset(dst + filesz, 0, memsz - filesz);
  }
  g->regs[G_RAX] = 0x2BADB002;
  g->regs[G_RBX] = L2_MBI;
  vmwrite(GUEST_RIP, entry);
  return 0;
}

static void setup_vmcs(struct l2 *g) {
  g->vmcs = alloc_pages(1);
  *(u32 *)g->vmcs = (u32)vmx_basic & 0x7fffffff;   /* revision identifier (SDM 25.2) */
  if (vmclear((uptr)g->vmcs) || vmptrld((uptr)g->vmcs)) { printf("minivisor: VMCLEAR/VMPTRLD failed\n"); exit(1); }
  /* controls */
  vmwrite(PIN_CTLS, pin_ctls);
  vmwrite(PROC_CTLS, proc_ctls);
  vmwrite(PROC_CTLS2, proc2_ctls);
  vmwrite(EXIT_CTLS, exit_ctls);
  vmwrite(ENTRY_CTLS, entry_ctls);
  vmwrite(EXC_BITMAP, 0);
  vmwrite(CR3_TARGET_COUNT, 0);
  vmwrite(EXIT_MSR_STORE_COUNT, 0);
  vmwrite(EXIT_MSR_LOAD_COUNT, 0);
  vmwrite(ENTRY_MSR_LOAD_COUNT, 0);
  vmwrite(ENTRY_INTR_INFO, 0);
  vmwrite(IO_BITMAP_A, (uptr)io_bitmap_a);
  vmwrite(IO_BITMAP_B, (uptr)io_bitmap_b);
  vmwrite(MSR_BITMAP, (uptr)msr_bitmap);
  vmwrite(TSC_OFFSET, 0);
  vmwrite(EPT_POINTER, (uptr)g->ept_pml4 | (3 << 3) | 6);   /* 4-level walk, WB (SDM 25.6.11) */
  vmwrite(VMCS_LINK_PTR, ~0ull);
  if (pin_ctls & PIN_PREEMPT_TIMER) vmwrite(PREEMPT_TIMER, SLICE_TSC >> preempt_shift);
  /* CR0/CR4: the L2 owns every bit except CR4.VMXE, which reads as 0 (SDM 26.3) */
  vmwrite(CR0_MASK, 0);
  vmwrite(CR4_MASK, 1u << 13);
  vmwrite(CR4_SHADOW, 0);

  /* host state (SDM 25.5, 27.2.2-27.2.4) */
  u16 cs, ss, ds, es, fs, gs;
  __asm__ volatile("mov %%cs, %0; mov %%ss, %1; mov %%ds, %2; mov %%es, %3; mov %%fs, %4; mov %%gs, %5"
                   : "=r"(cs), "=r"(ss), "=r"(ds), "=r"(es), "=r"(fs), "=r"(gs));
  struct { u16 limit; u64 base; } __attribute__((packed)) gdtr, idtr;
  __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
  vmwrite(HOST_CR0, read_cr0());
  vmwrite(HOST_CR3, read_cr3());
  vmwrite(HOST_CR4, read_cr4());
  vmwrite(HOST_CS_SEL, cs & ~7); vmwrite(HOST_SS_SEL, ss & ~7); vmwrite(HOST_DS_SEL, ds & ~7);
  vmwrite(HOST_ES_SEL, es & ~7); vmwrite(HOST_FS_SEL, fs & ~7); vmwrite(HOST_GS_SEL, gs & ~7);
  vmwrite(HOST_TR_SEL, SEL_TSS);
  vmwrite(HOST_FS_BASE, 0); vmwrite(HOST_GS_BASE, 0);
  vmwrite(HOST_TR_BASE, (uptr)&tss);
  vmwrite(HOST_GDTR_BASE, gdtr.base); vmwrite(HOST_IDTR_BASE, idtr.base);
  vmwrite(HOST_SYSENTER_CS, 0); vmwrite(HOST_SYSENTER_ESP, 0); vmwrite(HOST_SYSENTER_EIP, 0);
  if (exit_ctls & EXIT_LOAD_EFER) vmwrite(HOST_EFER, rdmsr(MSR_EFER));
  vmwrite(HOST_RIP, (uptr)vm_exit_point);

  /* guest state: what a multiboot loader leaves (Multiboot spec 3.2): 32-bit protected mode,
     paging off, flat CS/DS/ES/FS/GS/SS, EAX = magic, EBX = info. Without unrestricted guest
     CR0.PG must be 1 (SDM 27.3.1.1), so the L2 then starts with an identity 4 MiB-page map. */
  u64 cr0 = 0x11 | 0x20;   /* PE, ET, NE */
  u64 cr4 = 0;
  if (!unrestricted) { cr0 |= 0x80000000u; cr4 |= 0x10; }   /* PG, PSE */
  cr0 = (cr0 | (cr0_fixed0 & (unrestricted ? ~0x80000001ull : ~0ull))) & cr0_fixed1;
  cr4 = (cr4 | cr4_fixed0) & cr4_fixed1;
  vmwrite(GUEST_CR0, cr0);
  vmwrite(CR0_SHADOW, cr0);
  vmwrite(GUEST_CR3, unrestricted ? 0 : L2_PD);
  vmwrite(GUEST_CR4, cr4);
  vmwrite(GUEST_DR7, 0x400);
  vmwrite(GUEST_RSP, 0);
  vmwrite(GUEST_RFLAGS, 2);
  for (int s = SEG_ES; s <= SEG_TR; s++) {
    u16 sel = 0x10; u32 ar = 0xC093, limit = 0xFFFFFFFF;
    if (s == SEG_CS) { sel = 0x08; ar = 0xC09B; }
    if (s == SEG_LDTR) { sel = 0; ar = 0x10000; limit = 0; }           /* unusable */
    if (s == SEG_TR) { sel = 0; ar = 0x8B; limit = 0x67; }             /* busy 32-bit TSS */
    vmwrite(GUEST_ES_SEL + 2 * s, sel);
    vmwrite(GUEST_ES_LIMIT + 2 * s, limit);
    vmwrite(GUEST_ES_AR + 2 * s, ar);
    vmwrite(GUEST_ES_BASE + 2 * s, 0);
  }
  vmwrite(GUEST_GDTR_BASE, L2_GDT);
  vmwrite(0x4810, 23);           /* GDTR limit */
  vmwrite(GUEST_IDTR_BASE, 0); vmwrite(0x4812, 0x3ff);
  vmwrite(GUEST_INTERRUPTIBILITY, 0);
  vmwrite(GUEST_ACTIVITY, 0);
  vmwrite(GUEST_PENDING_DBG, 0);
  vmwrite(GUEST_DEBUGCTL, 0);
  vmwrite(GUEST_SYSENTER_CS, 0); vmwrite(GUEST_SYSENTER_ESP, 0); vmwrite(GUEST_SYSENTER_EIP, 0);
  if (entry_ctls & ENTRY_LOAD_EFER) vmwrite(GUEST_EFER, 0);
}

static int create_l2(const char *cmdline, const u8 *img, u32 size) {
  if (nl2 == MAX_L2) { printf("minivisor: more than %d modules, ignoring %s\n", MAX_L2, cmdline); return -1; }
  struct l2 *g = &l2s[nl2];
  /* name: basename of the first word of the module's command line, without ".elf" */
  const char *p = cmdline ? cmdline : "l2", *b = p;
  for (const char *q = p; *q && *q != ' '; q++) if (*q == '/') b = q + 1;
  int n = 0;
  while (b[n] && b[n] != ' ' && n < (int)sizeof g->name - 1) { g->name[n] = b[n]; n++; }
  if (n > 4 && !memcmp(g->name + n - 4, ".elf", 4)) n -= 4;
  g->name[n] = 0;

  g->mem = alloc_pages(L2_MEM / 4096);
  g->ept_pml4 = alloc_pages(1);
  for (u64 gpa = 0; gpa < L2_MEM; gpa += 4096)
    if (ept_map(g, gpa, (uptr)g->mem + gpa)) { printf("minivisor: out of memory\n"); exit(1); }
  /* flat GDT: null, code 0x08, data 0x10 */
  u64 *gdt2 = gpa_ptr(g, L2_GDT, 24);
  gdt2[1] = 0x00cf9b000000ffffull; gdt2[2] = 0x00cf93000000ffffull;
  u32 *pd = gpa_ptr(g, L2_PD, 4096);
  for (u32 i = 0; i < 1024; i++) pd[i] = (i << 22) | 0x83 | 0x4;   /* P RW US PS */
  u32 *mbi = gpa_ptr(g, L2_MBI, 64);
  mbi[0] = 1 | 64;                             /* mem_lower/mem_upper and memory map valid */
  mbi[1] = 639;
  mbi[2] = (L2_LAZY_END >> 10) - 1024;
  /* memory map (Multiboot spec 3.3): usable [0, 0x9fc00) and [1 MiB, end of the lazy region) */
  u32 *mm = gpa_ptr(g, L2_MBI + 0x100, 48);
  mm[0] = 20; mm[1] = 0; mm[2] = 0; mm[3] = 0x9fc00; mm[4] = 0; mm[5] = 1;
  mm[6] = 20; mm[7] = 0x100000; mm[8] = 0; mm[9] = L2_LAZY_END - 0x100000; mm[10] = 0; mm[11] = 1;
  mbi[11] = 48;                                /* mmap_length */
  mbi[12] = L2_MBI + 0x100;                    /* mmap_addr */
  setup_vmcs(g);
  if (load_elf(g, img, size)) return -1;
  if (vmx_failed) return -1;
  g->alive = 1;
  printf("minivisor: L2 %d '%s' loaded, entry 0x%lx, %u KiB + %u KiB lazily backed\n", nl2, g->name,
         (unsigned long)vmread(GUEST_RIP), L2_MEM >> 10, (L2_LAZY_END - L2_MEM) >> 10);
  printf("info: L2 %d memory at L1 0x%lx, EPT PML4 at 0x%lx\n", nl2, (unsigned long)(uptr)g->mem,
         (unsigned long)(uptr)g->ept_pml4);
  nl2++;
  return 0;
}

/* Emulated instruction done: advance RIP past it and end a blocking by STI or MOV SS it was in
   (the shadow covers only that instruction; SDM 25.4.2, and VM entry with the HLT activity
   state requires no STI blocking, SDM 27.3.1.5). */
static void skip_insn(void) {
  vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSTR_LEN));
  u64 intr = vmread(GUEST_INTERRUPTIBILITY);
  if (intr & 3) vmwrite(GUEST_INTERRUPTIBILITY, intr & ~3ull);
}

static void kill_l2(struct l2 *g, int code, const char *why) {
  if (g->linelen) emit_line(g);
  if (why) printf("minivisor: L2 '%s' stopped: %s (rip 0x%lx)\n", g->name, why, (unsigned long)vmread(GUEST_RIP));
  g->alive = 0; g->exit_code = code;
}

static void set_reg_sized(struct l2 *g, int r, unsigned size, u64 v) {
  u64 mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffull;
  g->regs[r] = size == 4 ? (v & mask) : ((g->regs[r] & ~mask) | (v & mask));
}

/* Returns 1 if the L2 should give up the CPU (time slice over, HLT, yield). */
static int handle_exit(struct l2 *g, u32 reason) {
  u64 qual = vmread(EXIT_QUAL);
  switch (reason) {
  case 10: {   /* CPUID (SDM 26.1.2: unconditional) */
    u32 leaf = (u32)g->regs[G_RAX], sub = (u32)g->regs[G_RCX], a, b, c, d;
    if ((leaf & 0xffffff00) == 0x40000000) {
      a = 0x40000000; memcpy(&b, "Mini", 4); memcpy(&c, "Viso", 4); memcpy(&d, "r L1", 4);
    } else {
      cpuid(leaf, sub, &a, &b, &c, &d);
      if (leaf == 1) { c &= ~(1u << 5); c |= 1u << 31; }   /* hide VMX, set "hypervisor" */
    }
    g->regs[G_RAX] = a; g->regs[G_RBX] = b; g->regs[G_RCX] = c; g->regs[G_RDX] = d;
    skip_insn();
    return 0;
  }
  case 12:     /* HLT */
    skip_insn();
    /* With interrupts enabled the L2 waits for its (passed-through) interrupt in the HLT
       activity state, if supported (IA32_VMX_MISC[6]); the preemption timer still ends its
       slice (SDM 26.5.1). With IF=0 there is nothing to wait for: it just gives up the CPU. */
    if ((vmread(GUEST_RFLAGS) & 0x200) && hlt_state) vmwrite(GUEST_ACTIVITY, 1);
    return 1;
  case 18: {   /* VMCALL: RAX = 0 ping, 1 puts(RBX = gpa, RCX = len), 2 exit(RBX), 3 yield */
    u64 nr = (u32)g->regs[G_RAX];
    skip_insn();
    if (nr == 0) { g->regs[G_RAX] = 0x4D56; return 0; }
    if (nr == 1) {
      const char *s = gpa_ptr(g, (u32)g->regs[G_RBX], (u32)g->regs[G_RCX]);
      if (!s) { g->regs[G_RAX] = (u64)-1; return 0; }
      for (u32 i = 0; i < (u32)g->regs[G_RCX]; i++) l2_putc(g, s[i]);
      g->regs[G_RAX] = 0; return 0;
    }
    if (nr == 2) { kill_l2(g, (int)(u32)g->regs[G_RBX], 0); return 1; }
    if (nr == 3) { g->regs[G_RAX] = 0; return 1; }
    g->regs[G_RAX] = (u64)-1;
    return 0;
  }
  case 30: {   /* I/O instruction; qualification SDM Table 28-5 */
    unsigned size = (qual & 7) + 1, in = (qual >> 3) & 1, port = (qual >> 16) & 0xffff;
    if (qual & 0x10) { kill_l2(g, 1, "string I/O not emulated"); return 1; }
    skip_insn();
    if (port == 0xf4 && !in) { kill_l2(g, (int)(u32)g->regs[G_RAX], 0); return 1; }
    /* COM1 (a 16550 as far as a polling driver needs it): THR output unless DLAB is set (then
       0x3f8/0x3f9 are the divisor latch); LCR kept; LSR reads "THR and TSR empty" */
    if (port == 0x3fb) { if (in) set_reg_sized(g, G_RAX, size, g->lcr); else g->lcr = (u8)g->regs[G_RAX]; return 0; }
    if (port == 0x3f8 && !in && !(g->lcr & 0x80)) { l2_putc(g, (char)g->regs[G_RAX]); return 0; }
    if (in) set_reg_sized(g, G_RAX, size, port == 0x3fd ? 0x60 : 0);
    return 0;
  }
  case 31:     /* RDMSR of a bitmap-trapped MSR: only IA32_TIME_STAMP_COUNTER */
    if ((u32)g->regs[G_RCX] == 0x10) {
      u64 t = rdtsc();
      g->regs[G_RAX] = (u32)t; g->regs[G_RDX] = t >> 32;
    } else { g->regs[G_RAX] = 0; g->regs[G_RDX] = 0; }
    skip_insn();
    return 0;
  case 32:
    skip_insn();
    return 0;
  case 48: {   /* EPT violation (SDM 29.3.3.2, qualification Table 28-7) */
    u64 gpa = vmread(GUEST_PHYS_ADDR);
    u64 *pte = ept_walk(g, gpa, 0);
    if (gpa >= L2_MEM && gpa < L2_LAZY_END && !(pte && (*pte & 7))) {
      /* back the page now; the violation itself invalidated cached translations of this
         guest-physical address (SDM 29.4.3.1), so no INVEPT is needed */
      void *page = try_alloc_pages(1);
      if (!page || ept_map(g, gpa & ~4095ull, (uptr)page)) { kill_l2(g, 1, "out of memory for a lazily backed page"); return 1; }
      g->lazy_pages++;
      return 0;
    }
    printf("minivisor: L2 '%s' EPT violation at gpa 0x%lx qual 0x%lx\n", g->name, (unsigned long)gpa, (unsigned long)qual);
    kill_l2(g, 1, "EPT violation outside its lazily backed memory");
    return 1;
  }
  case 52:     /* VMX-preemption timer expired (SDM 26.5.1): new slice, next L2 */
    vmwrite(PREEMPT_TIMER, SLICE_TSC >> preempt_shift);
    return 1;
  default: {
    static char buf[64];
    const char *hex = "0123456789abcdef"; int n = 0;
    const char *pre = "unhandled exit reason 0x"; while (*pre) buf[n++] = *pre++;
    for (int sh = 28; sh >= 0; sh -= 4) buf[n++] = hex[(reason >> sh) & 15];
    buf[n] = 0;
    if (reason == 0) printf("minivisor: interruption info 0x%lx qual 0x%lx\n", (unsigned long)vmread(EXIT_INTR_INFO), (unsigned long)qual);
    if (reason & 0x80000000u) printf("minivisor: VM-entry failure, qualification 0x%lx\n", (unsigned long)qual);
    kill_l2(g, 1, buf);
    return 1;
  }
  }
}

static void print_stats(void) {
  printf("minivisor: exit statistics (info lines: exits per reason, mean L1 handler TSC cycles per exit)\n");
  for (int i = 0; i < nl2; i++) {
    struct l2 *g = &l2s[i];
    u64 total = 0;
    for (int r = 0; r < NREASONS; r++) total += g->count[r];
    printf("L2 %d '%s': exit code %d, %lu lazily backed pages\n", i, g->name, g->exit_code,
           (unsigned long)g->lazy_pages);
    printf("info:   %lu VM entries, %lu exits\n", (unsigned long)g->entries, (unsigned long)total);
    for (int r = 0; r < NREASONS; r++)
      if (g->count[r])
        printf("info:   %16s %8lu exits %8lu cycles/exit\n", reason_name(r), (unsigned long)g->count[r],
               (unsigned long)(g->cycles[r] / g->count[r]));
    printf("info:   TSC cycles from VM entry to VM exit: %lu\n", (unsigned long)g->guest_tsc);
  }
}

struct mb_info { u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr; };
struct mb_mod { u32 start, end, string, reserved; };
extern char __image_end[];

int main(void) {
  printf("minivisor: L1 hypervisor starting\n");
  if (mb_magic != 0x2BADB002) { printf("minivisor: not booted by a multiboot loader\n"); return 1; }
  const struct mb_info *mbi = (const struct mb_info *)(uptr)mb_info;
  const struct mb_mod *mods = (const struct mb_mod *)(uptr)((mbi->flags & 8) ? mbi->mods_addr : 0);
  u32 nmods = (mbi->flags & 8) ? mbi->mods_count : 0;
  for (u32 i = 0; i < nmods; i++)
    printf("info: module %u: '%s', %u bytes\n", i, mods[i].string ? (const char *)(uptr)mods[i].string : "",
           mods[i].end - mods[i].start);
  u32 a, b, c, d;
  cpuid(1, 0, &a, &b, &c, &d);
  if (!(c & (1u << 5))) { printf("minivisor: CPUID.1:ECX.VMX is 0: no VMX\n"); return 1; }
  u64 fc = rdmsr(MSR_FEATURE_CONTROL);
  if (!(fc & 1)) { wrmsr(MSR_FEATURE_CONTROL, fc | 1 | 4); fc = rdmsr(MSR_FEATURE_CONTROL); }   /* lock, VMXON outside SMX */
  if (!(fc & 4)) { printf("minivisor: IA32_FEATURE_CONTROL 0x%lx locked without VMXON outside SMX\n", (unsigned long)fc); return 1; }
  vmx_basic = rdmsr(MSR_VMX_BASIC);
  u64 misc = rdmsr(MSR_VMX_MISC);
  preempt_shift = misc & 31;
  hlt_state = (misc >> 6) & 1;
#ifdef NO_HLT_STATE
  hlt_state = 0;
#endif
  printf("info: IA32_VMX_BASIC 0x%lx IA32_VMX_MISC 0x%lx IA32_FEATURE_CONTROL 0x%lx\n",
         (unsigned long)vmx_basic, (unsigned long)misc, (unsigned long)fc);
  int true_ctls = (vmx_basic >> 55) & 1;

  /* memory: everything after the image and the modules, up to the end of RAM (below 1 GiB,
     the identity-mapped part) */
  heap = (uptr)__image_end;
  u64 mem_end = (mbi->flags & 1) ? 0x100000ull + ((u64)mbi->mem_upper << 10) : 0x4000000ull;
  if (mem_end > (1ull << 30)) mem_end = 1ull << 30;
  for (u32 i = 0; i < nmods; i++) if (mods[i].end > heap) heap = mods[i].end;
  heap_end = mem_end;

  /* CR0/CR4 as VMX operation requires (SDM 24.8) */
  cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0); cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
  cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0); cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
  write_cr0((read_cr0() | cr0_fixed0) & cr0_fixed1);
  write_cr4(((read_cr4() | (1u << 13)) | cr4_fixed0) & cr4_fixed1);
  tss_init();   /* the host TR selector must not be 0 (SDM 27.2.3) */

  u8 *vmxon_region = alloc_pages(1);
  *(u32 *)vmxon_region = (u32)vmx_basic & 0x7fffffff;
  if (vmxon((uptr)vmxon_region)) { printf("minivisor: VMXON failed\n"); return 1; }
  printf("minivisor: VMXON ok\ninfo: VMCS revision 0x%x\n", (u32)vmx_basic & 0x7fffffff);

  /* controls, adjusted to the (TRUE_) capability MSRs (SDM A.3) */
  pin_ctls = adjust(PIN_PREEMPT_TIMER, true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED, "pin-based", 0);
  proc_ctls = adjust(PROC_HLT_EXIT | PROC_IO_BITMAPS | PROC_MSR_BITMAPS | PROC_SECONDARY,
                     true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED, "processor-based",
                     PROC_HLT_EXIT | PROC_IO_BITMAPS | PROC_SECONDARY);
  proc2_ctls = adjust(PROC2_EPT | PROC2_UNRESTRICTED, MSR_VMX_PROCBASED2, "secondary", PROC2_EPT);
  unrestricted = !!(proc2_ctls & PROC2_UNRESTRICTED);
  exit_ctls = adjust(EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_TIMER,
                     true_ctls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT, "VM-exit", EXIT_HOST_64);
  entry_ctls = adjust(ENTRY_LOAD_EFER, true_ctls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY, "VM-entry", 0);
  if (!(exit_ctls & EXIT_SAVE_TIMER)) pin_ctls &= ~PIN_PREEMPT_TIMER;   /* slices must survive other exits */
  if (!(pin_ctls & PIN_PREEMPT_TIMER)) exit_ctls &= ~EXIT_SAVE_TIMER;     /* SDM 27.2.1.2 */
  if (!(exit_ctls & EXIT_LOAD_EFER) || !(entry_ctls & ENTRY_LOAD_EFER)) { exit_ctls &= ~(EXIT_LOAD_EFER | EXIT_SAVE_EFER); entry_ctls &= ~ENTRY_LOAD_EFER; }
  u64 eptcap = rdmsr(MSR_VMX_EPT_VPID_CAP);
  if (!(eptcap & (1u << 6)) || !(eptcap & (1u << 14))) { printf("minivisor: EPT lacks 4-level walks or WB (cap 0x%lx)\n", (unsigned long)eptcap); return 1; }
  printf("info: controls pin 0x%x proc 0x%x proc2 0x%x exit 0x%x entry 0x%x; %s, preemption timer %s\n",
         pin_ctls, proc_ctls, proc2_ctls, exit_ctls, entry_ctls,
         unrestricted ? "unrestricted guest" : "paged L2 start", (pin_ctls & PIN_PREEMPT_TIMER) ? "on" : "off");

  /* I/O bitmaps: trap COM1 (0x3f8-0x3ff) and isa-debug-exit (0xf4); everything else passes
     through. MSR bitmap: trap RDMSR of IA32_TIME_STAMP_COUNTER only (SDM 25.6.4, 25.6.9). */
  io_bitmap_a = alloc_pages(1); io_bitmap_b = alloc_pages(1); msr_bitmap = alloc_pages(1);
  io_bitmap_a[0x3f8 / 8] = 0xff;
  io_bitmap_a[0xf4 / 8] |= 1u << (0xf4 % 8);
  msr_bitmap[0x10 / 8] |= 1u << (0x10 % 8);

  if (!nmods) { printf("minivisor: no L2 modules given\n"); return 1; }
  for (u32 i = 0; i < nmods; i++)
    create_l2(mods[i].string ? (const char *)(uptr)mods[i].string : 0,
              (const u8 *)(uptr)mods[i].start, mods[i].end - mods[i].start);
  if (!nl2) return 1;

  /* round-robin scheduler */
  int cur = 0, live = nl2, loaded = -1;
  while (live) {
    struct l2 *g = &l2s[cur];
    if (!g->alive) { cur = (cur + 1) % nl2; continue; }
    if (loaded != cur) { if (vmptrld((uptr)g->vmcs)) { printf("minivisor: VMPTRLD failed\n"); return 1; } loaded = cur; }
    u64 t0 = rdtsc();
    int r = vm_enter(g->regs, g->launched);
    u64 t1 = rdtsc();
    if (r) {
      printf("minivisor: VM%s of '%s' failed: %s (VM-instruction error %lu)\n", g->launched ? "RESUME" : "LAUNCH",
             g->name, r == 1 ? "VMfailInvalid" : "VMfailValid", r == 2 ? (unsigned long)vmread(VM_INSTR_ERROR) : 0ul);
      kill_l2(g, 1, 0); live--; continue;
    }
    g->launched = 1; g->entries++;
    g->guest_tsc += t1 - t0;
    u32 reason = (u32)vmread(EXIT_REASON);
    unsigned basic = reason & 0xffff;
    int yield = handle_exit(g, (reason & 0x80000000u) ? reason : basic);
    u64 t2 = rdtsc();
    if (basic < NREASONS) { g->count[basic]++; g->cycles[basic] += t2 - t1; }
    if (!g->alive) {
      live--;
      printf("minivisor: L2 '%s' exited with code %d\n", g->name, g->exit_code);
    }
    if (yield) cur = (cur + 1) % nl2;
  }
  print_stats();
  int rc = 0;
  for (int i = 0; i < nl2; i++) if (l2s[i].exit_code) rc = 1;
  printf("minivisor: all L2 guests done, exit %d\n", rc);
  return rc;
}
