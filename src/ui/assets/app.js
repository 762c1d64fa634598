// ravens web UI: the little script the server-rendered pages need. No inline script
// anywhere (the CSP forbids it): everything hangs on data- attributes.
"use strict";
window.ravensErrors = [];
window.addEventListener("error", (e) => window.ravensErrors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.ravensErrors.push(String(e.reason)));

const csrf = () => document.querySelector("meta[name=csrf]").content;

// Calls /ui/api/PATH; resolves to the JSON answer, rejects with the API's error text.
async function api(method, path, body) {
  const opts = { method, headers: { "X-CSRF-Token": csrf() } };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch("/ui/api/" + path, opts);
  const text = await r.text();
  let data = {};
  try { data = JSON.parse(text); } catch (_) { data = { error: text }; }
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function showResult(out, data) {
  if (out && data && data.warning) { out.textContent = data.warning; return false; }
  return true;
}

// Forms with data-api: their fields as a JSON body (empty ones left out unless data-empty;
// data-list ones split at commas, so an empty one is []; data-bool ones true or false).
document.addEventListener("submit", async (ev) => {
  const f = ev.target;
  if (!f.matches("form.api")) return;
  ev.preventDefault();
  const out = f.querySelector("output.error");
  out.textContent = "";
  const body = {};
  for (const el of f.elements) {
    if (!el.name || (el.value === "" && el.dataset.empty === undefined)) continue;
    if (el.dataset.list !== undefined) body[el.name] = el.value.split(",").map((s) => s.trim()).filter(Boolean);
    else if (el.dataset.bool !== undefined) body[el.name] = el.value === "true";
    else if (el.type === "number") body[el.name] = Number(el.value);
    else body[el.name] = el.value;
  }
  let path = f.dataset.api, method = f.dataset.method;
  if (f.dataset.query !== undefined) { path += "?" + new URLSearchParams(body).toString(); }
  try {
    const data = await api(method, path, f.dataset.query !== undefined ? undefined : body);
    if (showResult(out, data)) location.reload();
  } catch (e) { out.textContent = e.message; }
});

// Buttons with data-api: one call, then a reload; an error shows beside the button.
document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("button.act, button[data-logout]");
  if (!b) return;
  if (b.dataset.logout !== undefined) {
    await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": csrf() } });
    location.href = "/login";
    return;
  }
  let out = b.nextElementSibling;
  if (!out || !out.matches("output.error")) {
    out = document.createElement("output"); out.className = "error"; out.setAttribute("role", "alert"); b.after(out);
  }
  out.textContent = "";
  const body = b.dataset.body ? JSON.parse(b.dataset.body) : undefined;
  try {
    const data = await api(b.dataset.method, b.dataset.api, body);
    if (showResult(out, data)) location.reload();
  } catch (e) { out.textContent = e.message; }
});

// Countdowns: data-seconds counts down to zero, then the page reloads (the pause is over).
function tick() {
  for (const el of document.querySelectorAll("[data-seconds]")) {
    const left = Number(el.dataset.seconds) - 1;
    el.dataset.seconds = String(Math.max(left, 0));
    el.textContent = left > 0 ? left + " s left" : "resumed";
    if (left === 0) setTimeout(() => location.reload(), 1000);
  }
}
setInterval(tick, 1000);

// Pages marked data-refresh re-fetch their content every N seconds (the dashboard).
const main = document.getElementById("main");
const refresh = main && main.querySelector("[data-refresh]");
if (refresh) {
  setInterval(async () => {
    const url = new URL(location.href); url.searchParams.set("partial", "1");
    try {
      const r = await fetch(url, { headers: { "X-CSRF-Token": csrf() } });
      if (r.ok) main.innerHTML = await r.text();
    } catch (_) { /* the next refresh tries again */ }
  }, Number(refresh.dataset.refresh) * 1000);
}

// The query log's live tail: server-sent events, newest row on top.
const tail = document.getElementById("tail");
if (tail) {
  const heads = [...tail.closest("table").tHead.rows[0].cells].map((c) => c.textContent);
  const src = new EventSource("/log/events" + location.search);
  src.onmessage = (m) => {
    const e = JSON.parse(m.data);
    const tr = document.createElement("tr");
    const cells = [e.time, e.node, e.client, e.name, e.qtype, e.outcome, e.list || ""];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    const td = document.createElement("td");
    tr.appendChild(td);
    // The column headers as labels, for the phone-width card layout (see html::table).
    [...tr.cells].forEach((c, i) => { c.dataset.label = heads[i] || ""; });
    for (const [label, kind] of [["Block", "block"], ["Allow", "allow"]]) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "act"; b.dataset.method = "POST"; b.dataset.api = kind;
      b.dataset.body = JSON.stringify({ name: e.name }); b.textContent = label;
      td.appendChild(b);
    }
    tail.prepend(tr);
    while (tail.rows.length > 500) tail.deleteRow(-1);
  };
}
