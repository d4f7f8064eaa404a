/* demo: the default `npm start` guest. Boots (multiboot), enters long mode (lib/start.S),
   describes the machine from CPUID and the multiboot info, draws a fixed-point Mandelbrot
   set, and exits 0. Lines starting with "info:" depend on the host CPU model. */
#include "rt.h"

struct mbinfo { u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
                u32 syms[4]; u32 mmap_length, mmap_addr; };

int main(void) {
  u32 a, b, c, d;
  char vendor[13];
  cpuid(0, 0, &a, &b, &c, &d);
  memcpy(vendor, &b, 4); memcpy(vendor + 4, &d, 4); memcpy(vendor + 8, &c, 4); vendor[12] = 0;
  printf("nestvm demo guest: 64-bit long mode up\n");
  printf("info: cpu vendor %s, max leaf 0x%x\n", vendor, a);
  cpuid(1, 0, &a, &b, &c, &d);
  u32 e1c, e1d, ea;
  cpuid(0x80000000, 0, &ea, &b, &e1c, &e1d);
  cpuid(0x80000001, 0, &a, &b, &e1c, &e1d);
  printf("cpu features:%s%s%s%s%s%s\n", (d & 1) ? " fpu" : "", (d & (1 << 4)) ? " tsc" : "",
         (d & (1 << 6)) ? " pae" : "", (d & (1 << 25)) ? " sse" : "", (d & (1 << 26)) ? " sse2" : "",
         (e1d & (1u << 29)) ? " lm" : "");
  printf("info: vmx %s\n", (c & (1 << 5)) ? "yes" : "no");
  const struct mbinfo *mb = (const struct mbinfo *)(uptr)mb_info;
  if (mb_magic != 0x2BADB002) { printf("bad multiboot magic 0x%x\n", mb_magic); return 1; }
  if (mb->flags & 1) printf("memory: %u KiB low, %u KiB above 1 MiB (%u MiB total)\n", mb->mem_lower, mb->mem_upper, (mb->mem_upper + 1024 + 1023) / 1024);
  if (mb->flags & (1 << 6)) {
    u32 n = 0;
    u64 avail = 0;
    for (u32 off = 0; off < mb->mmap_length; n++) {
      const u8 *e = (const u8 *)(uptr)(mb->mmap_addr + off);
      u32 size; u64 base, len; u32 type;
      memcpy(&size, e, 4); memcpy(&base, e + 4, 8); memcpy(&len, e + 12, 8); memcpy(&type, e + 20, 4);
      if (type == 1) avail += len;
      printf("info: mmap base 0x%llx len 0x%llx type %u\n", (unsigned long long)base, (unsigned long long)len, type);
      off += size + 4;
    }
    printf("info: memory map has %u entries\n", n);
    printf("memory map: %llu KiB available\n", (unsigned long long)(avail >> 10));
  }
  printf("mandelbrot (fixed point 4.28):\n");
  const char *shades = " .:-=+*#%@";
  for (int y = 0; y < 12; y++) {
    char line[61];
    for (int x = 0; x < 60; x++) {
      int64_t cr = -(2LL << 28) + (int64_t)x * ((3LL << 28) / 60);
      int64_t ci = -(1LL << 28) + (int64_t)y * ((2LL << 28) / 12) + (1LL << 28) / 12;
      int64_t zr = 0, zi = 0; int it = 0;
      while (it < 40) {
        int64_t zr2 = (zr * zr) >> 28, zi2 = (zi * zi) >> 28;
        if (zr2 + zi2 > (4LL << 28)) break;
        zi = ((zr * zi) >> 27) + ci;
        zr = zr2 - zi2 + cr;
        it++;
      }
      line[x] = shades[it >= 40 ? 9 : it % 9];
    }
    line[60] = 0;
    printf("  %s\n", line);
  }
  u64 f = 1; for (int i = 1; i <= 20; i++) f *= i;
  printf("20! = %llu\n", (unsigned long long)f);
  printf("demo done\n");
  return 0;
}
