/* alu64: integer work compiled by gcc -O2 for 64-bit mode. Every result is printed, so a
   core bug shows up as a wrong number against expected.txt (QEMU TCG and KVM agree on it). */
#include "rt.h"

#define N 2000
static u64 arr[N], arr2[N];
static u32 arr32[N];
static char text[4096];
static u64 rng_state;

static u64 xorshift64s(void) {
  u64 x = rng_state;
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

__attribute__((noinline)) static u32 crc32(const u8 *p, size_t n) {
  u32 c = 0xffffffff;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
  }
  return ~c;
}
__attribute__((noinline)) static u64 fnv1a(const u8 *p, size_t n) {
  u64 h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
  return h;
}
__attribute__((noinline)) static u32 adler32(const u8 *p, size_t n) {
  u32 a = 1, b = 0;
  for (size_t i = 0; i < n; i++) { a = (a + p[i]) % 65521; b = (b + a) % 65521; }
  return (b << 16) | a;
}

static void insertion(u64 *a, long lo, long hi) {
  for (long i = lo + 1; i <= hi; i++) {
    u64 v = a[i]; long j = i - 1;
    while (j >= lo && a[j] > v) { a[j + 1] = a[j]; j--; }
    a[j + 1] = v;
  }
}
__attribute__((noinline)) static void quicksort(u64 *a, long lo, long hi) {
  while (hi - lo > 16) {
    u64 p = a[lo + (hi - lo) / 2];
    long i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { u64 t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; } else { quicksort(a, i, hi); hi = j; }
  }
  insertion(a, lo, hi);
}
static void merge_sort32(u32 *a, u32 *tmp, int n) {
  for (int w = 1; w < n; w *= 2)
    for (int i = 0; i < n; i += 2 * w) {
      int l = i, m = i + w < n ? i + w : n, r = i + 2 * w < n ? i + 2 * w : n, k = i, x = l, y = m;
      while (x < m && y < r) tmp[k++] = (int32_t)a[x] <= (int32_t)a[y] ? a[x++] : a[y++];
      while (x < m) tmp[k++] = a[x++];
      while (y < r) tmp[k++] = a[y++];
      for (k = l; k < r; k++) a[k] = tmp[k];
    }
}

static volatile u64 vin[16] = { 0x123456789abcdef0ULL, 0xfedcba9876543210ULL, 7, 0xffffffffffffffffULL,
  0x8000000000000000ULL, 3, 1000000007, 0x5555555555555555ULL, 12345, 0x00000000ffffffffULL,
  0x7fffffffffffffffULL, 10, 0x0f0f0f0f0f0f0f0fULL, 1, 255, 0xdeadbeefcafebabeULL };

static int utoa_(u64 v, char *s) {
  char t[24]; int n = 0, k = 0;
  do { t[n++] = '0' + v % 10; v /= 10; } while (v);
  while (n) s[k++] = t[--n];
  s[k] = 0;
  return k;
}
static void reverse(char *s, int n) { for (int i = 0, j = n - 1; i < j; i++, j--) { char c = s[i]; s[i] = s[j]; s[j] = c; } }
static int find(const char *h, const char *n) {
  int hl = (int)strlen(h), nl = (int)strlen(n);
  for (int i = 0; i + nl <= hl; i++) if (!memcmp(h + i, n, nl)) return i;
  return -1;
}

int main(void) {
  printf("alu64: integer workload in 64-bit mode\n");
  /* data */
  rng_state = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < N; i++) arr[i] = xorshift64s();
  u8 *bytes = (u8 *)arr;
  printf("rng first 0x%016llx last 0x%016llx\n", (unsigned long long)arr[0], (unsigned long long)arr[N - 1]);
  printf("crc32 0x%08x\n", crc32(bytes, sizeof arr));
  printf("fnv1a 0x%016llx\n", (unsigned long long)fnv1a(bytes, sizeof arr));
  printf("adler32 0x%08x\n", adler32(bytes, sizeof arr));
  check("crc32 of \"123456789\"", crc32((const u8 *)"123456789", 9), 0xCBF43926);

  /* sorting */
  memcpy(arr2, arr, sizeof arr);
  quicksort(arr2, 0, N - 1);
  int sorted = 1; u64 sum = 0, xsum = 0;
  for (int i = 0; i < N; i++) { if (i && arr2[i - 1] > arr2[i]) sorted = 0; sum += arr2[i]; xsum ^= arr2[i] * (u64)(i + 1); }
  u64 sum0 = 0; for (int i = 0; i < N; i++) sum0 += arr[i];
  ok(sorted, "quicksort sorted");
  check("quicksort keeps sum", sum, sum0);
  printf("sorted min 0x%016llx max 0x%016llx weighted 0x%016llx\n", (unsigned long long)arr2[0], (unsigned long long)arr2[N - 1], (unsigned long long)xsum);
  static u32 tmp32[N];
  for (int i = 0; i < N; i++) arr32[i] = (u32)(arr[i] >> 17);
  merge_sort32(arr32, tmp32, N);
  int s2 = 1; for (int i = 1; i < N; i++) if ((int32_t)arr32[i - 1] > (int32_t)arr32[i]) s2 = 0;
  ok(s2, "merge sort signed 32-bit");
  printf("merge first %d last %d median %d\n", (int32_t)arr32[0], (int32_t)arr32[N - 1], (int32_t)arr32[N / 2]);

  /* strings */
  int pos = 0;
  for (int i = 0; i < 200; i++) { pos += utoa_(arr[i] % 1000003, text + pos); text[pos++] = ','; }
  text[pos] = 0;
  printf("text len %d crc 0x%08x\n", pos, crc32((u8 *)text, pos));
  reverse(text, pos);
  printf("reversed crc 0x%08x head %c%c%c%c\n", crc32((u8 *)text, pos), text[0], text[1], text[2], text[3]);
  reverse(text, pos);
  check("find substring", find("the quick brown fox jumps", "fox"), 16);
  check("find missing", (u64)(int64_t)find("abcabcabd", "abd"), 6);

  /* division */
  for (int i = 0; i < 16; i += 2) {
    u64 a = vin[i], b = vin[(i + 5) & 15] | 1;
    int64_t sa = (int64_t)a, sb = (int64_t)b;
    printf("div %016llx/%016llx u q=%llx r=%llx s q=%lld r=%lld\n", (unsigned long long)a, (unsigned long long)b,
           (unsigned long long)(a / b), (unsigned long long)(a % b), (long long)(sa / sb), (long long)(sa % sb));
  }
  u32 d32a = (u32)vin[0], d32b = (u32)vin[6];
  printf("div32 %u %u %d %d\n", d32a / d32b, d32a % d32b, (int32_t)d32a / -7, (int32_t)d32a % -7);
  check("signed div -7/2", (u64)((int64_t)-7 / (int64_t)vin[13] / 2), (u64)(int64_t)-3);

  /* bit tricks */
  u64 pc = 0, lz = 0, tz = 0, bs = 0, rot = 0;
  for (int i = 0; i < 16; i++) {
    u64 v = vin[i];
    pc += __builtin_popcountll(v);
    if (v) { lz += __builtin_clzll(v); tz += __builtin_ctzll(v); }
    bs ^= __builtin_bswap64(v) + __builtin_bswap32((u32)v);
    rot += (v << (i + 3)) | (v >> (64 - (i + 3)));
  }
  printf("popcount %llu clz %llu ctz %llu bswap 0x%016llx rot 0x%016llx\n", (unsigned long long)pc, (unsigned long long)lz,
         (unsigned long long)tz, (unsigned long long)bs, (unsigned long long)rot);
  check("popcount 0x5555..", __builtin_popcountll(vin[7]), 32);
  check("bsr 0x8000..", 63 - __builtin_clzll(vin[4]), 63);
  check("bswap64", __builtin_bswap64(vin[0]), 0xf0debc9a78563412ULL);

  /* 128-bit */
  unsigned __int128 p = (unsigned __int128)vin[0] * vin[1];
  __int128 sp = (__int128)(int64_t)vin[1] * (int64_t)vin[15];
  printf("mul128 hi 0x%016llx lo 0x%016llx\n", (unsigned long long)(p >> 64), (unsigned long long)p);
  printf("imul128 hi 0x%016llx lo 0x%016llx\n", (unsigned long long)((unsigned __int128)sp >> 64), (unsigned long long)sp);
  unsigned __int128 q = p / vin[6];
  printf("div128 hi 0x%016llx lo 0x%016llx rem %llu\n", (unsigned long long)(q >> 64), (unsigned long long)q, (unsigned long long)(p % vin[6]));
  check("mul128 max*max hi", (u64)(((unsigned __int128)vin[3] * vin[3]) >> 64), 0xfffffffffffffffeULL);

  /* flags-heavy asm: adc/sbb chain, cmov, setcc, shld/shrd, bt*, xadd, cmpxchg */
  u64 a0 = vin[3], a1 = vin[2], c0, c1;
  __asm__("mov %2, %0\n\tmov %3, %1\n\tadd $1, %0\n\tadc $0, %1" : "=&r"(c0), "=&r"(c1) : "r"(a0), "r"(a1));
  check("add/adc carry chain", c1 * 0x10000 + c0, 8 * 0x10000);
  u64 s0, s1;
  __asm__("xor %0, %0\n\txor %1, %1\n\tsub $1, %0\n\tsbb $0, %1" : "=&r"(s0), "=&r"(s1));
  check("sub/sbb borrow chain", s0 ^ s1, 0);
  u64 sh = vin[0], sh2 = vin[1];
  __asm__("shld $12, %1, %0" : "+r"(sh) : "r"(sh2));
  check("shld 12", sh, 0x456789abcdef0fedULL);
  sh = vin[0];
  __asm__("shrd $8, %1, %0" : "+r"(sh) : "r"(sh2));
  check("shrd 8", sh, 0x10123456789abcdeULL);
  u64 bt = vin[2]; u8 cf;
  __asm__("btc $1, %0\n\tsetc %1" : "+r"(bt), "=r"(cf));
  check("btc bit1 value", bt, 5); check("btc bit1 old CF", cf, 1);
  u64 xa = 40, xb = 2;
  __asm__("xadd %0, %1" : "+r"(xa), "+m"(xb));
  check("xadd", xa * 100 + xb, 2 * 100 + 42);
  u64 mem = 5, old = 5, nw = 9;
  u8 zf;
  __asm__ volatile("lock cmpxchg %3, %1\n\tsetz %2" : "+a"(old), "+m"(mem), "=r"(zf) : "r"(nw));
  check("cmpxchg success", mem * 10 + zf, 91);
  old = 5;
  __asm__ volatile("lock cmpxchg %3, %1\n\tsetz %2" : "+a"(old), "+m"(mem), "=r"(zf) : "r"(nw));
  check("cmpxchg failure loads rax", old * 10 + zf, 90);
  int64_t mn = (int64_t)vin[4];
  check("neg INT64_MIN", (u64)-mn, 0x8000000000000000ULL);
  u64 cm; __asm__("mov $1, %0\n\tcmp $3, %1\n\tcmovb %2, %0" : "=&r"(cm) : "r"(vin[2]), "r"(vin[14]));
  check("cmovb not taken", cm, 1);
  u32 m32 = 0xffffffff; u64 z = 0xffffffffffffffffULL;
  __asm__("mov %1, %k0" : "+r"(z) : "r"(m32));
  check("32-bit mov zero-extends", z, 0xffffffffULL);

  /* sieve and number theory */
  static u8 comp[100001];
  int primes = 0; u64 psum = 0;
  for (int i = 2; i <= 100000; i++) {
    if (comp[i]) continue;
    primes++; psum += i;
    for (int j = i * 2; j <= 100000; j += i) comp[j] = 1;
  }
  check("primes below 100000", primes, 9592);
  check("sum of primes below 100000", psum, 454396537);
  u64 g = vin[0], h = vin[1];
  while (h) { u64 t = g % h; g = h; h = t; }
  printf("gcd 0x%llx\n", (unsigned long long)g);
  u64 f0 = 0, f1 = 1;
  for (int i = 0; i < 90; i++) { u64 t = f0 + f1; f0 = f1; f1 = t; }
  check("fib(90)", f0, 2880067194370816120ULL);
  u64 mp = 1, base = 3, e = vin[6] - 2;
  while (e) { if (e & 1) mp = (u64)((unsigned __int128)mp * base % vin[6]); base = (u64)((unsigned __int128)base * base % vin[6]); e >>= 1; }
  check("3^(p-2)*3 mod p == 1", (u64)((unsigned __int128)mp * 3 % vin[6]), 1);
  return done();
}
