#define _GNU_SOURCE
// Native oracle: runs instruction bytes with random xmm0/xmm1/rax/mxcsr, prints results.
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <setjmp.h>
#include <ucontext.h>
static sigjmp_buf jb; static unsigned fmx; static uint64_t fx0[2], fx1[2], frax;
static void onfpe(int sig, siginfo_t *si, void *uc) {
  ucontext_t *u = uc; fmx = u->uc_mcontext.fpregs->mxcsr;
  memcpy(fx0, &u->uc_mcontext.fpregs->_xmm[0], 16); memcpy(fx1, &u->uc_mcontext.fpregs->_xmm[1], 16);
  frax = u->uc_mcontext.gregs[REG_RAX];
  u->uc_mcontext.fpregs->mxcsr = 0x1f80; siglongjmp(jb, 1);
}
typedef struct { uint32_t mxin, mxout; uint64_t x0[2], x1[2], out[2], rflags, rax, raxout, x1out[2], mm0out, mm1out; } St;
static uint64_t rnd64(void){ return ((uint64_t)rand()<<62) ^ ((uint64_t)rand()<<31) ^ rand(); }
static uint32_t f32v(void){
  static const uint32_t sp[] = {0,0x80000000,0x7f800000,0xff800000,0x7fc00000,0xffc00000,0x7f800001,0x7fa00000,0xffbfffff,
    0x00000001,0x807fffff,0x00800000,0x7f7fffff,0xff7fffff,0x3f800000,0xbf800000,0x4f000000,0xcf000000,0x4effffff,0x5f000000,0xdf000000,0x3f000000,0x4b800001};
  int k = rand()%6;
  if (k==0) return sp[rand()%(sizeof sp/4)];
  if (k==1) return (uint32_t)rnd64() & 0x807fffff;  // denormal/zero
  if (k==2) { uint32_t e = (rand()%2) ? (rand()%40) : (254 - rand()%40); return ((uint32_t)rnd64() & 0x807fffff) | (e<<23); }
  if (k==3) return ((uint32_t)rnd64() & 0x807fffff) | ((uint32_t)(120+rand()%20)<<23);
  return (uint32_t)rnd64();
}
static uint64_t f64v(void){
  static const uint64_t sp[] = {0,0x8000000000000000ull,0x7ff0000000000000ull,0xfff0000000000000ull,0x7ff8000000000000ull,0xfff8000000000001ull,
    0x7ff0000000000001ull,0x7ff4000000000000ull,1,0x800fffffffffffffull,0x0010000000000000ull,0x7fefffffffffffffull,0x3ff0000000000000ull,
    0x41e0000000000000ull,0xc1e0000000000000ull,0xc1e0000000100000ull,0x41dfffffffe00000ull,0x43e0000000000000ull,0xc3e0000000000000ull,
    0x47efffffe0000000ull,0x47efffff00000000ull,0x36a0000000000000ull,0x3690000000000000ull,0x3810000000000000ull};
  int k = rand()%6;
  if (k==0) return sp[rand()%(sizeof sp/8)];
  if (k==1) return rnd64() & 0x800fffffffffffffull;
  if (k==2) { uint64_t e = (rand()%2) ? (rand()%60) : (2046 - rand()%60); return (rnd64() & 0x800fffffffffffffull) | (e<<52); }
  if (k==3) { uint64_t e = 1023 - 200 + rand()%400; return (rnd64() & 0x800fffffffffffffull) | (e<<52); }
  if (k==4) { uint64_t e = 1023 - 160 + rand()%64; return (rnd64() & 0x800fffffffffffffull) | (e<<52); } // around f32 limits
  return rnd64();
}
int main(int argc, char **argv){
  // argv[1] = hex bytes of the instruction, argv[2] = element kind (s or d), argv[3] = count, argv[4]=seed
  const char *hex = argv[1]; int kind = argv[2][0]; int n = atoi(argv[3]); srand(atoi(argv[4]));
  uint8_t ins[16]; int il = 0; for (const char *p = hex; p[0] && p[1]; p += 2) { unsigned b; sscanf(p, "%2x", &b); ins[il++] = b; }
  uint8_t *m = mmap(0, 4096, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  uint8_t pre[] = {0x0f,0xae,0x17, 0xf3,0x0f,0x6f,0x47,0x08, 0xf3,0x0f,0x6f,0x4f,0x18, 0x48,0x8b,0x47,0x40}; // ldmxcsr [rdi]; movdqu xmm0,[rdi+8]; movdqu xmm1,[rdi+24]; mov rax,[rdi+64]
  uint8_t post[] = {0xf3,0x0f,0x7f,0x47,0x28, 0x0f,0xae,0x5f,0x04, 0x48,0x89,0x47,0x48, 0x9c, 0x58, 0x48,0x89,0x47,0x38, 0xf3,0x0f,0x7f,0x4f,0x50, 0xc3};
  // MMX mode (kind 'm'): movq mm0,[rdi+8]; movq mm1,[rdi+24] before; movq [rdi+40],mm0; movq [rdi+80],mm1; emms after.
  uint8_t prem[] = {0x0f,0x6f,0x47,0x08, 0x0f,0x6f,0x4f,0x18};
  uint8_t postm[] = {0x0f,0x7f,0x47,0x60, 0x0f,0x7f,0x4f,0x68, 0x0f,0x77};
  int mmx = kind == 'm' || kind == 'M' || kind == 'D';
  int o = 0; memcpy(m+o, pre, sizeof pre); o += sizeof pre; if (mmx) { memcpy(m+o, prem, sizeof prem); o += sizeof prem; }
  memcpy(m+o, ins, il); o += il; if (mmx) { memcpy(m+o, postm, sizeof postm); o += sizeof postm; } memcpy(m+o, post, sizeof post);
  void (*fn)(St*) = (void(*)(St*))m;
  int unmask = getenv("UNMASK") != 0;
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_sigaction = onfpe; sa.sa_flags = SA_SIGINFO | SA_NODEFER; sigaction(SIGFPE, &sa, 0);
  for (int i = 0; i < n; i++) {
    St s; memset(&s, 0, sizeof s);
    s.mxin = 0x1f80 | ((rand()%4) << 13) | ((rand()%4==0) ? 0x40 : 0) | ((rand()%4==0) ? 0x8000 : 0);
    if (kind == 's' || kind == 'M') { for (int j=0;j<2;j++){ s.x0[j] = f32v() | ((uint64_t)f32v()<<32); s.x1[j] = f32v() | ((uint64_t)f32v()<<32);} }
    else if (kind == 'd' || kind == 'D') { for (int j=0;j<2;j++){ s.x0[j]=f64v(); s.x1[j]=f64v(); } }
    else if (kind == 'z') { static const uint8_t al[] = {0,'a','b','c',0x80,0xff,'a','b'}; uint8_t *p0=(uint8_t*)s.x0, *p1=(uint8_t*)s.x1;
      int z0 = rand()%20, z1 = rand()%20; for (int j=0;j<16;j++){ p0[j]=al[rand()%8]; p1[j]=al[rand()%8]; if (p0[j]==0 && rand()%3) p0[j]='c'; if (p1[j]==0 && rand()%3) p1[j]='a'; }
      if (z0 < 16 && rand()%2) p0[z0] = 0; if (z1 < 16 && rand()%2) p1[z1] = 0; }
    else { for (int j=0;j<2;j++){ s.x0[j]=rnd64(); s.x1[j]=rnd64(); } }
    s.rax = (rand()%2) ? rnd64() : (uint64_t)(int64_t)(int32_t)rnd64();
    if (rand()%4==0) s.rax = (rand()%2) ? (rnd64() >> (rand()%64)) : -(int64_t)(rnd64() >> (rand()%64));
    if (unmask) for (int k = 7; k <= 12; k++) if (rand() % 3 == 0) s.mxin &= ~(1u << k);
    if (kind == 'z') s.rax = (uint64_t)(uint32_t)(rand()%40 - 20) | ((uint64_t)(uint32_t)(rand()%40 - 20) << 32);
    int faulted = 0;
    if (sigsetjmp(jb, 1)) { faulted = 1; s.mxout = fmx; memcpy(s.out, fx0, 16); memcpy(s.x1out, fx1, 16); s.raxout = frax; s.rflags = 0; }
    else fn(&s);
    if (mmx) { s.out[0] = s.mm0out; s.x1out[0] = s.mm1out; }
    printf("%x %016llx %016llx %016llx %016llx %016llx %x %016llx %016llx %016llx %llx %016llx %016llx %d\n", s.mxin,
      (unsigned long long)s.x0[0],(unsigned long long)s.x0[1],(unsigned long long)s.x1[0],(unsigned long long)s.x1[1],(unsigned long long)s.rax,
      s.mxout,(unsigned long long)s.out[0],(unsigned long long)s.out[1],(unsigned long long)s.raxout,(unsigned long long)(s.rflags & 0x8d5),
      (unsigned long long)s.x1out[0],(unsigned long long)s.x1out[1], faulted);
    if (unmask) { /* column 14: fault */ }
  }
  return 0;
}
