/* sse: gcc-compiled floating point and SSE2 code in 64-bit mode. Results are printed as the
   integer bits of the IEEE values, so any rounding or conversion bug shows as a wrong number. */
#include "rt.h"

typedef double v2df __attribute__((vector_size(16)));
typedef float v4sf __attribute__((vector_size(16)));
typedef int32_t v4si __attribute__((vector_size(16)));
typedef int16_t v8hi __attribute__((vector_size(16)));
typedef uint8_t v16qi __attribute__((vector_size(16)));

static u64 dbits(double d) { u64 u; memcpy(&u, &d, 8); return u; }
static u32 fbits(float f) { u32 u; memcpy(&u, &f, 4); return u; }
static volatile double vd[8] = { 1.0, 3.0, -2.5, 1e300, 1e-300, 0.1, 123456789.987654321, -0.0 };
static volatile float vf[4] = { 1.5f, -3.25f, 1e30f, 0.3f };
static volatile int64_t vi[4] = { 1, -7, 1LL << 53, 0x7fffffffffffffffLL };

__attribute__((noinline)) static double my_sqrt(double x) { return __builtin_sqrt(x); }
__attribute__((noinline)) static double sin_taylor(double x) {
  double term = x, sum = x;
  for (int n = 1; n < 15; n++) { term *= -x * x / ((2 * n) * (2 * n + 1)); sum += term; }
  return sum;
}

#define BUF 4099
static u8 src[BUF + 64], dst[BUF + 64];
static float fa[1024], fb[1024], fc[1024];
static double da[512];
static int32_t ia[1024];

__attribute__((noinline)) static void vcopy(u8 *d, const u8 *s, size_t n) { for (size_t i = 0; i < n; i++) d[i] = s[i]; }
__attribute__((noinline)) static void vset(u8 *d, u8 c, size_t n) { for (size_t i = 0; i < n; i++) d[i] = c; }
__attribute__((noinline)) static void saxpy(float a, const float *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }
__attribute__((noinline)) static int32_t isum(const int32_t *x, int n) { int32_t s = 0; for (int i = 0; i < n; i++) s += x[i] * 3 - (x[i] >> 2); return s; }
static u32 crc(const u8 *p, size_t n) {
  u32 c = 0xffffffff;
  for (size_t i = 0; i < n; i++) { c ^= p[i]; for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & -(c & 1)); }
  return ~c;
}

int main(void) {
  printf("sse: SSE2 floating point in 64-bit mode\n");
  double a = vd[0], b = vd[1];
  printf("1/3 = 0x%016llx\n", (unsigned long long)dbits(a / b));
  check("1.0/3.0 bits", dbits(a / b), 0x3fd5555555555555ULL);
  check("sqrt(2) bits", dbits(my_sqrt(2.0 * a)), 0x3ff6a09e667f3bcdULL);
  check("0.1+0.2 bits", dbits(vd[5] + 0.2), 0x3fd3333333333334ULL);
  check("1e300*1e300 = inf", dbits(vd[3] * vd[3]), 0x7ff0000000000000ULL);
  check("1e-300*1e-300 = 0", dbits(vd[4] * vd[4]), 0);
  check("-0.0 * 3", dbits(vd[7] * vd[1]), 0x8000000000000000ULL);
  check("sqrt(-1) = default NaN", dbits(my_sqrt(vd[2])), 0xfff8000000000000ULL);
  printf("sin(1) = 0x%016llx\n", (unsigned long long)dbits(sin_taylor(a)));
  printf("sin(2.5) = 0x%016llx\n", (unsigned long long)dbits(sin_taylor(-vd[2])));
  /* conversions */
  check("cvttsd2si 123456789.98", (u64)(int64_t)vd[6], 123456789);
  check("cvttsd2si -2.5", (u64)(int64_t)vd[2], (u64)-2);
  check("cvttsd2si 1e300 = indefinite", (u64)(int64_t)vd[3], 0x8000000000000000ULL);
  check("cvtsi2sd 2^53", dbits((double)vi[2]), 0x4340000000000000ULL);
  check("cvtsi2sd INT64_MAX rounds", dbits((double)vi[3]), 0x43e0000000000000ULL);
  check("cvtsi2ss -7", fbits((float)vi[1]), 0xc0e00000);
  check("cvtsd2ss 0.1", fbits((float)vd[5]), 0x3dcccccd);
  check("cvtss2sd 0.3f", dbits((double)vf[3]), 0x3fd3333340000000ULL);
  check("cvtss2sd 1e30f*1e30f = inf (float)", fbits(vf[2] * vf[2]), 0x7f800000);
  check("float 1.5*-3.25", fbits(vf[0] * vf[1]), 0xc09c0000);
  check("u64 -> double", dbits((double)(u64)0xffffffffffffffffULL * a), 0x43f0000000000000ULL);
  check("double -> u64", (u64)(vd[6] * 1e9), 0x1b69b4be052fac0ULL);
  int rnd; __asm__("cvtsd2si %1, %0" : "=r"(rnd) : "x"(-vd[2]));
  check("cvtsd2si 2.5 rounds to even", rnd, 2);
  /* compares */
  double nan = my_sqrt(vd[2]);
  check("nan != nan", nan != nan, 1);
  check("nan < 1 false", nan < a, 0);
  check("-0 == 0", vd[7] == 0.0, 1);
  /* packed vector arithmetic */
  v2df x = { vd[0], vd[1] }, y = { vd[5], vd[2] };
  v2df z = x * y + x / y;
  printf("v2df 0x%016llx 0x%016llx\n", (unsigned long long)dbits(z[0]), (unsigned long long)dbits(z[1]));
  v4sf fx = { vf[0], vf[1], vf[2], vf[3] };
  v4sf fz = fx * fx - fx;
  printf("v4sf 0x%08x 0x%08x 0x%08x 0x%08x\n", fbits(fz[0]), fbits(fz[1]), fbits(fz[2]), fbits(fz[3]));
  v4si ix = { 1, -2, 0x7fffffff, -0x80000000 }, iy = { 5, 6, 1, -1 };
  v4si iz = ix * iy + (ix >> 1) - (iy << 3);
  printf("v4si 0x%08x 0x%08x 0x%08x 0x%08x\n", iz[0], iz[1], iz[2], iz[3]);
  v8hi hx = { 1, 2, 3, 4, -5, -6, 0x7fff, -0x8000 }, hy = { 7, 7, 7, 7, 7, 7, 7, 7 };
  v8hi hz = hx * hy;
  u64 hsum = 0; for (int i = 0; i < 8; i++) hsum = hsum * 31 + (u16)hz[i];
  printf("v8hi 0x%016llx\n", (unsigned long long)hsum);
  v16qi bx, by;
  for (int i = 0; i < 16; i++) { bx[i] = (u8)(i * 17); by[i] = (u8)(250 - i * 3); }
  v16qi bz = bx + by;
  u64 bsum = 0; for (int i = 0; i < 16; i++) bsum = bsum * 3 + bz[i];
  printf("v16qi 0x%llx\n", (unsigned long long)bsum);
  /* vectorized memcpy / memset loops over odd sizes and alignments */
  for (int i = 0; i < BUF + 64; i++) src[i] = (u8)(i * 7 + 3);
  u32 total = 0;
  for (int off = 0; off < 16; off += 3) {
    vset(dst, 0xaa, sizeof dst);
    vcopy(dst + off, src + (15 - off), BUF - off * 11);
    total = total * 33 + crc(dst, sizeof dst);
  }
  printf("copy/set crc 0x%08x\n", total);
  vset(dst + 1, 0x5c, 1000);
  int okset = dst[0] == 0xaa && dst[1] == 0x5c && dst[1000] == 0x5c && dst[1001] != 0x5c;
  ok(okset, "memset loop bounds");
  for (int i = 0; i < 1024; i++) { fa[i] = (float)i * 0.5f; fb[i] = (float)(1024 - i) * 0.25f; ia[i] = i * i - 5000; }
  saxpy(1.75f, fa, fb, 1023);
  u32 fsum = 0; for (int i = 0; i < 1024; i++) fsum = fsum * 31 + fbits(fb[i]);
  printf("saxpy 0x%08x\n", fsum);
  printf("isum %d\n", isum(ia, 1021));
  double acc = 0; for (int i = 0; i < 512; i++) { da[i] = 1.0 / (i + 1); acc += da[i] * da[i]; }
  printf("sum 1/n^2 0x%016llx\n", (unsigned long long)dbits(acc));
  for (int i = 0; i < 1024; i++) fc[i] = fa[i] > fb[i] ? fa[i] : fb[i];
  u32 msum = 0; for (int i = 0; i < 1024; i++) msum += fbits(fc[i]) >> 8;
  printf("max 0x%08x\n", msum);
  /* MXCSR */
  u32 mx; __asm__ volatile("stmxcsr %0" : "=m"(mx));
  printf("mxcsr 0x%08x\n", mx & ~0x3fu);
  u32 rz = (mx & ~0x6000u) | 0x6000u;   /* round toward zero */
  double t; float tf, tn;
  __asm__ volatile("ldmxcsr %3\n\tdivsd %4, %0\n\tcvtsd2ss %5, %1\n\tldmxcsr %6\n\tcvtsd2ss %5, %2"
                   : "=x"(t), "=&x"(tf), "=&x"(tn) : "m"(rz), "x"(vd[1]), "x"(vd[5]), "m"(mx), "0"(vd[2]));
  check("-2.5/3 round toward zero", dbits(t), 0xbfeaaaaaaaaaaaaaULL);
  check("0.1 to float toward zero", fbits(tf), 0x3dcccccc);
  check("0.1 to float nearest", fbits(tn), 0x3dcccccd);
  return done();
}
