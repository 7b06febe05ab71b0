// The verifier's worker: Go's loader (above, from the Go distribution)
// runs package verify and package report compiled to WebAssembly; this
// loop hands it the record the page read from the reader's disk, and the
// report back. The page fetched this file with its digest checked; the
// module's digest comes in the start message and is checked the same way.
"use strict";
self.evoteReady = () => postMessage({ type: "ready" });
self.onmessage = async (ev) => {
  const m = ev.data;
  if (m.type === "start") {
    try {
      const resp = await fetch(m.wasm, { integrity: m.integrity, cache: "no-cache" });
      if (!resp.ok) throw new Error("verifier.wasm: HTTP " + resp.status);
      const go = new Go();
      const { instance } = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
      go.run(instance);
    } catch (e) {
      postMessage({ type: "fatal", message: String(e) });
    }
    return;
  }
  if (m.type === "report") {
    try {
      const out = await self.evoteReport(new Uint8Array(m.record), m.boardKey, m.manifestHash, m.name);
      postMessage({ type: "report", ok: out.ok, failures: out.failures, html: out.html, error: out.error || "" });
    } catch (e) {
      postMessage({ type: "report", ok: false, failures: 0, html: "", error: String(e) });
    }
  }
};
