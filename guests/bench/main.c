/* bench: compute-bound 64-bit integer workload for `npm run bench`. BENCH_ROUNDS (a
   compile-time constant from build.conf) sets the size: bench.elf ~1e9 instructions,
   bench-smoke.elf one round. Each round: PRNG fill, hashing, sorting, a sieve, a small
   integer matrix multiply and a string scan; the final checksum depends on all of it. */
#include "rt.h"
#ifndef BENCH_ROUNDS
#define BENCH_ROUNDS 1
#endif
#define N 16384
static u64 a[N];
static u32 b[N];
static u8 comp[65536];
static u32 m1[32][32], m2[32][32], m3[32][32];
static char s[8192];

static u64 st;
static inline u64 rnd(void) { st ^= st >> 12; st ^= st << 25; st ^= st >> 27; return st * 0x2545F4914F6CDD1DULL; }

static void sort64(u64 *x, long lo, long hi) {
  while (hi - lo > 12) {
    u64 p = x[lo + (hi - lo) / 2]; long i = lo, j = hi;
    while (i <= j) { while (x[i] < p) i++; while (x[j] > p) j--; if (i <= j) { u64 t = x[i]; x[i] = x[j]; x[j] = t; i++; j--; } }
    if (j - lo < hi - i) { sort64(x, lo, j); lo = i; } else { sort64(x, i, hi); hi = j; }
  }
  for (long i = lo + 1; i <= hi; i++) { u64 v = x[i]; long j = i - 1; while (j >= lo && x[j] > v) { x[j + 1] = x[j]; j--; } x[j + 1] = v; }
}

static u64 round_(int r) {
  u64 h = 0xcbf29ce484222325ULL ^ (u64)r;
  for (int i = 0; i < N; i++) a[i] = rnd();
  for (int i = 0; i < N; i++) { h ^= a[i]; h *= 0x100000001b3ULL; h ^= h >> 29; }
  sort64(a, 0, N - 1);
  for (int i = 0; i < N; i += 97) h += a[i] * (u64)(i | 1);
  for (int i = 0; i < N; i++) b[i] = (u32)(a[i] >> 11) ^ (u32)i;
  u32 c = 0xffffffff;
  for (int i = 0; i < N; i++) { c ^= b[i]; for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & -(c & 1)); }
  h ^= c;
  memset(comp, 0, sizeof comp);
  u64 ps = 0;
  for (u32 i = 2; i < sizeof comp; i++) { if (comp[i]) continue; ps += i; for (u32 j = i * 2; j < sizeof comp; j += i) comp[j] = 1; }
  h += ps;
  for (int i = 0; i < 32; i++) for (int j = 0; j < 32; j++) { m1[i][j] = (u32)rnd(); m2[i][j] = (u32)rnd(); }
  for (int i = 0; i < 32; i++) for (int j = 0; j < 32; j++) { u32 t = 0; for (int k = 0; k < 32; k++) t += m1[i][k] * m2[k][j]; m3[i][j] = t; }
  for (int i = 0; i < 32; i++) h = h * 31 + m3[i][(i * 7) & 31];
  for (int i = 0; i < (int)sizeof s - 1; i++) s[i] = 'a' + (char)(rnd() % 26);
  s[sizeof s - 1] = 0;
  int cnt = 0;
  for (int i = 0; s[i]; i++) if (s[i] == 'n' && s[i + 1] == 'v' ) cnt++;
  u64 dv = 0;
  for (int i = 1; i < 2000; i++) dv += a[i] / (u64)(i * 3 + 1) + (u64)((int64_t)a[i] % (i + 5));
  return h + (u64)cnt * 1000003 + dv;
}

int main(void) {
  st = 0x9E3779B97F4A7C15ULL;
  u64 sum = 0;
  for (int r = 0; r < BENCH_ROUNDS; r++) sum = (sum << 7 | sum >> 57) ^ round_(r);
  printf("bench: %d rounds checksum 0x%016llx\n", BENCH_ROUNDS, (unsigned long long)sum);
  return 0;
}
