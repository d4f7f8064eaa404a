import { raiseUD } from "../fault";

export function execSse(op: u32): void {
  raiseUD();
}
