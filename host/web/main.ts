// The demo page: boots the bundled demo image (or a chosen file) and shows COM1 output.
import { Machine } from "../machine";
import demoImage from "nestvm-demo.bin";
import demoL2a from "nestvm-demo-l2a.bin";
import demoL2b from "nestvm-demo-l2b.bin";

// The demo is the L1 hypervisor with two L2 guests as multiboot modules, when the build has them.
const demoModules = demoL2a.length && demoL2b.length
  ? [{ data: demoL2a, cmdline: "l2-hello.elf" }, { data: demoL2b, cmdline: "l2-count.elf" }]
  : [];
const demoName = demoModules.length ? "minivisor.elf" : "demo.elf";

const $ = (id: string) => document.getElementById(id)!;
const serialEl = $("serial"), statusEl = $("status");
const bootBtn = $("boot") as HTMLButtonElement, stopBtn = $("stop") as HTMLButtonElement;
const fileEl = $("file") as HTMLInputElement;
let current: Machine | null = null;

async function boot(image: Uint8Array, name: string, modules: { data: Uint8Array; cmdline: string }[] = []): Promise<void> {
  if (current) current.stop();
  serialEl.textContent = "";
  const dec = new TextDecoder();
  const m = await Machine.create({ memBytes: 64 << 20, serialOut: (b) => { serialEl.textContent += dec.decode(b, { stream: true }); } });
  current = m;
  try {
    m.loadMultiboot(image, { name, modules });
  } catch (e) {
    statusEl.textContent = `cannot boot ${name}: ${(e as Error).message}`;
    return;
  }
  statusEl.textContent = `running ${name}...`;
  bootBtn.disabled = true; stopBtn.disabled = false;
  const r = await m.run({ maxSeconds: 120 });
  const code = r.exitCode !== undefined ? ` status ${r.exitCode}` : "";
  statusEl.textContent = `${name}: ${r.reason}${code}${r.message ? ` (${r.message})` : ""}, ${r.instructions} instructions in ${r.seconds.toFixed(2)} s`;
  statusEl.dataset.reason = r.reason;
  bootBtn.disabled = false; stopBtn.disabled = true;
  if (current === m) current = null;
}

bootBtn.addEventListener("click", () => {
  if (demoImage.length === 0) { statusEl.textContent = "this build has no demo image"; return; }
  void boot(demoImage, demoName, demoModules);
});
stopBtn.addEventListener("click", () => current?.stop());
fileEl.addEventListener("change", async () => {
  const f = fileEl.files?.[0];
  if (f) void boot(new Uint8Array(await f.arrayBuffer()), f.name);
});
// Boot the demo right away (the platform check opens the page with #autoboot too).
if (demoImage.length) void boot(demoImage, demoName, demoModules);
else statusEl.textContent = "this build has no demo image";
