// Native executor for the differential test (tests/diff/run.mjs).
// Runs x86-64 test cases in user mode on the real CPU and reports the final state.
//
// Fixed mappings (the same virtual addresses nestvm uses):
//   CODE 0x10000000 (4 KiB, RWX): case bytes, then an exit trampoline; 0x800..0xfff is a
//        data pattern for RIP-relative reads.
//   DATA 0x20000000 (8 KiB): the data buffer, filled per case from a xorshift32 seed.
//   CTX  0x30000000 (4 KiB): register images the entry/exit stubs address absolutely,
//        and a private stack at its top.
//
// Protocol (little-endian, binary). stdin: u32 magic 'DIF1', u32 count, then per case:
//   u32 len, u32 fillSeed, u32 npatch, u32 pad, u8 code[len padded to 8],
//   u64 gpr[16], u64 rflags, u8 xmm[16][16], u32 mxcsr, u32 pad, {u32 off,u32 val}[npatch]
// stdout per case:
//   u32 status (0 completed, 1 exception), u32 vector, u32 errcode, u32 ndiff,
//   u64 faultAddr, u64 gpr[16], u64 rip, u64 rflags, u8 xmm[16][16], u32 mxcsr, u32 pad,
//   {u32 off, u32 val}[ndiff]  (u32 words of DATA that differ from the initial fill)
// On completion rip is the address of the end of the case bytes.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE 0x10000000UL
#define DATA 0x20000000UL
#define CTX 0x30000000UL
#define CODE_SIZE 0x1000
#define DATA_SIZE 0x2000
#define MAX_CODE 0x700

// CTX layout (must match the asm below).
#define C_GPR 0      // 16 x 8
#define C_FLAGS 128
#define C_ENTRY 144
#define C_HOSTSP 152
#define C_XMM 160    // 16 x 16
#define C_MXCSR 416
#define C_HOSTMX 420

__asm__(
  ".intel_syntax noprefix\n"
  ".text\n"
  ".globl enter_case\n"
  "enter_case:\n"
  "  push rbx\n push rbp\n push r12\n push r13\n push r14\n push r15\n"
  "  mov qword ptr [0x30000000+152], rsp\n"
  "  stmxcsr dword ptr [0x30000000+420]\n"
  "  ldmxcsr dword ptr [0x30000000+416]\n"
  "  movdqu xmm0, [0x30000000+160+0*16]\n  movdqu xmm1, [0x30000000+160+1*16]\n"
  "  movdqu xmm2, [0x30000000+160+2*16]\n  movdqu xmm3, [0x30000000+160+3*16]\n"
  "  movdqu xmm4, [0x30000000+160+4*16]\n  movdqu xmm5, [0x30000000+160+5*16]\n"
  "  movdqu xmm6, [0x30000000+160+6*16]\n  movdqu xmm7, [0x30000000+160+7*16]\n"
  "  movdqu xmm8, [0x30000000+160+8*16]\n  movdqu xmm9, [0x30000000+160+9*16]\n"
  "  movdqu xmm10, [0x30000000+160+10*16]\n  movdqu xmm11, [0x30000000+160+11*16]\n"
  "  movdqu xmm12, [0x30000000+160+12*16]\n  movdqu xmm13, [0x30000000+160+13*16]\n"
  "  movdqu xmm14, [0x30000000+160+14*16]\n  movdqu xmm15, [0x30000000+160+15*16]\n"
  "  mov rsp, 0x30001000\n"
  "  push qword ptr [0x30000000+128]\n"
  "  popfq\n"
  "  mov rax, qword ptr [0x30000000+0*8]\n  mov rcx, qword ptr [0x30000000+1*8]\n"
  "  mov rdx, qword ptr [0x30000000+2*8]\n  mov rbx, qword ptr [0x30000000+3*8]\n"
  "  mov rbp, qword ptr [0x30000000+5*8]\n"
  "  mov rsi, qword ptr [0x30000000+6*8]\n  mov rdi, qword ptr [0x30000000+7*8]\n"
  "  mov r8, qword ptr [0x30000000+8*8]\n  mov r9, qword ptr [0x30000000+9*8]\n"
  "  mov r10, qword ptr [0x30000000+10*8]\n  mov r11, qword ptr [0x30000000+11*8]\n"
  "  mov r12, qword ptr [0x30000000+12*8]\n  mov r13, qword ptr [0x30000000+13*8]\n"
  "  mov r14, qword ptr [0x30000000+14*8]\n  mov r15, qword ptr [0x30000000+15*8]\n"
  "  mov rsp, qword ptr [0x30000000+4*8]\n"
  "  jmp qword ptr [0x30000000+144]\n"
  ".globl exit_stub\n"
  "exit_stub:\n"
  "  mov qword ptr [0x30000000+0*8], rax\n  mov qword ptr [0x30000000+1*8], rcx\n"
  "  mov qword ptr [0x30000000+2*8], rdx\n  mov qword ptr [0x30000000+3*8], rbx\n"
  "  mov qword ptr [0x30000000+4*8], rsp\n  mov qword ptr [0x30000000+5*8], rbp\n"
  "  mov qword ptr [0x30000000+6*8], rsi\n  mov qword ptr [0x30000000+7*8], rdi\n"
  "  mov qword ptr [0x30000000+8*8], r8\n  mov qword ptr [0x30000000+9*8], r9\n"
  "  mov qword ptr [0x30000000+10*8], r10\n  mov qword ptr [0x30000000+11*8], r11\n"
  "  mov qword ptr [0x30000000+12*8], r12\n  mov qword ptr [0x30000000+13*8], r13\n"
  "  mov qword ptr [0x30000000+14*8], r14\n  mov qword ptr [0x30000000+15*8], r15\n"
  "  mov rsp, 0x30001000\n"
  "  pushfq\n"
  "  pop qword ptr [0x30000000+128]\n"
  "  movdqu [0x30000000+160+0*16], xmm0\n  movdqu [0x30000000+160+1*16], xmm1\n"
  "  movdqu [0x30000000+160+2*16], xmm2\n  movdqu [0x30000000+160+3*16], xmm3\n"
  "  movdqu [0x30000000+160+4*16], xmm4\n  movdqu [0x30000000+160+5*16], xmm5\n"
  "  movdqu [0x30000000+160+6*16], xmm6\n  movdqu [0x30000000+160+7*16], xmm7\n"
  "  movdqu [0x30000000+160+8*16], xmm8\n  movdqu [0x30000000+160+9*16], xmm9\n"
  "  movdqu [0x30000000+160+10*16], xmm10\n  movdqu [0x30000000+160+11*16], xmm11\n"
  "  movdqu [0x30000000+160+12*16], xmm12\n  movdqu [0x30000000+160+13*16], xmm13\n"
  "  movdqu [0x30000000+160+14*16], xmm14\n  movdqu [0x30000000+160+15*16], xmm15\n"
  "  stmxcsr dword ptr [0x30000000+416]\n"
  "  ldmxcsr dword ptr [0x30000000+420]\n"
  "  cld\n"
  "  mov rsp, qword ptr [0x30000000+152]\n"
  "  pop r15\n pop r14\n pop r13\n pop r12\n pop rbp\n pop rbx\n"
  "  xor eax, eax\n"
  "  ret\n"
  ".att_syntax prefix\n");

extern void enter_case(void);
extern char exit_stub[];

struct Out {
  uint32_t status, vector, err, ndiff;
  uint64_t faultAddr;
  uint64_t gpr[16];
  uint64_t rip, rflags;
  uint8_t xmm[16][16];
  uint32_t mxcsr, pad;
};

static sigjmp_buf jb;
static struct Out out;
static uint32_t hostMxcsr;

// ucontext gregs index for our GPR order rax rcx rdx rbx rsp rbp rsi rdi r8..r15.
static const int gregIdx[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

static void onSignal(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = (ucontext_t *)ucv;
  out.status = 1;
  out.vector = (uint32_t)uc->uc_mcontext.gregs[REG_TRAPNO];
  out.err = (uint32_t)uc->uc_mcontext.gregs[REG_ERR];
  out.faultAddr = (uint64_t)si->si_addr;
  for (int i = 0; i < 16; i++) out.gpr[i] = (uint64_t)uc->uc_mcontext.gregs[gregIdx[i]];
  out.rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
  out.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
  if (uc->uc_mcontext.fpregs) {
    memcpy(out.xmm, uc->uc_mcontext.fpregs->_xmm, 256);
    out.mxcsr = uc->uc_mcontext.fpregs->mxcsr;
  }
  (void)sig;
  siglongjmp(jb, 1);
}

static void *mapFixed(uint64_t addr, size_t size, int prot) {
  void *p = mmap((void *)addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != (void *)addr) {
    fprintf(stderr, "native: cannot map %#lx\n", (unsigned long)addr);
    exit(2);
  }
  return p;
}

static int readFull(void *p, size_t n) {
  return n == 0 || fread(p, 1, n, stdin) == n;
}

// xorshift32, identical in run.mjs.
static void fill(uint32_t *w, size_t n, uint32_t x) {
  if (x == 0) x = 0x9e3779b9;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    w[i] = x;
  }
}

int main(void) {
  uint8_t *code = mapFixed(CODE, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
  uint32_t *data = mapFixed(DATA, DATA_SIZE, PROT_READ | PROT_WRITE);
  uint8_t *ctx = mapFixed(CTX, 0x1000, PROT_READ | PROT_WRITE);
  static uint32_t init[DATA_SIZE / 4];

  static uint8_t altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onSignal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  __asm__ volatile("stmxcsr %0" : "=m"(hostMxcsr));

  uint32_t hdr[2];
  if (!readFull(hdr, 8) || hdr[0] != 0x31464944) { fprintf(stderr, "native: bad header\n"); return 2; }
  setvbuf(stdout, NULL, _IOFBF, 1 << 20);
  for (uint32_t c = 0; c < hdr[1]; c++) {
    uint32_t h[4];
    if (!readFull(h, 16)) { fprintf(stderr, "native: short input\n"); return 2; }
    uint32_t len = h[0], seed = h[1], npatch = h[2];
    if (len > MAX_CODE) { fprintf(stderr, "native: case too long\n"); return 2; }
    uint8_t buf[MAX_CODE + 8];
    if (!readFull(buf, (len + 7) & ~7u)) return 2;
    // Code page: pattern at 0x800.., case bytes, exit trampoline jmp [rip+0]; dq exit_stub.
    fill((uint32_t *)(code + 0x800), 0x200, seed ^ 0x5bd1e995);
    memcpy(code, buf, len);
    uint8_t *t = code + len;
    t[0] = 0xff; t[1] = 0x25; t[2] = t[3] = t[4] = t[5] = 0;
    uint64_t ex = (uint64_t)exit_stub;
    memcpy(t + 6, &ex, 8);
    if (!readFull(ctx + C_GPR, 136)) return 2;      // gpr + rflags
    if (!readFull(ctx + C_XMM, 256)) return 2;
    uint32_t mx[2];
    if (!readFull(mx, 8)) return 2;
    *(uint32_t *)(ctx + C_MXCSR) = mx[0];
    *(uint64_t *)(ctx + C_ENTRY) = CODE;
    fill(init, DATA_SIZE / 4, seed);
    for (uint32_t i = 0; i < npatch; i++) {
      uint32_t p[2];
      if (!readFull(p, 8)) return 2;
      if (p[0] < DATA_SIZE / 4) init[p[0]] = p[1];
    }
    memcpy(data, init, DATA_SIZE);
    memset(&out, 0, sizeof out);
    if (sigsetjmp(jb, 1) == 0) {
      enter_case();
      out.status = 0;
      memcpy(out.gpr, ctx + C_GPR, 128);
      out.rflags = *(uint64_t *)(ctx + C_FLAGS);
      out.rip = CODE + len;
      memcpy(out.xmm, ctx + C_XMM, 256);
      out.mxcsr = *(uint32_t *)(ctx + C_MXCSR);
    } else {
      __asm__ volatile("ldmxcsr %0" : : "m"(hostMxcsr));
      __asm__ volatile("cld");
    }
    uint32_t nd = 0;
    static uint32_t diffs[DATA_SIZE / 4 * 2];
    for (uint32_t i = 0; i < DATA_SIZE / 4; i++)
      if (data[i] != init[i]) { diffs[nd * 2] = i * 4; diffs[nd * 2 + 1] = data[i]; nd++; }
    out.ndiff = nd;
    fwrite(&out, sizeof out, 1, stdout);
    fwrite(diffs, 8, nd, stdout);
  }
  fflush(stdout);
  return 0;
}
