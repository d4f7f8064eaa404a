// A cpio "newc" archive (the initramfs format, Linux Documentation/driver-api/early-userspace/
// buffer-format.rst), written without the cpio tool.
/** entries: { name, mode (incl. type bits), data?, rdev?: [major, minor] } in order. */
export function cpioNewc(entries) {
  const enc = new TextEncoder();
  const parts = [];
  let size = 0;
  const push = (b) => { parts.push(b); size += b.length; };
  const pad4 = () => { const n = (4 - (size % 4)) % 4; if (n) push(new Uint8Array(n)); };
  const h = (v) => (v >>> 0).toString(16).padStart(8, "0");
  let ino = 1;
  for (const e of [...entries, { name: "TRAILER!!!", mode: 0 }]) {
    const data = e.data ?? new Uint8Array(0);
    const name = enc.encode(e.name + "\0");
    const [rmaj, rmin] = e.rdev ?? [0, 0];
    const isTrailer = e.name === "TRAILER!!!";
    push(enc.encode("070701" + [isTrailer ? 0 : ino++, e.mode, 0, 0, e.mode & 0o040000 ? 2 : 1, 0, data.length, 0, 0, rmaj, rmin, name.length, 0].map(h).join("")));
    push(name); pad4();
    if (data.length) { push(data); pad4(); }
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
export const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFCHR = 0o020000;
