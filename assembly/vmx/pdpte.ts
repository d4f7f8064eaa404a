// Writing the PAE PDPTE registers (mmu/paging.ts PDPTES) from the VMCS guest-PDPTE fields
// (VM entry with EPT, SDM 27.3.2.4).
import { PDPTES } from "../mmu/paging";
export function setPdpte(i: u32, v: u64): void { store<u64>(PDPTES + (<usize>(i & 3) << 3), v); }
