/* interrupts: the guest programs the 8259 PIC pair (vectors 0x20/0x28) and PIT channel 0,
   counts timer ticks with STI;HLT, checks EOI, masking, the IRR/ISR registers, the STI
   interrupt shadow and, in 64-bit mode (interrupts.elf), delivery on an IST stack.
   interrupts32.elf is the same source in 32-bit protected mode. */
#include "rt.h"

static volatile int ticks, send_eoi = 1;
static volatile uptr irq_ip, irq_frame;

static void hook(struct frame *f) {
  if (f->vec == 0x20) {
    ticks++; irq_ip = f->ip; irq_frame = (uptr)f;
    if (send_eoi) outb(0x20, 0x20);
    return;
  }
  trap_default(f);
}
static u8 pic_irr(void) { outb(0x20, 0x0A); return inb(0x20); }
static u8 pic_isr(void) { outb(0x20, 0x0B); return inb(0x20); }
static void wait_irr0(void) { for (long i = 0; i < 100000000 && !(pic_irr() & 1); i++) {} }

int main(void) {
  printf("interrupts: %s\n", sizeof(void *) == 8 ? "64-bit mode" : "32-bit protected mode");
  idt_init();
  tss_init();
#ifdef __x86_64__
  idt_set(0x20, vector_table[0x20], 0xE, 0, 1);    /* IRQ0 on IST1 */
#endif
  trap_hook = hook;
  /* 8259: ICW1..ICW4, master at 0x20 (IRQ0-7 -> 0x20-0x27), slave at 0x28, cascade on IRQ2 */
  outb(0x20, 0x11); outb(0xA0, 0x11);
  outb(0x21, 0x20); outb(0xA1, 0x28);
  outb(0x21, 0x04); outb(0xA1, 0x02);
  outb(0x21, 0x01); outb(0xA1, 0x01);
  outb(0x21, 0xFE); outb(0xA1, 0xFF);              /* only IRQ0 */
  check("PIC IMR reads back", inb(0x21), 0xFE);
  /* PIT channel 0, lobyte/hibyte, mode 2, 1 kHz */
  outb(0x43, 0x34); outb(0x40, 1193 & 0xff); outb(0x40, 1193 >> 8);

  while (ticks < 5) __asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
  check("5 timer ticks through STI;HLT", ticks, 5);
#ifdef __x86_64__
  ok(irq_frame >= (uptr)ist_stack && irq_frame < (uptr)ist_stack + sizeof ist_stack, "IRQ0 delivered on the IST1 stack");
#else
  extern u8 stack_top[];
  ok(irq_frame >= (uptr)stack_top - 16384 && irq_frame < (uptr)stack_top, "IRQ0 at CPL 0 stays on the current stack");
#endif
  check("ISR clear after EOI", pic_isr() & 1, 0);

  /* masking: IRR latches the request, nothing is delivered */
  outb(0x21, 0xFF);
  int t0 = ticks;
  wait_irr0();
  check("masked IRQ0 pending in IRR", pic_irr() & 1, 1);
  __asm__ volatile("sti\n\tnop\n\tnop\n\tcli" ::: "memory");
  check("masked IRQ0 not delivered", ticks - t0, 0);
  outb(0x21, 0xFE);
  /* interrupt shadow: STI;CLI lets nothing in, STI;NOP;CLI takes it before the CLI */
  wait_irr0();
  __asm__ volatile("sti\n\tcli" ::: "memory");
  check("no interrupt in the STI shadow", ticks - t0, 0);
  extern char after_nop[];
  __asm__ volatile("sti\n\tnop\n.globl after_nop\nafter_nop:\n\tcli" ::: "memory");
  check("interrupt after the instruction following STI", ticks - t0, 1);
  check("interrupted at the CLI", irq_ip, (uptr)after_nop);
  /* without EOI the in-service IRQ0 blocks the next one */
  send_eoi = 0;
  while (ticks - t0 < 2) __asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
  check("ISR bit set without EOI", pic_isr() & 1, 1);
  wait_irr0();
  __asm__ volatile("sti\n\tnop\n\tnop\n\tnop\n\tcli" ::: "memory");
  check("no new IRQ0 while in service", ticks - t0, 2);
  outb(0x20, 0x20);
  send_eoi = 1;
  __asm__ volatile("sti\n\tnop\n\tnop\n\tcli" ::: "memory");
  check("pending IRQ0 delivered after EOI", ticks - t0, 3);
  outb(0x21, 0xFF);
  return done();
}
