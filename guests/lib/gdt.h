/* Selectors of the shared GDT (guests/lib/start.S). The layout satisfies SYSENTER/SYSEXIT
   (base 0x08) and SYSCALL/SYSRET (STAR kernel 0x38, user base 0x18) at the same time. */
#define SEL_CODE32   0x08
#define SEL_DATA     0x10
#define SEL_UCODE32  0x18
#define SEL_UDATA    0x20
#define SEL_UCODE64  0x28
#define SEL_UDATA64  0x30
#define SEL_CODE64   0x38
#define SEL_DATA64   0x40
#define SEL_CODE16   0x48
#define SEL_DATA16   0x50
#define SEL_TSS      0x58
#define SEL_SPARE    0x68
#define GDT_SPARE    8
