import { raiseUD } from "../fault";

export function execInteger(op: u32): void {
  raiseUD();
}
