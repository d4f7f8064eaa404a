// esbuild's binary loader turns these imports into Uint8Array (scripts/build.mjs resolves them).
declare module "*.wasm" {
  const bytes: Uint8Array;
  export default bytes;
}
declare module "nestvm-demo.bin" {
  const bytes: Uint8Array;
  export default bytes;
}
declare module "nestvm-demo-l2a.bin" {
  const bytes: Uint8Array;
  export default bytes;
}
declare module "nestvm-demo-l2b.bin" {
  const bytes: Uint8Array;
  export default bytes;
}
