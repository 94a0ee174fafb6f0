// The template editor: talks to /v1/templates with the bearer token kept in sessionStorage.
"use strict";

const TOKEN_KEY = "vestnik_token";
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
const $ = (id) => document.getElementById(id);

async function api(method, path, body, accept) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (accept === "blob" && response.ok) return { status: response.status, blob: await response.blob() };
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = { detail: text }; }
  return { status: response.status, json };
}

function setStatus(text) { const s = $("status"); if (s) s.textContent = text; }

function signIn() {
  const form = $("sign-in");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    start();
  });
}

async function start() {
  $("who").textContent = token() ? "вход выполнен" : "введите токен";
  if (!token()) return;
  if (document.body.dataset.page === "list") return loadList();
  if (document.body.dataset.page === "editor") return loadEditor();
}

async function loadList() {
  const { status, json } = await api("GET", "/v1/templates");
  if (status !== 200) return setStatus(json && json.detail);
  for (const t of json.templates) {
    const cell = document.querySelector(`[data-template="${t.kind}/${t.channel}"]`);
    if (!cell) continue;
    cell.textContent = t.active_version ? `v${t.active_version}` + (t.supplementary ? " (доп.)" : "")
      : t.follows ? `= ${t.follows}` : "—";
  }
}

const template = () => $("template").dataset;
const base = () => `/v1/templates/${template().kind}/${template().channel}`;

function draft() {
  const parts = {};
  for (const area of document.querySelectorAll("textarea[data-part]")) parts[area.dataset.part] = area.value;
  return { parts, supplementary: $("supplementary").checked };
}

async function loadEditor() {
  const { status, json } = await api("GET", base());
  if (status !== 200) return setStatus(json && json.detail);
  $("active-version").textContent = json.active_version ? `v${json.active_version}` : "нет (как письмо)";
  const current = json.active;
  if (current && !$("template").dataset.loaded) {
    for (const [part, source] of Object.entries(current.parts)) {
      const area = $("part-" + part);
      if (area) area.value = source;
    }
    $("supplementary").checked = current.supplementary;
    $("template").dataset.loaded = "1";
  }
  renderVersions(json);
  check();
}

function renderVersions(json) {
  const body = document.querySelector("#versions tbody");
  body.innerHTML = "";
  for (const v of [...json.versions].reverse()) {
    const row = document.createElement("tr");
    row.dataset.version = v.version;
    for (const text of [`v${v.version}` + (v.version === json.active_version ? " (активна)" : ""), v.author, v.created_at, v.comment]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    }
    const actions = document.createElement("td");
    const activate = document.createElement("button");
    activate.type = "button";
    activate.className = "activate";
    activate.textContent = "Активировать";
    activate.disabled = v.version === json.active_version;
    activate.addEventListener("click", () => activateVersion(v.version));
    actions.appendChild(activate);
    if (v.version > 1) {
      const diff = document.createElement("button");
      diff.type = "button";
      diff.className = "diff";
      diff.textContent = `Разница с v${v.version - 1}`;
      diff.addEventListener("click", () => showDiff(v.version - 1, v.version));
      actions.appendChild(diff);
    }
    row.appendChild(actions);
    body.appendChild(row);
  }
  $("rollback").disabled = !json.rollback_to;
}

let timer = null;
let generation = 0;
function scheduleCheck() {
  clearTimeout(timer);
  timer = setTimeout(check, 300);
}

async function check() {
  const mine = ++generation;
  const d = draft();
  const [validation, preview] = await Promise.all([
    api("POST", base() + "/validate", d),
    api("POST", base() + "/preview", { parts: d.parts }),
  ]);
  if (mine !== generation) return; // a newer edit is being checked
  const errors = $("errors");
  errors.innerHTML = "";
  const warnings = $("warnings");
  warnings.innerHTML = "";
  if (validation.status === 200) {
    for (const e of validation.json.errors) {
      const li = document.createElement("li");
      const at = e.line ? ` (строка ${e.line}, позиция ${e.column})` : "";
      li.textContent = `${e.part}${at}: ${e.message}`;
      errors.appendChild(li);
    }
    for (const w of validation.json.warnings) {
      const li = document.createElement("li");
      li.textContent = `${w.part}: ${w.message}`;
      warnings.appendChild(li);
    }
    $("save").disabled = !validation.json.valid;
    errors.dataset.valid = validation.json.valid ? "yes" : "no";
  }
  showPreview(preview, d);
}

async function showPreview(preview, d) {
  if (preview.status !== 200) {
    const text = $("preview-text");
    if (text) text.textContent = (preview.json && preview.json.errors || []).map((e) => e.reason).join("\n");
    return;
  }
  const p = preview.json;
  if ($("sms-counter") && p.sms) {
    const over = p.sms.max_parts && p.sms.parts > p.sms.max_parts;
    $("sms-counter").textContent = `${p.sms.encoding.toUpperCase()}, ${p.sms.units} знаков, частей: ${p.sms.parts}` +
      (p.sms.max_parts ? ` из ${p.sms.max_parts}` : "");
    $("sms-counter").className = over ? "over" : "";
  }
  if ($("preview-text")) $("preview-text").textContent = p.text !== undefined ? p.text : (p.body || "");
  if ($("preview-subject")) $("preview-subject").textContent = p.subject;
  if ($("preview-html")) $("preview-html").srcdoc = p.html;
  if ($("preview-pdf")) {
    const pdf = await api("POST", base() + "/preview?format=pdf", { parts: d.parts }, "blob");
    if (pdf.blob) {
      const old = $("preview-pdf").src;
      $("preview-pdf").src = URL.createObjectURL(pdf.blob);
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    }
  }
}

async function save() {
  const d = draft();
  d.comment = $("comment").value;
  const { status, json } = await api("POST", base() + "/versions", d);
  if (status === 201) {
    setStatus(`сохранена версия v${json.version}`);
    $("comment").value = "";
    return loadEditor();
  }
  setStatus((json.errors || []).map((e) => `${e.field}: ${e.reason}`).join("; ") || json.detail);
}

async function activateVersion(version) {
  const { status, json } = await api("POST", base() + "/activate", { version });
  setStatus(status === 200 ? `активна версия v${json.active_version}` : json.detail);
  loadEditor();
}

async function showDiff(from, to) {
  const { status, json } = await api("GET", `${base()}/diff?from=${from}&to=${to}`);
  $("diff").textContent = status === 200 ? Object.values(json.parts).join("\n") : json.detail;
}

document.addEventListener("DOMContentLoaded", () => {
  signIn();
  if (document.body.dataset.page === "editor") {
    for (const area of document.querySelectorAll("textarea[data-part]")) area.addEventListener("input", scheduleCheck);
    $("supplementary").addEventListener("change", scheduleCheck);
    $("save").addEventListener("click", save);
    $("rollback").addEventListener("click", async () => {
      const { status, json } = await api("POST", base() + "/rollback");
      setStatus(status === 200 ? `откат: активна v${json.active_version}` : json.detail);
      loadEditor();
    });
  }
  start();
});
