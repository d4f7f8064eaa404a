import { raiseUD } from "../fault";

export function execSystem(op: u32): void {
  raiseUD();
}

// FF /3 (CALL m16:xx) and FF /5 (JMP m16:xx): decoded by the integer group-5 handler
// (ModRM already consumed), executed here with the far-transfer rules.
export function farIndirect(isCall: bool): void {
  raiseUD();
}
