/* vmxtests/nest: L1 -> L2 -> L3. L1 gives its L2 VMX: VMXON, VMCLEAR, VMPTRLD, VMLAUNCH and
   VMRESUME of the L2 exit to L1 and are emulated there; VMREAD/VMWRITE of the L2 go to a shadow
   VMCS (VMCS shadowing, SDM 25.10, 26.3 "VMREAD/VMWRITE bitmaps") without exits, except VMREADs
   of the exit-information fields, which L1 answers from the exit of L3 it reflected. The L2 (the
   same harness code, running in VMX non-root operation) launches an L3 that prints, exits with
   VMCALL, CPUID and #UD to the L2, and the L2 checks what it sees. L1 runs the L3 with its own VMCS
   (vmcs02) built from the L2's shadow VMCS (vmcs12). Everything shares L1's address space. */
#include "vmxt.h"

static u8 rd_bitmap[4096] __attribute__((aligned(4096)));
static u8 wr_bitmap[4096] __attribute__((aligned(4096)));
static u8 l2_vmxon_region[4096] __attribute__((aligned(4096)));
static u8 l2_vmcs12[4096] __attribute__((aligned(4096)));   /* the L2's idea of its VMCS */
static u8 l3_stack[8192] __attribute__((aligned(16)));
static u64 l2regs[15], l3regs_l1[15], l3regs_l2[15];
static u64 exit12[5];   /* reason, qualification, instruction length, interruption info, guest-physical address */
static u8 l3_pages[2][4096] __attribute__((aligned(4096)));   /* L2's EPT maps [0] to [1] for L3 */
static int l2_ept;   /* the L2 gives its L3 an EPT (when the CPU has EPT) */
static int l2_exits[64];

/* ---- L3 ---- */
static void l3_main(void) {
  puts_("L3: hello from level 3\n");
  __asm__ volatile("vmcall" :: "a"(1), "b"(0x1337) : "memory");
  u32 a, b, c, d;
  cpuid(0x4c330000, 0, &a, &b, &c, &d);
  if (b == 0x4c324f4b) puts_("L3: CPUID answered by L2\n");
  else puts_("L3: CPUID not answered by L2\n");
  __asm__ volatile("ud2");   /* the L2 intercepts #UD and skips it */
  puts_("L3: past ud2\n");
  if (l2_ept) {
    u64 v = *(volatile u64 *)l3_pages[0];   /* the L2's EPT maps this page to l3_pages[1] */
    __asm__ volatile("vmcall" :: "a"(3), "b"(v) : "memory");
    v = *(volatile u64 *)(l3_pages[1] + 8);   /* not present in the L2's EPT until it maps it */
    __asm__ volatile("vmcall" :: "a"(4), "b"(v) : "memory");
  }
  __asm__ volatile("vmcall" :: "a"(2), "b"(b) : "memory");
  for (;;) __asm__ volatile("hlt");
}

/* ---- L2: a guest hypervisor, VMX non-root ---- */
static int shadowed;
static void l2_main(void) {
  printf("L2: in VMX non-root operation (%s), starting an L3\n", shadowed ? "VMREAD/VMWRITE shadowed" : "VMREAD/VMWRITE trapped");
  *(u32 *)l2_vmxon_region = rev_id;
  expect("l2-vmxon", vmxon((uptr)l2_vmxon_region), 0);
  vmcs_default(l2_vmcs12, l3_main);   /* VMCLEAR + VMPTRLD (emulated), VMWRITEs (shadowed) */
  if (l2_ept) {   /* an identity EPT with l3_pages[0] -> l3_pages[1] and l3_pages[1] not present */
    ept_identity();
    *ept_pte4k((uptr)l3_pages[0]) = (uptr)l3_pages[1] | (6 << 3) | 7;
    *ept_pte4k((uptr)l3_pages[1]) = 0;
    *(u64 *)l3_pages[0] = 0x1010101010101010ull; *(u64 *)l3_pages[1] = 0x2020202020202020ull;
    *(u64 *)(l3_pages[1] + 8) = 0x3030303030303030ull;
    vmw(PROC_CTLS, ctl(PROC_SECONDARY, msr_proc) & ~(PROC_CR3_LOAD | PROC_CR3_STORE));
    vmw(PROC_CTLS2, PROC2_EPT);
    vmw(EPT_POINTER, eptp_of(ept_pml4, 0));
  }
  /* GUEST_RSP through memory operands: VMWRITE from base + index * 8 + 8, VMREAD to base + 24 */
  static u64 memops[4];
  memops[2] = (uptr)(l3_stack + sizeof l3_stack - 8); memops[3] = 0;
  __asm__ volatile("vmwrite 8(%0,%1,8), %2\n\tvmread %2, 24(%0)" :: "r"(memops), "r"(1ull), "r"((u64)GUEST_RSP) : "cc", "memory");
  expect("l2-vmwrite-vmread-memory-operands", memops[3], (uptr)(l3_stack + sizeof l3_stack - 8));
  u64 v = 0;
  expect("l2-vmread-own-write", (vmread_s(GUEST_RIP, &v), v), (uptr)l3_main);
  int r = vm_enter(l3regs_l2, 0);
  expect("l2-vmlaunch-l3", r, 0);
  expect("l2-sees-l3-vmcall", vmread(EXIT_REASON), EXIT_VMCALL);
  expect("l2-sees-l3-vmcall len", vmread(EXIT_INSTR_LEN), 3);
  expect("l2-sees-l3-rbx", l3regs_l2[G_RBX], 0x1337);
  expect("l2-sees-l3-rax", l3regs_l2[G_RAX], 1);
  vmw(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSTR_LEN));
  r = vm_enter(l3regs_l2, 1);
  expect("l2-vmresume-l3", r, 0);
  expect("l2-sees-l3-cpuid", vmread(EXIT_REASON), EXIT_CPUID);
  expect("l2-sees-l3-cpuid leaf", (u32)l3regs_l2[G_RAX], 0x4c330000);
  l3regs_l2[G_RBX] = 0x4c324f4b;   /* "KO2L": L2's answer */
  vmw(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSTR_LEN));
  r = vm_enter(l3regs_l2, 1);
  expect("l2-vmresume-l3-2", r, 0);
  expect("l2-sees-l3-exception", vmread(EXIT_REASON), EXIT_EXCEPTION);
  expect("l2-sees-l3-exception interruption-info", vmread(EXIT_INTR_INFO) & 0x80000fff, 0x80000306);
  vmw(GUEST_RIP, vmread(GUEST_RIP) + 2);
  if (l2_ept) {
    r = vm_enter(l3regs_l2, 1);
    expect("l2-sees-l3-vmcall-3", vmread(EXIT_REASON), EXIT_VMCALL);
    expect("l2-ept-remap-seen-by-l3", l3regs_l2[G_RBX], 0x2020202020202020ull);
    vmw(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSTR_LEN));
    r = vm_enter(l3regs_l2, 1);
    expect("l2-sees-l3-ept-violation", vmread(EXIT_REASON), EXIT_EPT_VIOLATION);
    expect("l2-sees-l3-ept-violation gpa", vmread(GUEST_PHYS_ADDR), (uptr)l3_pages[1] + 8);
    expect("l2-sees-l3-ept-violation qualification", vmread(EXIT_QUAL) & 0x1bf, 0x181);
    *ept_pte4k((uptr)l3_pages[1]) = (uptr)l3_pages[1] | (6 << 3) | 7;
    struct inv_desc d = { eptp_of(ept_pml4, 0), 0 };
    expect("l2-invept", invept(2, &d), 0);
    r = vm_enter(l3regs_l2, 1);   /* the load is retried */
    expect("l2-sees-l3-vmcall-4", vmread(EXIT_REASON), EXIT_VMCALL);
    expect("l2-ept-mapped-page-seen-by-l3", l3regs_l2[G_RBX], 0x3030303030303030ull);
    vmw(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSTR_LEN));
  }
  r = vm_enter(l3regs_l2, 1);
  expect("l2-vmresume-l3-again", r, 0);
  expect("l2-sees-l3-second-vmcall", vmread(EXIT_REASON), EXIT_VMCALL);
  expect("l2-sees-l3-got-answer", l3regs_l2[G_RBX], 0x4c324f4b);
  printf("L2: L3 done, back to L1\n");
  __asm__ volatile("vmcall" :: "a"(0xd0e) : "memory");
  for (;;) __asm__ volatile("hlt");
}

/* ---- L1 ---- */
static u64 *gpr(unsigned n) {   /* instruction-information register number -> l2regs slot */
  static const int map[16] = { G_RAX, G_RCX, G_RDX, G_RBX, -1, G_RBP, G_RSI, G_RDI, 7, 8, 9, 10, 11, 12, 13, 14 };
  return map[n & 15] < 0 ? 0 : &l2regs[map[n & 15]];
}
static void skip_ok(void) {   /* emulated VMX instruction: VMsucceed (SDM 31.2) */
  vmw(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSTR_LEN));
  vmw(GUEST_RFLAGS, vmread(GUEST_RFLAGS) & ~0x8d5ull);
}
static void shadow_begin(void) { vmptrld((uptr)vmcs2); }
static void shadow_end(void) { vmclear((uptr)vmcs2); vmptrld((uptr)vmcs1); }
static int launched02, vmwrite_exits, l3_runs;
static u64 reg_value(unsigned n) { u64 *p = gpr(n); return p ? *p : vmread(GUEST_RSP); }
/* memory operand of a VMREAD/VMWRITE exit: base + index << scale + displacement (qualification),
   instruction information bits 27:23 base (27 = none), 22:18 index (22 = none), 1:0 scale, 9:7
   address size (SDM 28.2.5, Table 28-13); segment bases are 0 here */
static u64 operand_addr(u32 info) {
  u64 a = vmread(EXIT_QUAL);
  if (!(info & (1u << 27))) a += reg_value((info >> 23) & 15);
  if (!(info & (1u << 22))) a += reg_value((info >> 18) & 15) << (info & 3);
  unsigned as = (info >> 7) & 7;
  return as == 0 ? (a & 0xffff) : as == 1 ? (a & 0xffffffffull) : a;
}
static int exit_info_field(u64 f) { return (f >= 0x4400 && f <= 0x440e) || (f >= 0x6400 && f <= 0x640a) || f == 0x2400 || f == 0x2401; }
extern char vm_exit_point[];

/* The L2 did VMLAUNCH/VMRESUME: run L3 under vmcs02 until its next exit, reflect it to L2. */
static void run_l3(int launch) {
  shadow_begin();
  u64 rip = vmread(GUEST_RIP), rsp = vmread(GUEST_RSP), rfl = vmread(GUEST_RFLAGS);
  u64 hrip = vmread(HOST_RIP), hrsp = vmread(HOST_RSP);
  u64 proc12 = vmread(PROC_CTLS), proc2_12 = vmread(PROC_CTLS2), eptp12 = vmread(EPT_POINTER);
  shadow_end();
  if (launch) { vmcs_default(vmcs3, (void *)(uptr)rip); launched02 = 0; }
  else vmptrld((uptr)vmcs3);
  vmw(GUEST_RIP, rip); vmw(GUEST_RSP, rsp); vmw(GUEST_RFLAGS, rfl);
  /* the L2's EPT: L2-physical = L1-physical (L1 runs the L2 without EPT), so vmcs02 uses the
     L2's EPT tables as they are */
  if ((proc12 & PROC_SECONDARY) && (proc2_12 & PROC2_EPT)) {
    vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY); vmw(PROC_CTLS2, PROC2_EPT); vmw(EPT_POINTER, eptp12);
  }
  memcpy(l3regs_l1, l2regs, sizeof l2regs);   /* GPRs pass through VM entry and exit */
  int r = vm_enter(l3regs_l1, launched02);
  if (r) { printf("FAIL l1-vmentry-l3: got %d want 0 (error %lu)\n", r, (unsigned long)vmread(VM_INSTR_ERROR)); vmxt_finish("nest"); }
  launched02 = 1;
  exit12[0] = vmread(EXIT_REASON); exit12[1] = vmread(EXIT_QUAL);
  exit12[2] = vmread(EXIT_INSTR_LEN); exit12[3] = vmread(EXIT_INTR_INFO);
  exit12[4] = vmread(GUEST_PHYS_ADDR);
  rip = vmread(GUEST_RIP); rsp = vmread(GUEST_RSP); rfl = vmread(GUEST_RFLAGS);
  shadow_begin();
  vmw(GUEST_RIP, rip); vmw(GUEST_RSP, rsp); vmw(GUEST_RFLAGS, rfl);
  shadow_end();
  memcpy(l2regs, l3regs_l1, sizeof l2regs);
  vmw(GUEST_RIP, hrip); vmw(GUEST_RSP, hrsp); vmw(GUEST_RFLAGS, 2);   /* L2's VM exit: host state */
}

/* One L1 -> L2 -> L3 run: shadow = 1: VMCS shadowing with only the exit-information fields
   trapped for VMREAD; shadow = 0: every VMREAD/VMWRITE of the L2 exits and L1 emulates it on
   the shadow VMCS (register and memory operands decoded from the instruction information). */
static void scenario(int shadow) {
  shadowed = shadow;
  check_prefix = shadow ? "shadowing " : "trapping ";
  memset(l2regs, 0, sizeof l2regs); memset(l3regs_l2, 0, sizeof l3regs_l2); memset(l2_exits, 0, sizeof l2_exits);
  vmwrite_exits = 0; launched02 = 0; l3_runs = 0;
  /* shadow VMCS: revision with bit 31 (shadow-VMCS indicator) */
  memset(vmcs2, 0, 4096);
  *(u32 *)vmcs2 = rev_id | 0x80000000u;
  expect("l1-vmclear-shadow", vmclear((uptr)vmcs2), 0);
  memset(rd_bitmap, shadow ? 0 : 0xff, 4096); memset(wr_bitmap, shadow ? 0 : 0xff, 4096);
  for (u32 f = 0x4400; f <= 0x440e; f += 2) rd_bitmap[f >> 3] |= 1u << (f & 7);
  for (u32 f = 0x6400; f <= 0x640a; f += 2) rd_bitmap[f >> 3] |= 1u << (f & 7);
  rd_bitmap[0x2400 >> 3] |= 3u << (0x2400 & 7);
  vmcs_default(vmcs1, l2_main);
  vmw(PROC_CTLS, vmread(PROC_CTLS) | PROC_SECONDARY);
  vmw(PROC_CTLS2, PROC2_SHADOW_VMCS);
  vmw(VMREAD_BITMAP, (uptr)rd_bitmap); vmw(VMWRITE_BITMAP, (uptr)wr_bitmap);
  vmw(VMCS_LINK_PTR, (uptr)vmcs2);
  vmw(EXC_BITMAP, 0xffffffff);
  vmw(GUEST_RSP, (uptr)(l2_stack + sizeof l2_stack - 8));   /* as after a call */
  int launched01 = 0;
  for (;;) {
    int r = vm_enter(l2regs, launched01);
    if (r) { printf("FAIL l1-vmentry-l2: got %d want 0 (error %lu)\n", r, (unsigned long)vmread(VM_INSTR_ERROR)); break; }
    launched01 = 1;
    u32 reason = (u32)vmread(EXIT_REASON) & 0xffff;
    if (reason < 64) l2_exits[reason]++;
    if (reason == EXIT_VMXON || reason == EXIT_VMCLEAR || reason == EXIT_VMPTRLD) { skip_ok(); continue; }
    if (reason == EXIT_RDMSR) {
      u64 m = rdmsr((u32)l2regs[G_RCX]);
      l2regs[G_RAX] = (u32)m; l2regs[G_RDX] = m >> 32;
      vmw(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSTR_LEN));
      continue;
    }
    if (reason == EXIT_VMREAD || reason == EXIT_VMWRITE) {
      u32 info = (u32)vmread(EXIT_INSTR_INFO);
      u64 field = reg_value(info >> 28), val = 0;
      int reg = (info >> 10) & 1;
      u64 addr = reg ? 0 : operand_addr(info);
      if (reason == EXIT_VMREAD) {
        if (exit_info_field(field)) {
          if (field == EXIT_REASON) val = exit12[0];
          else if (field == EXIT_QUAL) val = exit12[1];
          else if (field == EXIT_INSTR_LEN) val = exit12[2];
          else if (field == EXIT_INTR_INFO) val = exit12[3];
          else if (field == GUEST_PHYS_ADDR) val = exit12[4];
        } else { shadow_begin(); vmread_s(field, &val); shadow_end(); }
        if (reg) { u64 *d = gpr(info >> 3); if (d) *d = val; else vmw(GUEST_RSP, val); }
        else *(u64 *)(uptr)addr = val;
      } else {
        val = reg ? reg_value(info >> 3) : *(u64 *)(uptr)addr;
        shadow_begin(); vmwrite_s(field, val); shadow_end();
        vmwrite_exits++;
      }
      skip_ok();
      continue;
    }
    if (reason == EXIT_INVEPT) {   /* the L2's EPT is used as is by vmcs02: flush it all */
      struct inv_desc d = { 0, 0 };
      invept(2, &d);
      skip_ok();
      continue;
    }
    if (reason == EXIT_VMLAUNCH || reason == EXIT_VMRESUME) {
      skip_ok();
      run_l3(reason == EXIT_VMLAUNCH);
      l3_runs++;
      continue;
    }
    if (reason == EXIT_VMCALL && (u32)l2regs[G_RAX] == 0xd0e) break;
    printf("FAIL l1-unexpected-l2-exit: reason %u rip 0x%lx qual 0x%lx\n", reason, (unsigned long)vmread(GUEST_RIP), (unsigned long)vmread(EXIT_QUAL));
    break;
  }
  expect("l1-l2-finished", (u32)l2regs[G_RAX], 0xd0e);
  expect("l1-l3-entries", l3_runs, l2_ept ? 7 : 4);
  expect("l1-vmlaunch-exits", l2_exits[EXIT_VMLAUNCH], 1);
  expect("l1-vmresume-exits", l2_exits[EXIT_VMRESUME], l2_ept ? 6 : 3);
  if (l2_ept) expect("l1-invept-exits", l2_exits[EXIT_INVEPT], 1);
  if (shadow) {
    expect("l1-no-vmwrite-exits (shadowed)", vmwrite_exits, 0);
    expect("l1-vmread-exits (exit-information fields only)", l2_exits[EXIT_VMREAD], l2_ept ? 15 : 8);
  } else {
    expect_true("l1-vmwrite-exits (all trapped)", vmwrite_exits >= 60, vmwrite_exits);
    expect("l1-vmread-exits (all trapped)", l2_exits[EXIT_VMREAD], l2_ept ? 22 : 13);
  }
  shadow_begin();
  expect("l1-shadow-has-l2-host-rip", vmread(HOST_RIP), (uptr)vm_exit_point);
  shadow_end();
  check_prefix = "";
}

int main(void) {
  vmxt_init("nest");
  vmxt_vmxon();
  u32 proc2_cap = (u32)(rdmsr(MSR_VMX_PROCBASED2) >> 32);
  if (!((rdmsr(msr_proc) >> 63) && (proc2_cap & PROC2_SHADOW_VMCS))) {
    note("no VMCS shadowing"); vmxt_finish("nest");
  }
  l2_ept = (proc2_cap & PROC2_EPT) && (ept_cap & (1u << 6)) && (ept_cap & (1u << 26));
  scenario(1);
  scenario(0);
  vmxt_finish("nest");
}
