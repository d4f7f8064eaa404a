// What a PC BIOS does after a reset, for machines booted by a loader instead of a BIOS
// (QEMU's -kernel with its option ROM behaves the same way). On a reset or INIT the CPU would
// start at F000:FFF0; the firmware there reads the CMOS shutdown status byte (0x0F):
//   0x05 / 0x0A  resume at the real-mode far pointer stored at 0040:0067 (SeaBIOS and
//                the IBM AT BIOS: "jump via 40:67", 0x05 also sends an EOI first);
//   else         boot again: the machine reloads the image it was booted with.
// The reset vector's low alias F000:FFF0 (inside the BIOS area the memory map reserves)
// holds a stub that asks the host to do the same, so a far jump to FFFF:0000 (the classic
// "reboot through the BIOS") works too.
export const FIRMWARE_PORT = 0x8f0;

/** mov dx, FIRMWARE_PORT; out dx, al; hlt; jmp $-1 (16-bit code at F000:FFF0). */
export function resetStub(): Uint8Array {
  return new Uint8Array([0xba, FIRMWARE_PORT & 0xff, FIRMWARE_PORT >> 8, 0xee, 0xf4, 0xeb, 0xfd]);
}
export const RESET_STUB_ADDR = 0xffff0;

export type PostAction = { kind: "resume"; cs: number; ip: number; eoi: boolean } | { kind: "boot" };

/** The BIOS decision after reset from the CMOS shutdown status byte and the 40:67 pointer. */
export function postAction(shutdownStatus: number, ram: Uint8Array): PostAction {
  if (shutdownStatus === 0x05 || shutdownStatus === 0x0a) {
    const ip = ram[0x467] | (ram[0x468] << 8);
    const cs = ram[0x469] | (ram[0x46a] << 8);
    return { kind: "resume", cs, ip, eoi: shutdownStatus === 0x05 };
  }
  return { kind: "boot" };
}
