// The in-browser verifier's page: it reads the record file the reader drops
// or chooses (FileReader: the bytes stay in this browser), hands them to
// the worker running the verifier as WebAssembly, and shows the report it
// makes in a sandboxed frame that runs no script, with a link to save it.
// The board key is the one pinned in this page's configuration.
"use strict";
(() => {
  const cfg = JSON.parse(document.getElementById("evote-config").textContent);
  const status = document.getElementById("status");
  const frame = document.getElementById("report");
  const actions = document.getElementById("actions");
  const download = document.getElementById("download");
  const drop = document.getElementById("drop");
  const input = document.getElementById("record");
  let worker = null, ready = null, busy = false, url = null;

  function say(it, en, cls) {
    status.className = cls || "";
    status.textContent = "";
    for (const [l, t] of [["it", it], ["en", en]]) {
      const s = document.createElement("span");
      s.lang = l;
      s.textContent = t;
      status.append(s, document.createTextNode(" "));
    }
  }

  function fetchChecked(name) {
    const integrity = cfg.files[name];
    if (!integrity) return Promise.reject(new Error("no digest for " + name));
    return fetch(new URL(name, location.href), { integrity, cache: "no-cache" }).then((r) => {
      if (!r.ok) throw new Error(name + ": HTTP " + r.status);
      return r.text();
    });
  }

  function start() {
    if (ready) return ready;
    ready = fetchChecked("worker.js").then((src) => new Promise((resolve, reject) => {
      worker = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
      worker.onmessage = (ev) => {
        const m = ev.data;
        if (m.type === "ready") resolve();
        else if (m.type === "fatal") reject(new Error(m.message));
        else if (m.type === "report") shown(m);
      };
      worker.onerror = (e) => reject(new Error(e.message || "worker error"));
      worker.postMessage({ type: "start", wasm: new URL("verifier.wasm", location.href).href, integrity: cfg.files["verifier.wasm"] });
    }));
    return ready;
  }

  function shown(m) {
    busy = false;
    document.body.classList.remove("busy");
    if (!m.html) {
      say("Il file non è stato verificato: " + m.error, "The file was not verified: " + m.error, "fail");
      return;
    }
    if (m.ok) say("Verificato: il rapporto è qui sotto.", "Verified: the report is below.", "ok");
    else say("NON VERIFICATO: " + m.failures + " controlli non superati; il rapporto qui sotto non mostra risultati.",
      "NOT VERIFIED: " + m.failures + " checks fail; the report below shows no result.", "fail");
    frame.srcdoc = m.html;
    frame.hidden = false;
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(new Blob([m.html], { type: "text/html" }));
    download.href = url;
    actions.hidden = false;
  }

  async function verifyFile(file) {
    if (!file || busy) return;
    busy = true;
    document.body.classList.add("busy");
    frame.hidden = true;
    actions.hidden = true;
    say("Verifica di " + file.name + " in corso…", "Verifying " + file.name + "…");
    try {
      await start();
      const record = await file.arrayBuffer();
      worker.postMessage({ type: "report", record, name: file.name, boardKey: cfg.board_key, manifestHash: cfg.manifest_hash || "" }, [record]);
    } catch (e) {
      busy = false;
      say("Il verificatore non si è avviato: " + e.message, "The verifier did not start: " + e.message, "fail");
    }
  }

  input.addEventListener("change", () => verifyFile(input.files[0]));
  for (const t of [drop, document.body]) {
    t.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    t.addEventListener("dragleave", () => drop.classList.remove("over"));
    t.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      verifyFile(e.dataTransfer.files[0]);
    });
  }
  say("Pronto: scegliete o trascinate il file del registro.", "Ready: choose or drop the record file.");
  start().catch((e) => say("Il verificatore non si è avviato: " + e.message, "The verifier did not start: " + e.message, "fail"));
})();
