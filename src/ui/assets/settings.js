// ravens web UI, Settings page: the DNS options form (one PATCH /api/v1/dns of the changed
// keys; a refused value's reason goes next to its field), the config import (the file's text
// as PUT /api/v1/config) and the Pi-hole import (the archive sent unchanged, first as a dry
// run whose report is shown, then applied). app.js is loaded too (errors, CSRF token).
"use strict";
(() => {
  const token = () => document.querySelector("meta[name=csrf]").content;

  // One call through the UI's proxy; resolves to the JSON answer, rejects with the API's reason.
  async function call(method, path, body, type) {
    const headers = { "X-CSRF-Token": token() };
    if (type) headers["Content-Type"] = type;
    const r = await fetch("/ui/api/" + path, { method, headers, body });
    const text = await r.text();
    let data;
    try { data = JSON.parse(text); } catch (_) { data = { error: text }; }
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }

  const clear = (form) => { for (const o of form.querySelectorAll("output")) o.textContent = ""; };

  // The value of a changed field as the [dns] table holds it; empty = back to the default.
  function value(el) {
    if (el.value.trim() === "") return null;
    if (el.dataset.list !== undefined) return el.value.split(/[\s,]+/).filter(Boolean);
    if (el.type === "number") return Number(el.value);
    if (el.dataset.bool !== undefined) return el.value === "true";
    return el.value.trim();
  }

  const dns = document.getElementById("dns-options");
  if (dns) {
    dns.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clear(dns);
      const changed = [...dns.elements].filter((el) => el.name && el.value !== el.dataset.initial);
      const done = document.getElementById("dns-options-done");
      if (changed.length === 0) { done.textContent = "Nothing changed."; return; }
      const patch = {};
      for (const el of changed) patch[el.name] = value(el);
      try {
        const r = await call("PATCH", "dns", JSON.stringify(patch), "application/json");
        for (const el of changed) el.dataset.initial = el.value;
        done.textContent = r.message;
      } catch (e) {
        // The config's reasons name their key: "dns.cache_size: ...".
        const m = /\bdns\.([a-z0-9_]+)/.exec(e.message);
        const at = m && document.getElementById("dns-" + m[1] + "-error");
        (at || document.getElementById("dns-options-error")).textContent = e.message;
      }
    });
  }

  const imp = document.getElementById("config-import");
  if (imp) {
    imp.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clear(imp);
      const file = document.getElementById("config-file").files[0];
      const all = document.getElementById("config-replace-all").checked ? "?replace_all=true" : "";
      try {
        const toml = await file.text();
        const r = await call("PUT", "config" + all, JSON.stringify({ toml }), "application/json");
        imp.querySelector("output.ok").textContent = r.message;
      } catch (e) { imp.querySelector("output.error").textContent = e.message; }
    });
  }

  // The import report: counts per kind, the skipped items with their reason, the notes.
  function report(r) {
    const el = document.getElementById("pihole-report");
    el.replaceChildren();
    const head = document.createElement("p");
    head.className = "report-head";
    head.textContent = r.format + ": " + (r.dry_run ? "dry run, nothing written yet" : r.changed ? "imported" : "nothing changed");
    el.append(head);
    const rows = (cells, tag) => {
      const tr = document.createElement("tr");
      for (const c of cells) { const td = document.createElement(tag); td.textContent = c; tr.append(td); }
      return tr;
    };
    const table = (head, body) => {
      const wrap = document.createElement("div"); wrap.className = "scroll";
      const t = document.createElement("table");
      const th = document.createElement("thead"); th.append(rows(head, "th"));
      const tb = document.createElement("tbody"); for (const b of body) tb.append(rows(b, "td"));
      t.append(th, tb); wrap.append(t); return wrap;
    };
    const kinds = Object.entries(r.kinds).map(([k, c]) => [k, c.added, c.unchanged, c.skipped]);
    el.append(table(["kind", r.dry_run ? "to add" : "added", "unchanged", "skipped"], kinds));
    if (r.skipped.length) el.append(table(["skipped", "source", "item", "reason"], r.skipped.map((s) => [s.kind, s.source, s.item, s.reason])));
    for (const n of r.notes) { const p = document.createElement("p"); p.className = "note"; p.textContent = "Note: " + n; el.append(p); }
  }

  const pi = document.getElementById("pihole-import");
  if (pi) {
    const apply = document.getElementById("pihole-apply");
    const send = async (dryRun) => {
      clear(pi);
      const file = document.getElementById("pihole-file").files[0];
      if (!file) { pi.querySelector("output.error").textContent = "Choose an archive first."; return; }
      try {
        const r = await call("POST", "import/pihole" + (dryRun ? "?dry_run=true" : ""), file, "application/octet-stream");
        report(r);
        apply.hidden = !dryRun;
      } catch (e) { apply.hidden = true; pi.querySelector("output.error").textContent = e.message; }
    };
    pi.addEventListener("submit", (ev) => { ev.preventDefault(); send(true); });
    apply.addEventListener("click", () => send(false));
    document.getElementById("pihole-file").addEventListener("change", () => { apply.hidden = true; });
  }
})();
