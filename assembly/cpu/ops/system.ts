import { raiseUD } from "../fault";

export function execSystem(op: u32): void {
  raiseUD();
}
