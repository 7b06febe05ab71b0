// The booth's worker: Go's loader (above, from the Go distribution) runs
// the voter client compiled to WebAssembly; this loop carries the page's
// calls to it and its answers back. The page fetched this file with its
// digest checked; the module's digest comes in the start message and is
// checked the same way.
"use strict";
self.evoteReady = () => postMessage({ type: "ready" });
self.onmessage = async (ev) => {
  const m = ev.data;
  if (m.type === "start") {
    try {
      const resp = await fetch(m.wasm, { integrity: m.integrity, cache: "no-cache" });
      if (!resp.ok) throw new Error("booth.wasm: HTTP " + resp.status);
      const go = new Go();
      const { instance } = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
      go.run(instance);
    } catch (e) {
      postMessage({ type: "fatal", message: String(e) });
    }
    return;
  }
  if (m.type === "call") {
    try {
      const out = await self.evoteCall(m.op, JSON.stringify(m.arg || {}));
      postMessage({ type: "result", id: m.id, result: out ? JSON.parse(out) : null });
    } catch (e) {
      let f;
      try { f = JSON.parse(e); } catch (_) { f = { code: "check_failed", message: String(e) }; }
      postMessage({ type: "result", id: m.id, error: f });
    }
  }
};
