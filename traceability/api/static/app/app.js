/* The farmers' app: the outbox of diary entries (IndexedDB, sent exactly once thanks to
   client_id), warnings before saving, and the service worker. No framework, no CDN. */
"use strict";
(function () {
  const TOKEN = "agritrace.device";
  const WARMED = "agritrace.warmed";
  const OUTBOX_SYNC = "agritrace-outbox";
  const lang = document.documentElement.lang || "vi";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const stringsEl = $("#strings");
  const S = stringsEl ? JSON.parse(stringsEl.textContent) : {};
  const rulesEl = $("#rules");
  const R = rulesEl ? JSON.parse(rulesEl.textContent) : null;

  /* ---------------------------------------------------------- signing in and out */
  const signedIn = document.body.dataset.deviceToken;
  if (signedIn) {
    localStorage.setItem(TOKEN, signedIn);
    location.replace(document.body.dataset.next || "/app/");
    return;
  }
  const auto = $("form[data-autosubmit]");
  if (auto) auto.submit();
  $$("form[data-signout]").forEach((f) => f.addEventListener("submit", () => {
    localStorage.removeItem(TOKEN);
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ forget: true });
    }
  }));

  /* ---------------------------------------------------------- formatting */
  function fmtNumber(x) {
    const s = String(Math.round(x * 1000) / 1000);
    return lang === "vi" ? s.replace(".", ",") : s;
  }
  function fmtDay(iso) {
    if (!iso) return "";
    const [y, m, d] = iso.slice(0, 10).split("-");
    return lang === "vi" ? `${d}/${m}/${y}` : `${y}-${m}-${d}`;
  }
  function fill(template, params) {
    return (template || "").replace(/\{(\w+)\}/g, (_, k) => {
      const v = params[k];
      if (typeof v === "number") return fmtNumber(v);
      if (typeof v === "string" && /^\d{4}-\d\d-\d\d$/.test(v)) return fmtDay(v);
      return v == null ? "" : String(v);
    });
  }

  /* ---------------------------------------------------------- the outbox (IndexedDB) */
  let dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const open = indexedDB.open("agritrace", 1);
        open.onupgradeneeded = () => open.result.createObjectStore("outbox", { keyPath: "client_id" });
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
    }
    return dbPromise;
  }
  function store(mode, fn) {
    return db().then((d) => new Promise((resolve, reject) => {
      const tx = d.transaction("outbox", mode);
      const result = fn(tx.objectStore("outbox"));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
    }));
  }
  const outboxAll = () => store("readonly", (s) => s.getAll());
  const outboxPut = (item) => store("readwrite", (s) => s.put(item));
  const outboxDel = (id) => store("readwrite", (s) => s.delete(id));

  function newClientId() {
    /* getRandomValues works on plain http too (randomUUID needs a secure context). */
    const b = crypto.getRandomValues(new Uint8Array(16));
    return "app-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  let flushing = false;
  let again = false;
  async function flushNow() {
    const token = localStorage.getItem(TOKEN);
    if (!token) return;
    const items = (await outboxAll()).sort((a, b) => a.queued_at.localeCompare(b.queued_at));
    for (const item of items) {
      if (item.error) continue;
      let response;
      try {
        response = await fetch("/api/v1/diary", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
          body: JSON.stringify(item.body),
        });
      } catch (e) {
        return; /* no signal: everything stays in the outbox */
      }
      if (response.ok) {
        /* 201 recorded now, 200 recorded before (an answer lost on the way): sent either way. */
        await outboxDel(item.client_id);
      } else if (response.status === 401 || response.status === 429 || response.status >= 500) {
        return; /* try again later, in order */
      } else {
        const detail = await response.json().catch(() => ({}));
        item.error = detail.detail || String(response.status);
        await outboxPut(item);
      }
    }
  }
  async function flush() {
    /* A call while a send is under way (the signal back during a slow failing one, a new
       entry) runs once more after it rather than being lost until the next page load. */
    if (flushing) { again = true; return; }
    flushing = true;
    try {
      do {
        again = false;
        /* One tab at a time; a second send of the same entry would be recorded once anyway. */
        if (navigator.locks) await navigator.locks.request("agritrace-outbox", flushNow);
        else await flushNow();
      } while (again && navigator.onLine);
    } finally {
      flushing = false;
      await renderOutbox();
      const waiting = (await outboxAll().catch(() => [])).some((i) => !i.error);
      if (waiting) askSync();
    }
  }
  /* Sent when the signal returns: the browser's online event, and where the browser has
     Background Sync, the service worker's sync event relayed to this page (the token is
     the page's, so the worker wakes the page rather than sending itself). */
  function askSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready
      .then((reg) => reg.sync && reg.sync.register(OUTBOX_SYNC))
      .catch(() => {});
  }
  window.addEventListener("online", () => flush());
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.flush) flush();
    });
  }

  async function renderOutbox() {
    const items = await outboxAll().catch(() => []);
    const badge = $("#badge");
    if (badge) {
      badge.hidden = !items.length;
      badge.textContent = items.length;
    }
    const box = $("#outbox");
    if (!box) return items;
    box.hidden = !items.length;
    $(".count", box).textContent = items.length ? `(${items.length})` : "";
    const list = $("ul", box);
    list.textContent = "";
    for (const item of items) {
      const li = document.createElement("li");
      li.className = item.error ? "failed" : "waiting";
      li.dataset.clientId = item.client_id;
      li.textContent = item.label + (item.error ? ` — ${S.failed}: ${item.error}` : "");
      if (item.error) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "small ghost";
        b.textContent = S.discard;
        b.onclick = () => outboxDel(item.client_id).then(renderOutbox);
        li.append(" ", b);
      }
      list.append(li);
    }
    return items;
  }

  /* ---------------------------------------------------------- the diary form */
  function number(value) {
    if (value == null || value === "") return undefined;
    const x = Number(String(value).trim().replace(",", "."));
    return Number.isFinite(x) ? x : NaN;
  }
  function entryBody(form) {
    const body = {};
    for (const [k, v] of new FormData(form)) {
      if (v === "") continue;
      body[k] = v;
    }
    for (const k of ["quantity", "area_ha", "straw_t_per_ha"]) if (k in body) body[k] = number(body[k]);
    if (body.corrects) body.corrects = parseInt(body.corrects, 10);
    if (body.retracts) body.retracts = body.retracts === "true";
    if (body.occurred_at && !/(Z|[+-]\d\d:\d\d)$/.test(body.occurred_at)) {
      /* The phone's clock shows Vietnam time, which keeps UTC+7 all year. */
      body.occurred_at = (body.occurred_at.length === 16 ? body.occurred_at + ":00" : body.occurred_at) + "+07:00";
    }
    return body;
  }
  function entryLabel(form, body) {
    const act = form.querySelector(`input[name=activity][value="${body.activity}"]`);
    const actText = act && act.labels.length ? act.labels[0].textContent.trim() : body.activity;
    const at = body.occurred_at || "";
    const when = fmtDay(at) + " " + at.slice(11, 16);
    const what = body.retracts ? `✕ #${body.corrects}` : actText;
    return `${when} · ${body.field_code} · ${what}`;
  }

  function localWarnings(body) {
    return productWarnings(body).concat(lotWarnings(body));
  }

  /* A lot's verdict with one more application: false if either fails, else unknown if
     either is, else true (traceability/services/trace/phi.py's combine). */
  function combine(a, b) {
    if (a === false || b === false) return false;
    if (a === null || b === null) return null;
    return true;
  }
  /* The warning /diary/check gives before an entry that would change a harvested lot's
     verdict, from the lots the page was handed (services/warnings.py: offline_lots). An
     entry recorded now counts for a lot when it is dated from the lot's window start to
     its harvest (its time, when both are known). */
  function lotWarnings(body) {
    if (!R || !body.occurred_at || body.corrects != null) return [];
    if ((R.not_applied || []).includes(body.activity)) return [];
    const f = R.fields[body.field_code];
    if (!f || !f.lots || !f.lots.length) return [];
    const p = body.input_code ? R.products.find((x) => x.code === body.input_code) : null;
    const day = body.occurred_at.slice(0, 10);
    const out = [];
    for (const lot of f.lots) {
      if (day < lot.start || day > lot.harvested_on) continue;
      if (day === lot.harvested_on && lot.harvested_at && Date.parse(body.occurred_at) > Date.parse(lot.harvested_at)) continue;
      const days = Math.round((Date.parse(lot.harvested_on) - Date.parse(day)) / 864e5);
      let own;
      if (p && p.reg === "banned") own = false;
      else if (p ? p.kind !== "pesticide" : body.activity !== "spray") own = true;
      else if (!p || p.phi == null) own = null;
      else own = days >= p.phi;
      const after = combine(lot.verdict, own);
      if (after !== lot.verdict) {
        out.push({ code: "changes_harvested_lot", params: { lot_code: lot.code, harvested_on: lot.harvested_on, before: lot.verdict, after } });
      }
    }
    return out;
  }

  function productWarnings(body) {
    if (!R || !body.input_code) return [];
    const p = R.products.find((x) => x.code === body.input_code);
    if (!p) return [];
    const f = R.fields[body.field_code];
    const s = f && f.season;
    const out = [];
    /* The same rules as traceability/services/warnings.py, for when there is no signal. */
    if (p.reg === "banned") out.push({ code: "banned", params: {} });
    else if (p.kind === "pesticide") {
      if (p.reg === "unknown") out.push({ code: "registration_unknown", params: {} });
      else if (s && p.crops.length && !p.crops.includes(s.crop_key)) {
        out.push({ code: "not_registered_for_crop", params: { crop: s.crop } });
      }
    }
    if (!R.applying.includes(body.activity)) return out;
    const area = body.area_ha || (f && f.area_ha);
    if (p.max && body.quantity != null && area) {
      const dose = body.quantity / area;
      // As the server reads a label: the dose to 3 significant figures, half up, above it
      // (100.02 kg/ha is 100 kg/ha; the nudge makes 1.005 round up as its decimal does).
      if (Number((dose * (1 + 1e-12)).toPrecision(3)) > p.max) {
        out.push({ code: "dose_above_max", params: { dose: Math.round(dose * 1e4) / 1e4, max: p.max, unit: p.unit } });
      }
    }
    if (p.kind === "pesticide" && p.phi != null && s && s.planned_harvest_on && body.occurred_at) {
      const d = new Date(body.occurred_at.slice(0, 10) + "T00:00:00Z");
      d.setUTCDate(d.getUTCDate() + p.phi);
      const safe = d.toISOString().slice(0, 10);
      if (safe > s.planned_harvest_on) {
        out.push({ code: "phi_after_planned_harvest", params: { phi_days: p.phi, safe_from: safe, planned_harvest_on: s.planned_harvest_on } });
      }
    }
    return out;
  }

  async function checkWarnings(body) {
    const token = localStorage.getItem(TOKEN);
    if (token && navigator.onLine) {
      try {
        const r = await fetch("/api/v1/diary/check", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
          body: JSON.stringify(body),
        });
        if (r.ok) return (await r.json()).warnings;
      } catch (e) {
        /* no signal after all: warn from what the page holds */
      }
    }
    return localWarnings(body);
  }

  function showWarnings(form, list) {
    const box = $("#warnings", form);
    if (!box) return;
    box.textContent = "";
    box.hidden = !list.length;
    for (const w of list) {
      const p = document.createElement("p");
      p.className = "warning " + w.code;
      p.dataset.code = w.code;
      p.textContent = fill(S["w_" + w.code], w.params || {}) || w.message;
      box.append(p);
    }
  }

  function setupEntryForm(form) {
    const select = $("#input_code", form);
    const search = $("#q", form);
    const unit = $("#unit", form);
    const area = $("#area_ha", form);
    const when = $("#occurred_at", form);
    const button = $("button[type=submit]", form);
    const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/gi, "d").toLowerCase();
    const activity = () => (form.querySelector("input[name=activity]:checked") || {}).value;

    function filterProducts() {
      const kinds = (R && R.kinds[activity()]) || null;
      const q = fold(search.value.trim());
      let firstMatch = null;
      for (const opt of select.options) {
        if (!opt.value) continue;
        const show = (!kinds || kinds.includes(opt.dataset.kind)) && (!q || fold(opt.textContent).includes(q));
        opt.hidden = !show;
        opt.disabled = !show;
        if (show && !firstMatch) firstMatch = opt;
      }
      const current = select.selectedOptions[0];
      if (current && current.value && current.hidden) select.value = "";
      if (q && firstMatch && !select.value) select.value = firstMatch.value;
      productChanged();
    }
    /* The supplier or buyer for a purchase or sale, who applied for a spray or fertiliser,
       what became of the straw: a control of another work is hidden and disabled, so it is
       neither shown nor sent. */
    function controlsForActivity() {
      const act = activity();
      for (const row of $$("[data-activities]", form)) {
        const on = row.dataset.activities.split(" ").includes(act);
        row.hidden = !on;
        $$("input, select", row).forEach((i) => { i.disabled = !on; });
      }
    }
    function productChanged() {
      const opt = select.selectedOptions[0];
      if (opt && opt.dataset.unit) unit.value = opt.dataset.unit;
    }
    function fieldChanged() {
      const f = form.querySelector("input[name=field_code]:checked");
      if (f && f.dataset.area) area.value = fmtNumber(Number(f.dataset.area)).replace(",", lang === "vi" ? "," : ".");
    }
    let timer = null;
    function changed() {
      delete form.dataset.confirmed;
      button.textContent = S.save;
      clearTimeout(timer);
      timer = setTimeout(async () => showWarnings(form, await checkWarnings(entryBody(form))), 250);
    }
    if (!form.querySelector("input[name=corrects]")) {
      /* A page opened from the cache may be hours old: "now" is now. */
      const now = new Date(Date.now() + 7 * 3600e3).toISOString().slice(0, 16);
      when.value = now;
      if (!area.value) fieldChanged();
    }
    search.addEventListener("input", filterProducts);
    select.addEventListener("change", productChanged);
    $$("input[name=activity]", form).forEach((r) => r.addEventListener("change", filterProducts));
    $$("input[name=activity]", form).forEach((r) => r.addEventListener("change", controlsForActivity));
    $$("input[name=field_code]", form).forEach((r) => r.addEventListener("change", fieldChanged));
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    filterProducts();
    controlsForActivity();
  }

  async function submitEntry(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const status = $("#status", form);
    const button = $("button[type=submit]", form);
    const body = entryBody(form);
    if (Number.isNaN(body.quantity) || Number.isNaN(body.area_ha)) {
      if (status) status.textContent = "?";
      return;
    }
    if (form.id === "entry" && form.dataset.confirmed !== "1") {
      const list = await checkWarnings(body);
      showWarnings(form, list);
      if (list.length) {
        /* Warned before saving: a second tap saves all the same. */
        form.dataset.confirmed = "1";
        button.textContent = S.save_anyway;
        return;
      }
    }
    body.client_id = newClientId();
    button.disabled = true;
    await outboxPut({ client_id: body.client_id, body, label: entryLabel(form, body), queued_at: new Date().toISOString() });
    await flush();
    const left = (await outboxAll()).some((i) => i.client_id === body.client_id);
    button.disabled = false;
    if (!left && form.dataset.redirect) {
      location.assign(form.dataset.redirect);
      return;
    }
    if (status) status.textContent = S.waiting + " — " + S.waiting_hint;
    if (form.id === "entry") {
      delete form.dataset.confirmed;
      button.textContent = S.save;
      $("#quantity", form).value = "";
      $("#note", form).value = "";
      showWarnings(form, []);
    }
  }

  $$("form[data-diary]").forEach((form) => form.addEventListener("submit", submitEntry));
  const entry = $("#entry");
  if (entry) setupEntryForm(entry);

  /* ---------------------------------------------------------- signal and service worker */
  function net() {
    const el = $("#net");
    if (el) el.hidden = navigator.onLine;
  }
  window.addEventListener("online", net);
  window.addEventListener("offline", net);
  net();
  if (stringsEl) {
    flush();
    setInterval(() => { if (navigator.onLine) flush(); }, 30000);
  }

  if ("serviceWorker" in navigator && stringsEl) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).then(() => navigator.serviceWorker.ready).then((reg) => {
      /* Keep every screen this page links to, so each opens without signal; at most every 10 minutes. */
      const last = Number(localStorage.getItem(WARMED) || 0);
      if (Date.now() - last < 600e3 || !reg.active) return;
      localStorage.setItem(WARMED, String(Date.now()));
      const urls = [location.pathname + location.search];
      $$("a[href^='/app/']").forEach((a) => urls.includes(a.getAttribute("href")) || urls.push(a.getAttribute("href")));
      reg.active.postMessage({ warm: urls });
    }).catch(() => {});
  }
})();
