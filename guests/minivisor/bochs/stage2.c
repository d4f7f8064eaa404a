/* Stage2 of the Bochs test disk: a minimal multiboot v1 loader. Runs at 0x8000 in flat 32-bit
   protected mode; the bundle written by mkdisk.py follows at 0xC000:
     "MBND", count, mem_upper_kib, then count entries {offset, size, cmdline[56]};
   entry 0 is the kernel (ELF32, its PT_LOADs go to their physical addresses), the others become
   page-aligned multiboot modules after the kernel. Then it enters the kernel as the Multiboot
   spec 3.2 says: EAX = 0x2BADB002, EBX = info, flat CS/DS, paging and interrupts off. */
typedef unsigned char u8; typedef unsigned short u16; typedef unsigned int u32;
struct ent { u32 off, size; char cmd[56]; };
struct bundle { char magic[4]; u32 count, mem_upper; struct ent e[]; };
struct mb_info { u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr; };
struct mb_mod { u32 start, end, string, reserved; };
static void outb(u16 p, u8 v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static u8 inb(u16 p) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static void puts_(const char *s) { for (; *s; s++) { while (!(inb(0x3fd) & 0x20)) {} outb(0x3f8, *s); } }
static void cp(u8 *d, const u8 *s, u32 n) { while (n--) *d++ = *s++; }
static void zero(u8 *d, u32 n) { while (n--) *d++ = 0; }
void stage2(void) {
  const struct bundle *b = (const struct bundle *)0xC000;
  if (b->magic[0] != 'M' || b->magic[1] != 'B' || b->magic[2] != 'N' || b->magic[3] != 'D' || !b->count) { puts_("stage2: bad bundle\n"); for (;;) {} }
  const u8 *k = (const u8 *)0xC000 + b->e[0].off;
  u32 phoff = *(const u32 *)(k + 28), entry = *(const u32 *)(k + 24);
  u16 phentsize = *(const u16 *)(k + 42), phnum = *(const u16 *)(k + 44);
  u32 end = 0x100000;
  for (u32 i = 0; i < phnum; i++) {
    const u8 *ph = k + phoff + i * phentsize;
    if (*(const u32 *)ph != 1) continue;
    u32 off = *(const u32 *)(ph + 4), pa = *(const u32 *)(ph + 12), fs = *(const u32 *)(ph + 16), ms = *(const u32 *)(ph + 20);
    cp((u8 *)pa, k + off, fs);
    zero((u8 *)pa + fs, ms - fs);
    if (pa + ms > end) end = pa + ms;
  }
  struct mb_info *mbi = (struct mb_info *)0x6000;
  struct mb_mod *mods = (struct mb_mod *)0x6100;
  char *strs = (char *)0x6400;
  zero((u8 *)mbi, 0x1000);
  mbi->flags = 1 | 8;
  mbi->mem_lower = 639;
  mbi->mem_upper = b->mem_upper;
  mbi->mods_count = b->count - 1;
  mbi->mods_addr = (u32)mods;
  for (u32 i = 1; i < b->count; i++) {
    end = (end + 4095) & ~4095u;
    cp((u8 *)end, (const u8 *)0xC000 + b->e[i].off, b->e[i].size);
    mods[i - 1].start = end;
    mods[i - 1].end = end + b->e[i].size;
    end += b->e[i].size;
    cp((u8 *)strs, (const u8 *)b->e[i].cmd, 56);
    mods[i - 1].string = (u32)strs;
    strs += 64;
  }
  __asm__ volatile("jmp *%2" :: "a"(0x2BADB002), "b"(mbi), "r"(entry));
  for (;;) {}
}
