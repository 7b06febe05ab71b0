// The booth's page: screens, the voter's choices and their live checks, the
// catalogues, and the ticket kept in local storage. Every cryptographic
// step runs in the worker (the voter client of package voter, compiled to
// WebAssembly); this script never reads a ticket, it keeps the text.
"use strict";
(() => {
  const cfg = JSON.parse(document.getElementById("evote-config").textContent);
  // Each voter's ticket and receipt are kept apart, so that two members
  // voting on one device never lose each other's vote.
  // step is "token" (no token yet), "factor" (the issuer asked for a second
  // factor: factor, sent_to, sent_at, wrong and blocked_until say which,
  // where, when the last code was sent, how many wrong tries it had and
  // until when no new one can be sent), "choose",
  // "sealed" or "cast". The enrolment code is never stored.
  const keyTicket = (v) => "evote.ticket." + cfg.election_id + "." + v; // {ticket, step, choices, fingerprint, factor…}
  const keyReceipt = (v) => "evote.receipt." + cfg.election_id + "." + v; // {receipt, tracking, index}
  const KEY_VOTER = "evote.voter." + cfg.election_id; // the voter last seen on this device
  const KEY_LANG = "evote.lang";
  const $ = (id) => document.getElementById(id);

  // ---- catalogues ----
  let lang = "en";
  let cat = {};
  const cats = {};
  function t(key, params) {
    let s = cat[key];
    if (s === undefined) s = (cats.en || {})[key];
    if (s === undefined) return key;
    for (const [k, v] of Object.entries(params || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  }
  const fmtNumber = (n) => new Intl.NumberFormat(lang === "it" ? "it-IT" : "en-GB").format(n);
  function fmtDate(s) {
    const d = new Date(s);
    if (isNaN(d)) return s;
    return new Intl.DateTimeFormat(lang === "it" ? "it-IT" : "en-GB", { dateStyle: "full", timeStyle: "short" }).format(d);
  }
  async function loadCatalog(l) {
    if (!cats[l]) cats[l] = await (await fetchChecked("locales/" + l + ".json")).json();
    return cats[l];
  }
  function initialLang() {
    const saved = localStorage.getItem(KEY_LANG);
    if (saved === "it" || saved === "en") return saved;
    const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    return /^it\b/i.test(prefs[0] || "") ? "it" : "en";
  }
  async function setLang(l) {
    await loadCatalog("en");
    cat = await loadCatalog(l);
    lang = l;
    document.documentElement.lang = l;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    const sw = $("lang-switch");
    sw.textContent = l === "it" ? "English" : "Italiano";
    sw.lang = l === "it" ? "en" : "it";
    sw.setAttribute("aria-label", t("common.switch"));
    if (redraw) redraw();
  }

  // ---- integrity-checked loading and the worker ----
  function fetchChecked(name) {
    const integrity = cfg.files[name];
    if (!integrity) throw new Error("no digest for " + name);
    return fetch(new URL(name, location.href), { integrity, cache: "no-cache" }).then((r) => {
      if (!r.ok) throw new Error(name + ": HTTP " + r.status);
      return r;
    });
  }
  let worker;
  const pending = new Map();
  let nextID = 1;
  function startWorker() {
    return fetchChecked("worker.js").then((r) => r.text()).then((src) => new Promise((resolve, reject) => {
      worker = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
      worker.onmessage = (ev) => {
        const m = ev.data;
        if (m.type === "ready") resolve();
        else if (m.type === "fatal") reject(new Error(m.message));
        else if (m.type === "result") {
          const p = pending.get(m.id);
          pending.delete(m.id);
          if (m.error) p.reject(m.error);
          else p.resolve(m.result);
        }
      };
      worker.onerror = (e) => reject(new Error(e.message || "worker failed"));
      worker.postMessage({ type: "start", wasm: new URL("booth.wasm", location.href).href, integrity: cfg.files["booth.wasm"] });
    }));
  }
  function call(op, arg) {
    return new Promise((resolve, reject) => {
      const id = nextID++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ type: "call", id, op, arg });
    });
  }
  const resolveURL = (u) => (u ? u : location.origin);

  // ---- storage ----
  function loadJSON(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (_) { return null; }
  }
  let state = null;
  let voterID = null;
  function save() {
    localStorage.setItem(keyTicket(voterID), JSON.stringify(state));
    localStorage.setItem(KEY_VOTER, voterID);
  }

  // ---- screens ----
  let redraw = null;
  let retry = null;
  function show(id, draw) {
    for (const s of document.querySelectorAll("[data-screen]")) s.hidden = s.id !== id;
    redraw = draw || null;
    if (draw) draw();
    const h = $(id).querySelector("h1");
    if (h) h.focus();
    window.scrollTo(0, 0);
  }
  // Said when no catalogue could be loaded (altered, or not reachable).
  const NO_CATALOGUE = "The booth could not start: do not vote here, and tell your election office. / La cabina non è riuscita ad avviarsi: non votare qui e avvisa l'ufficio elettorale.";
  function errorText(f) {
    const code = (f && f.code) || "check_failed";
    const key = "err." + code;
    if (!cats.en) return NO_CATALOGUE;
    return cat[key] !== undefined || cats.en[key] !== undefined ? t(key, { wait: waitText(f && f.retry_after) }) : t("err.check_failed");
  }
  // waitText says a service's Retry-After (seconds) in the voter's words.
  function waitText(secs) {
    if (!secs) return t("wait.unknown");
    const minutes = secs >= 90 || secs % 60 === 0;
    const n = minutes ? Math.ceil(secs / 60) : secs;
    return new Intl.NumberFormat(lang === "it" ? "it-IT" : "en-GB", { style: "unit", unit: minutes ? "minute" : "second", unitDisplay: "long" }).format(n);
  }
  // Refusals that trying again cannot change: no "try again", and no
  // promise that the vote is kept.
  const FINAL = new Set(["issuer.already_issued", "issuer.purged", "issuer.no_second_factor", "board.already_voted", "board.closed",
    "split_view", "audit_mismatch", "receipt_bad", "link_bad", "link_other_election"]);
  function fail(f, again) {
    if (f && f.message) console.warn("evote booth:", f.code, f.message);
    const final = FINAL.has(f && f.code);
    retry = final ? null : again;
    $("error-retry").hidden = !retry;
    document.querySelector('#s-error [data-i18n="error.saved"]').hidden = final;
    show("s-error", () => { $("error-body").textContent = errorText(f); });
  }
  function working(kind) {
    show("s-work", () => {
      $("work-title").textContent = t("work." + kind + ".title");
      $("work-body").textContent = t("work." + kind + ".body");
    });
  }

  // ---- the invitation link ----
  let link = null;
  function readLink() {
    if (location.hash === "" || location.hash === "#check") return false;
    const p = new URLSearchParams(location.hash.slice(1));
    if (!p.has("e") && !p.has("v") && !p.has("c")) return false;
    // The code leaves the address bar and the history at once.
    history.replaceState(null, "", location.pathname + location.search);
    const keys = [...p.keys()];
    const ok = keys.every((k) => ["e", "v", "c"].includes(k)) && new Set(keys).size === keys.length;
    link = ok ? { e: p.get("e") || "", v: p.get("v") || "", c: p.get("c") || "" } : { bad: true };
    return true;
  }

  // ---- the voter's path ----
  let election = null;
  async function route() {
    if (location.hash === "#check") return showCheck();
    if (link && link.bad) return fail({ code: "link_bad" }, null);
    if (link && link.e && link.e !== cfg.election_id) return fail({ code: "link_other_election" }, null);
    show("s-loading");
    try {
      if (!election || election.phase !== "open") election = await call("election");
    } catch (f) {
      return fail(f, route);
    }
    voterID = (link && link.v) || localStorage.getItem(KEY_VOTER) || null;
    state = voterID ? loadJSON(keyTicket(voterID)) : null;
    if (election.phase !== "open") {
      // A ballot sent before the close (its reply lost) may be on the
      // board: ask for its receipt. Any other unfinished vote was not cast.
      if (election.phase === "closed" && state && state.step === "cast") return cast();
      return showPhase(Boolean(state && state.step !== "token" && state.step !== "factor"));
    }
    if (state && state.step === "cast") return cast();
    if (state && state.step === "factor") {
      // Back at the second factor, a code sent before still works: only
      // the enrolment code, which this device never keeps, is asked again.
      enrolCode = (link && link.c && link.v === voterID) ? link.c : null;
      return showFactor();
    }
    if (state && state.step === "sealed") return showSealed();
    if (state && state.step === "choose") return showBallot();
    if (!state && voterID && loadJSON(keyReceipt(voterID))) return recheckReceipt();
    $("voter-id").value = voterID || "";
    $("code").value = (link && link.c && link.v === voterID) ? link.c : "";
    showLogin();
  }

  function showPhase(unfinished) {
    show("s-phase", () => {
      const closed = election.phase === "closed";
      $("phase-title").textContent = t(closed ? "phase.closed.title" : "phase.not_open.title");
      let body = t(closed ? (unfinished ? "phase.closed.not_cast" : "phase.closed.body") : "phase.not_open.body");
      if (!closed && cfg.opens) body += " " + t("phase.opens", { date: fmtDate(cfg.opens) });
      $("phase-body").textContent = body;
    });
  }

  function showLogin(errKey, f) {
    show("s-login", () => {
      $("election-title").textContent = election.title || cfg.title;
      const times = [];
      if (election.closes) times.push(t("login.closes", { date: fmtDate(election.closes) }));
      $("login-times").textContent = times.join(" ");
      const err = $("login-error");
      err.hidden = !errKey;
      err.textContent = errKey ? t(errKey, { wait: waitText(f && f.retry_after) }) : "";
    });
    if (errKey) $("code").focus();
  }

  async function login(ev) {
    if (ev) ev.preventDefault();
    const typed = $("voter-id").value.trim();
    const code = $("code").value.trim();
    if (!typed || !code) return showLogin("login.missing");
    if (typed !== voterID) {
      voterID = typed;
      state = loadJSON(keyTicket(voterID));
      if (!state && loadJSON(keyReceipt(voterID))) return recheckReceipt();
    }
    working("token");
    try {
      if (!state) {
        const r = await call("new_ticket", { voter_id: voterID });
        state = { ticket: r.ticket, step: "token", choices: null };
        save();
      }
      const r = await call("token", { ticket: state.ticket, code });
      return gotToken(r);
    } catch (f) {
      if (f.code === "issuer.second_factor_required") {
        enrolCode = code;
        return askFactor(f);
      }
      if (["issuer.bad_credentials", "code_form", "issuer.send_failed", "issuer.too_many_codes"].includes(f.code)) return showLogin("err." + f.code, f);
      return fail(f, () => login());
    }
  }
  function gotToken(r) {
    state = { ticket: r.ticket, step: "choose", choices: null };
    save();
    enrolCode = null;
    for (const id of ["code", "factor-enrol", "factor-code"]) $(id).value = "";
    showBallot();
  }

  // ---- the second factor ----
  // The issuer's rules (SPEC.md §11): a sent code lasts 10 minutes, a new
  // one is sent at most once a minute while it stands, five wrong tries
  // void it.
  const COOL_DOWN = 60 * 1000;
  const LIFETIME = 10 * 60 * 1000;
  const MAX_WRONG = 5;
  // codeStands says whether the issuer still holds the last code sent: then
  // it sends no new one within the minute.
  const codeStands = (now) => state.sent_at && now - state.sent_at < LIFETIME && (state.wrong || 0) < MAX_WRONG;
  // enrolCode is the enrolment code while the second factor is asked: in
  // memory only, so a reopened tab asks for it again.
  let enrolCode = null;
  let factorTimer = null;
  const FACTOR_ANSWERS = new Set(["issuer.second_factor_required", "issuer.bad_second_factor", "issuer.too_many_codes", "issuer.send_failed"]);
  // askFactor moves to the second factor, or stays there, on the issuer's
  // second_factor_required (f): a code was sent unless the last one still
  // stands and was sent less than a minute ago (then the issuer sends none).
  function askFactor(f) {
    const now = Date.now();
    const before = state.step === "factor" && state.sent_at;
    const sent = f.factor !== "totp" && !(codeStands(now) && now - state.sent_at < COOL_DOWN);
    state.step = "factor";
    state.factor = f.factor || "email";
    state.sent_to = f.sent_to || state.sent_to || "";
    if (sent) {
      state.sent_at = now;
      state.wrong = 0;
    }
    save();
    showFactor(sent && before ? { key: "factor.resent", note: true } : null);
  }
  // showFactor draws the second factor's screen, with msg ({key, note,
  // focus}) under the field: an error, or a note when msg.note.
  function showFactor(msg) {
    show("s-factor", () => {
      const totp = state.factor === "totp";
      const params = { to: state.sent_to || "…", wait: waitText(msg && msg.retry) };
      $("factor-where").textContent = t(totp ? "factor.where_totp" : state.factor === "sms" ? "factor.where_sms" : "factor.where_email", params);
      $("factor-hint").textContent = t(totp ? "factor.hint_totp" : state.factor === "sms" ? "factor.hint_sms" : "factor.hint_email");
      $("factor-enrol-wrap").hidden = Boolean(enrolCode);
      $("factor-resend-wrap").hidden = totp;
      const err = $("factor-error");
      const note = $("factor-note");
      err.hidden = !msg || msg.note;
      note.hidden = !msg || !msg.note;
      err.textContent = msg && !msg.note ? t(msg.key, params) : "";
      note.textContent = msg && msg.note ? t(msg.key, params) : "";
      drawResend();
    });
    if (msg) $(msg.focus || "factor-code").focus();
  }
  // drawResend says whether a new code can be asked for yet. Its text
  // changes once when the wait ends, never as a ticking count a screen
  // reader would read out every second.
  function drawResend() {
    clearTimeout(factorTimer);
    if (state.factor === "totp" || $("s-factor").hidden) return;
    const now = Date.now();
    const sentAt = state.sent_at || 0;
    const btn = $("factor-resend");
    // Written only when it changes: a live region may read out again
    // what is written again.
    const setHint = (text) => {
      const hint = $("factor-resend-hint");
      if (hint.textContent !== text) hint.textContent = text;
    };
    const blocked = (state.blocked_until || 0) - now;
    const cooling = codeStands(now) ? sentAt + COOL_DOWN - now : 0;
    if (blocked > 0 || cooling > 0) {
      btn.disabled = true;
      setHint(blocked > 0 ? t("factor.resend_blocked", { wait: waitText(Math.ceil(blocked / 1000)) }) : t("factor.resend_wait"));
      factorTimer = setTimeout(drawResend, Math.max(blocked, cooling) + 250);
      return;
    }
    btn.disabled = false;
    const expired = now - sentAt >= LIFETIME;
    const spent = (state.wrong || 0) >= MAX_WRONG;
    setHint(t(spent ? "factor.void" : expired ? "factor.expired" : "factor.resend_hint"));
    if (!expired && !spent) factorTimer = setTimeout(drawResend, sentAt + LIFETIME - now + 250);
  }
  function typedEnrolCode() {
    return enrolCode || $("factor-enrol").value.trim();
  }
  async function submitFactor(ev) {
    if (ev) ev.preventDefault();
    const code = typedEnrolCode();
    const typed = $("factor-code").value;
    if (!code) return showFactor({ key: "factor.missing_enrol", focus: "factor-enrol" });
    if (!typed.trim()) return showFactor({ key: "factor.missing" });
    working("factor");
    try {
      const r = await call("token", { ticket: state.ticket, code, second_factor: typed });
      return gotToken(r);
    } catch (f) {
      return factorFailed(f, code, () => submitFactor());
    }
  }
  // resend asks again without the one-time code: the issuer sends a new
  // one (once the minute since the last has passed).
  async function resend() {
    const code = typedEnrolCode();
    if (!code) return showFactor({ key: "factor.missing_enrol", focus: "factor-enrol" });
    working("resend");
    try {
      const r = await call("token", { ticket: state.ticket, code });
      return gotToken(r); // the issuer no longer asks for a second factor
    } catch (f) {
      return factorFailed(f, code, resend);
    }
  }
  function factorFailed(f, code, again) {
    // The issuer gives its second factor's answers only to the right
    // enrolment code: it need not be typed again.
    if (FACTOR_ANSWERS.has(f.code)) enrolCode = code;
    switch (f.code) {
      case "issuer.second_factor_required":
        return askFactor(f);
      case "issuer.bad_second_factor":
        state.wrong = (state.wrong || 0) + 1;
        save();
        $("factor-code").value = "";
        return showFactor({ key: "err.issuer.bad_second_factor" });
      case "factor_form":
        return showFactor({ key: "err.factor_form" });
      case "code_form":
      case "issuer.bad_credentials":
        // The enrolment code is wrong (typed again, or the link's): show
        // it, to be corrected.
        enrolCode = null;
        $("factor-enrol").value = code;
        return showFactor({ key: "err." + f.code, focus: "factor-enrol" });
      case "issuer.too_many_codes":
        state.blocked_until = Date.now() + (f.retry_after || 600) * 1000;
        save();
        return showFactor({ key: "err.issuer.too_many_codes", retry: f.retry_after });
      case "issuer.send_failed":
        return showFactor({ key: "err.issuer.send_failed", retry: f.retry_after });
    }
    return fail(f, again);
  }
  function otherVoter(ev) {
    ev.preventDefault();
    enrolCode = null;
    for (const id of ["voter-id", "code", "factor-enrol", "factor-code"]) $(id).value = "";
    showLogin();
  }

  const questions = () => election.questions || [];
  function single(q) { return q.min === 1 && q.max === 1; }
  function rule(q) {
    if (single(q)) return t("rule.one");
    if (q.min === q.max) return t("rule.exactly", { n: q.max });
    if (q.min === 0) return t("rule.up_to", { n: q.max });
    return t("rule.between", { min: q.min, max: q.max });
  }
  function picked(qi) {
    return [...document.querySelectorAll('input[name="q' + qi + '"]:checked')].map((i) => Number(i.value));
  }
  function showBallot() {
    const chosen = (state && state.choices) || [];
    show("s-ballot", () => {
      const box = $("questions");
      const keep = box.childElementCount ? questions().map((_, qi) => picked(qi)) : chosen;
      box.textContent = "";
      questions().forEach((q, qi) => {
        const fs = document.createElement("fieldset");
        fs.id = "q" + qi;
        const lg = document.createElement("legend");
        lg.textContent = q.text;
        fs.append(lg);
        const hint = document.createElement("p");
        hint.className = "hint";
        hint.id = "q" + qi + "-hint";
        hint.textContent = rule(q);
        fs.append(hint);
        q.choices.forEach((c, ci) => {
          const lab = document.createElement("label");
          lab.className = "choice";
          const inp = document.createElement("input");
          inp.type = single(q) ? "radio" : "checkbox";
          inp.name = "q" + qi;
          inp.value = String(ci);
          inp.id = "q" + qi + "c" + ci;
          inp.setAttribute("aria-describedby", hint.id + " q" + qi + "-msg");
          inp.checked = (keep[qi] || []).includes(ci);
          inp.addEventListener("change", () => onPick(qi, inp));
          lab.append(inp, document.createTextNode(" " + c));
          fs.append(lab);
        });
        const msg = document.createElement("p");
        msg.className = "qmsg";
        msg.id = "q" + qi + "-msg";
        msg.setAttribute("aria-live", "polite");
        fs.append(msg);
        box.append(fs);
      });
      $("ballot-error").hidden = true;
    });
  }
  // onPick stops an over-vote as it happens, saying why.
  function onPick(qi, inp) {
    const q = questions()[qi];
    const msg = $("q" + qi + "-msg");
    const n = picked(qi).length;
    if (inp.checked && n > q.max) {
      inp.checked = false;
      msg.textContent = t("ballot.over", { max: q.max });
      msg.className = "qmsg error";
      return;
    }
    msg.className = "qmsg";
    msg.textContent = single(q) ? "" : t("ballot.count", { n: picked(qi).length, max: q.max });
    $("ballot-error").hidden = true;
  }
  function review(ev) {
    ev.preventDefault();
    const sel = questions().map((_, qi) => picked(qi).sort((a, b) => a - b));
    const wrong = [];
    questions().forEach((q, qi) => {
      const msg = $("q" + qi + "-msg");
      if (sel[qi].length < q.min) {
        msg.textContent = t("ballot.under", { min: q.min });
        msg.className = "qmsg error";
        wrong.push(qi);
      } else if (sel[qi].length > q.max) {
        msg.textContent = t("ballot.over", { max: q.max });
        msg.className = "qmsg error";
        wrong.push(qi);
      }
    });
    if (wrong.length) {
      const err = $("ballot-error");
      err.textContent = t("ballot.fix", { list: wrong.map((qi) => questions()[qi].text).join("; ") });
      err.hidden = false;
      $("q" + wrong[0]).querySelector("input").focus();
      return;
    }
    state.choices = sel;
    save();
    showReview();
  }
  function choiceList(dl, choices) {
    dl.textContent = "";
    questions().forEach((q, qi) => {
      const dt = document.createElement("dt");
      dt.textContent = q.text;
      const dd = document.createElement("dd");
      const names = (choices[qi] || []).map((ci) => q.choices[ci]);
      dd.textContent = names.length ? names.join(", ") : t("review.blank");
      dl.append(dt, dd);
    });
  }
  function showReview() {
    show("s-review", () => choiceList($("review-list"), state.choices));
  }

  async function seal() {
    working("seal");
    try {
      const r = await call("seal", { ticket: state.ticket, choices: state.choices });
      state.ticket = r.ticket;
      state.fingerprint = r.fingerprint;
      state.step = "sealed";
      save();
    } catch (f) {
      return fail(f, seal);
    }
    showSealed();
  }
  function showSealed() {
    show("s-sealed", () => { $("sealed-code").textContent = group(state.fingerprint); });
  }
  const group = (hex) => (hex || "").replace(/(.{8})/g, "$1 ").trim();

  async function cast() {
    working("cast");
    let r;
    try {
      if (state.step !== "cast") {
        // Saved without its opening before it is sent: a ballot that may
        // be on the board can never be audited, from any copy.
        r = await call("prepare_cast", { ticket: state.ticket });
        state.ticket = r.ticket;
        state.step = "cast";
        save();
      }
      r = await call("cast", { ticket: state.ticket });
    } catch (f) {
      return fail(f, cast);
    }
    localStorage.setItem(keyReceipt(voterID), JSON.stringify({ receipt: r.receipt, tracking: r.tracking_code, index: r.index }));
    localStorage.removeItem(keyTicket(voterID));
    state = null;
    showReceipt();
  }
  const savedReceipt = () => (voterID ? loadJSON(keyReceipt(voterID)) : null);
  // recheckReceipt shows a receipt found on the device only once the board
  // proves it again: storage is not proof that the vote was cast.
  async function recheckReceipt() {
    working("recheck");
    try {
      await call("check_receipt", { receipt: savedReceipt().receipt });
    } catch (f) {
      const code = (f && f.code) || "";
      if (code === "network" || code.startsWith("board.")) return fail(f, recheckReceipt);
      return fail({ code: "receipt_bad", message: f && f.message }, null);
    }
    showReceipt();
  }
  function showReceipt() {
    const saved = savedReceipt();
    show("s-receipt", () => {
      $("receipt-code").textContent = group(saved.tracking);
      $("receipt-entry").textContent = t("receipt.entry", { index: fmtNumber(saved.index) });
    });
  }
  function download(name, text) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
  }

  let audit = null;
  async function doAudit() {
    working("audit");
    let r;
    try {
      r = await call("audit", { ticket: state.ticket });
    } catch (f) {
      return fail(f, doAudit);
    }
    // The ticket no longer holds the audited ballot: saved before it is
    // shown, so it can never be cast.
    state.ticket = r.ticket;
    state.step = "choose";
    state.fingerprint = null;
    save();
    audit = r;
    show("s-audit", () => {
      $("audit-code").textContent = group(audit.fingerprint);
      choiceList($("audit-list"), state.choices);
      $("audit-data").value = audit.audit;
    });
  }

  // ---- the check page ----
  // savedVoters are the voters with a receipt on this device, for this
  // election: one device may serve a household.
  function savedVoters() {
    const prefix = keyReceipt("");
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k.startsWith(prefix)) out.push(k.slice(prefix.length));
    }
    return out.sort();
  }
  function showCheck() {
    if (!voterID) voterID = (link && link.v) || localStorage.getItem(KEY_VOTER) || null;
    show("s-check", () => {
      const voters = savedVoters();
      const wrap = $("check-saved-wrap");
      wrap.hidden = voters.length === 0;
      for (const b of wrap.querySelectorAll("button.saved-of")) b.remove();
      $("check-saved").hidden = !savedReceipt();
      for (const v of voters) {
        if (v === voterID) continue;
        const b = document.createElement("button");
        b.type = "button";
        b.className = "saved-of";
        b.textContent = t("check.saved_of", { voter: v });
        b.addEventListener("click", () => check(loadJSON(keyReceipt(v)).receipt));
        wrap.append(b);
      }
    });
    $("check-result").textContent = "";
    $("check-list").textContent = "";
  }
  async function check(text) {
    const out = $("check-result");
    const list = $("check-list");
    list.textContent = "";
    out.className = "";
    out.textContent = t("check.working");
    let doc;
    try { doc = JSON.parse(text); } catch (_) { doc = null; }
    if (!doc || typeof doc !== "object" || (!doc.opening && !doc.leaf_hash)) {
      out.className = "error";
      out.textContent = t("check.not_a_file");
      return;
    }
    try {
      if (doc && doc.opening) {
        if (!election || election.phase !== "open") election = await call("election");
        const r = await call("check_audit", { audit: text });
        out.textContent = t("check.audit_ok", { code: group(r.fingerprint) });
        choiceList(list, r.choices);
      } else {
        const r = await call("check_receipt", { receipt: text });
        out.textContent = t("check.receipt_ok", { code: group(r.tracking_code), index: fmtNumber(r.index), size: fmtNumber(r.size) });
      }
      out.className = "ok";
    } catch (f) {
      if (f && f.message) console.warn("evote booth:", f.code, f.message);
      out.className = "error";
      if (f && f.code === "file_format") out.textContent = t("check.not_a_file");
      else if (f && (f.code === "network" || (f.code || "").startsWith("board."))) out.textContent = errorText(f);
      else out.textContent = t(doc.opening ? "check.audit_bad" : "check.receipt_bad") + " " + errorText(f);
    }
  }

  // ---- wiring ----
  function wire() {
    $("lang-switch").addEventListener("click", () => {
      const l = lang === "it" ? "en" : "it";
      localStorage.setItem(KEY_LANG, l);
      setLang(l).catch((e) => fail({ code: "booth_load", message: String(e) }, () => location.reload()));
    });
    $("login-form").addEventListener("submit", login);
    $("factor-form").addEventListener("submit", submitFactor);
    $("factor-resend").addEventListener("click", resend);
    $("factor-other").addEventListener("click", otherVoter);
    $("ballot-form").addEventListener("submit", review);
    $("review-edit").addEventListener("click", showBallot);
    $("review-seal").addEventListener("click", seal);
    $("sealed-cast").addEventListener("click", cast);
    $("sealed-audit").addEventListener("click", doAudit);
    $("audit-again").addEventListener("click", seal);
    $("audit-download").addEventListener("click", () => download("audit-" + audit.fingerprint.slice(0, 8) + ".json", audit.audit));
    $("receipt-download").addEventListener("click", () => {
      const s = savedReceipt();
      download("receipt-" + s.tracking.slice(0, 8) + ".json", s.receipt);
    });
    $("error-retry").addEventListener("click", () => retry && retry());
    $("check-saved").addEventListener("click", () => check(savedReceipt().receipt));
    $("check-file").addEventListener("change", async (ev) => {
      const f = ev.target.files[0];
      if (f) check(await f.text());
    });
    $("check-back").addEventListener("click", (ev) => {
      ev.preventDefault();
      history.pushState(null, "", location.pathname + location.search);
      route();
    });
    window.addEventListener("hashchange", () => {
      // Another invitation opened in this tab: read it (and clear it
      // from the address bar) and start again for its voter.
      if (readLink()) {
        state = null;
        voterID = null;
      }
      route();
    });
  }

  async function boot() {
    $("loading-stuck").hidden = true;
    wire();
    try {
      await setLang(initialLang());
      readLink();
      await startWorker();
      await call("init", Object.assign({}, cfg, { board: resolveURL(cfg.board), issuer: resolveURL(cfg.issuer) }));
    } catch (e) {
      console.error("evote booth:", e);
      return fail({ code: "booth_load", message: String(e && e.message || e) }, () => location.reload());
    }
    route();
  }
  boot();
})();
