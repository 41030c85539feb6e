// echoscope inspector: recent exchanges, live. Plain JavaScript, no build step.
// Every value from the server is written with textContent, never as HTML.
"use strict";

const TOKEN_KEY = "echoscope.inspector.token";
const MAX_ROWS = 500;
const FILTERS = ["trace_id", "uuid", "status", "method", "path"];

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  entries: new Map(), // uuid -> exchange
  filters: {},
  cursor: "", // the last event id seen: the stream resumes after it
  selected: null,
  generation: 0, // bumped on log-out: stops the running stream loop
};

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function setState(text, kind) {
  const node = $("state");
  node.textContent = text;
  node.className = kind || "";
}

// ------------------------------------------------------------ token

class Refused extends Error {}

function showLogin(message) {
  state.generation += 1;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("main").hidden = true;
  $("forget").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("token").focus();
  setState("locked");
}

async function api(path, extraHeaders, init) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(extraHeaders || {}) };
  const response = await fetch(path, { headers, cache: "no-store", ...(init || {}) });
  if (response.status === 401) throw new Refused("the token was refused");
  return response;
}

// ------------------------------------------------------------ the list

function query() {
  const params = new URLSearchParams({ limit: "100" });
  for (const name of FILTERS) if (state.filters[name]) params.set(name, state.filters[name]);
  return params.toString();
}

function matches(entry) {
  const f = state.filters;
  return (
    (!f.trace_id || entry.trace_id === f.trace_id.toLowerCase()) &&
    (!f.uuid || entry.uuid === f.uuid.toLowerCase()) &&
    (!f.status || String(entry.status) === f.status) &&
    (!f.method || entry.method === f.method.toUpperCase()) &&
    (!f.path || entry.path.startsWith(f.path))
  );
}

async function loadList() {
  const response = await api(`exchanges?${query()}`);
  const body = await response.json();
  if (!response.ok) {
    $("filter-error").textContent = body.detail || `error ${response.status}`;
    return;
  }
  $("filter-error").textContent = "";
  for (const entry of body.exchanges) remember(entry, false);
  render();
}

function remember(entry, live) {
  if (!matches(entry) || state.entries.has(entry.uuid)) return;
  entry._live = live;
  state.entries.set(entry.uuid, entry);
}

function newestFirst() {
  const all = [...state.entries.values()];
  all.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  for (const old of all.slice(MAX_ROWS)) state.entries.delete(old.uuid);
  return all.slice(0, MAX_ROWS);
}

function render() {
  const body = document.querySelector("#exchanges tbody");
  const rows = newestFirst().map(row);
  body.replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
}

function row(entry) {
  const tr = el("tr", entry._live ? "live" : "");
  entry._live = false;
  tr.dataset.uuid = entry.uuid;
  tr.tabIndex = 0;
  if (entry.uuid === state.selected) tr.classList.add("selected");
  tr.append(
    el("td", "time", entry.time.slice(11, 23)),
    el("td", "method", entry.method),
    el("td", "path", entry.path),
    el("td", `status s${String(entry.status)[0]}`, entry.status),
    el("td", "latency", `${entry.latency_ms.toFixed(1)} ms`),
    el("td", "trace", entry.trace_id || "—"),
  );
  tr.addEventListener("click", () => select(entry.uuid));
  tr.addEventListener("keydown", (event) => event.key === "Enter" && select(entry.uuid));
  return tr;
}

// ------------------------------------------------------------ the live stream

async function follow(generation, onOpen) {
  while (generation === state.generation) {
    let response;
    try {
      const resume = state.cursor ? { "Last-Event-ID": state.cursor } : {};
      response = await api("exchanges/stream", resume);
    } catch (error) {
      if (error instanceof Refused) return showLogin(error.message);
      setState("offline, retrying", "warn");
      await sleep(2000);
      continue;
    }
    if (!response.ok) {
      if (onOpen) await onOpen(); // the list still shows while the stream waits
      onOpen = null;
      setState("live stream busy, retrying", "warn");
      await sleep(5000);
      continue;
    }
    setState("live", "ok");
    if (onOpen) await onOpen();
    onOpen = null;
    await readEvents(response.body, generation);
  }
}

async function readEvents(stream, generation) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || generation !== state.generation) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (error) {
    setState("stream cut, reconnecting", "warn");
  } finally {
    reader.releaseLock();
  }
}

function dispatch(block) {
  const event = { id: "", type: "message", data: [] };
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    else if (field === "event") event.type = value;
    else if (field === "data") event.data.push(value);
  }
  if (event.id) state.cursor = event.id;
  if (event.type === "unavailable") setState("history store unavailable", "warn");
  if (event.type !== "exchange") return;
  remember(JSON.parse(event.data.join("\n")), true);
  render();
}

// ------------------------------------------------------------ the detail view

function select(uuid) {
  state.selected = uuid;
  const entry = state.entries.get(uuid);
  for (const tr of document.querySelectorAll("#exchanges tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.uuid === uuid);
  }
  if (entry) showDetail(entry);
}

function section(title, ...content) {
  const part = el("section", "part");
  part.append(el("h3", "", title), ...content);
  return part;
}

function pairs(object) {
  const table = el("table", "pairs");
  for (const [key, value] of Object.entries(object || {})) {
    const tr = el("tr");
    const text = typeof value === "string" ? value : JSON.stringify(value);
    tr.append(el("th", "", key), el("td", "", text));
    table.append(tr);
  }
  if (!table.rows.length) return el("p", "none", "none");
  return table;
}

function text(value) {
  if (value === null || value === undefined || value === "") return el("p", "none", "none");
  return el("pre", "", typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

function link(label, href) {
  const a = el("a", "", label);
  if (/^https?:\/\//.test(href)) a.href = href; // only web links, whatever a template says
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

function summary(entry) {
  const head = el("div", "summary");
  head.append(el("h2", "", `${entry.method} ${entry.path}`));
  head.append(pairs({
    status: String(entry.status), latency: `${entry.latency_ms} ms`, time: entry.time,
    uuid: entry.uuid, route: entry.route, url: entry.request.url,
  }));
  const links = el("p", "links");
  if (entry.links.trace) links.append(link("Open the trace", entry.links.trace), " ");
  if (entry.links.logs) links.append(link("Open the log line", entry.links.logs));
  head.append(links);
  return head;
}

function traceContext(entry) {
  const headers = entry.request.headers || {};
  const wanted = ["traceparent", "tracestate", "x-cloud-trace-context", "baggage"];
  const arrived = Object.fromEntries(
    Object.entries(headers).filter(([key]) => wanted.includes(key.toLowerCase())),
  );
  const ids = { trace_id: entry.trace_id, span_id: entry.span_id, sampled: entry.sampled };
  const parts = [pairs(ids), el("h4", "", "trace headers received"), pairs(arrived)];
  if (entry.request.trace_context) parts.push(text(entry.request.trace_context));
  return parts;
}

// ------------------------------------------------------------ the workbench

async function download(path, fallbackName) {
  const response = await api(path);
  if (!response.ok) throw new Error((await response.json()).detail || `error ${response.status}`);
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  const url = URL.createObjectURL(await response.blob());
  const a = el("a");
  a.href = url;
  a.download = named ? named[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function outcome(target, message, failed) {
  target.replaceChildren(el(failed ? "p" : "pre", failed ? "error" : "", message));
}

async function copyCurl(entry, target) {
  const response = await api(`exchanges/${entry.uuid}?format=curl`);
  const command = await response.text();
  if (!response.ok) return outcome(target, JSON.parse(command).detail, true);
  outcome(target, command, false); // shown whole: its comments say what was redacted
  target.firstChild.id = "curl-command";
  try {
    await navigator.clipboard.writeText(command);
    target.append(el("p", "none", "copied to the clipboard"));
  } catch (error) {
    target.append(el("p", "none", "select the command to copy it"));
  }
}

async function replay(entry, url, target) {
  const response = await api(`exchanges/${entry.uuid}/replay`, { "Content-Type": "application/json" }, {
    method: "POST", body: JSON.stringify({ url }),
  });
  const body = await response.json();
  if (!response.ok) return outcome(target, body.detail || `error ${response.status}`, true);
  const call = body.call;
  const said = call.error ? `: ${call.error}` : "";
  outcome(target, `${call.method} ${call.url} → ${call.status ?? "no answer"}${said}`, Boolean(call.error));
  target.firstChild.id = "replay-result";
  if (body.dropped_headers.length) {
    target.append(el("p", "note", `not sent (redacted): ${body.dropped_headers.join(", ")}`));
  }
}

function workbench(entry) {
  const bar = el("div", "workbench");
  const result = el("div", "result");
  result.id = "workbench-result";
  const guard = (work) => () => work().catch((error) => {
    if (error instanceof Refused) showLogin(error.message);
    else outcome(result, error.message, true);
  });
  const curl = el("button", "", "Copy as curl");
  curl.id = "copy-curl";
  curl.type = "button";
  curl.addEventListener("click", guard(() => copyCurl(entry, result)));
  const har = el("button", "", "Download HAR");
  har.id = "har-one";
  har.type = "button";
  har.addEventListener("click", guard(() => download(`exchanges/${entry.uuid}?format=har`, "exchange.har")));
  const label = el("label", "", "replay to (a URL under ECHO_CALL_TARGETS)");
  const target = el("input");
  target.id = "replay-url";
  target.type = "url";
  target.placeholder = "https://…";
  label.append(target);
  const send = el("button", "", "Replay");
  send.id = "replay";
  send.type = "button";
  send.addEventListener("click", guard(() => replay(entry, target.value.trim(), result)));
  bar.append(curl, har, label, send);
  return [bar, result];
}

async function clearHistory() {
  if (!window.confirm("Forget every exchange in the history?")) return;
  const response = await api("exchanges", {}, { method: "DELETE" });
  if (!response.ok) throw new Error((await response.json()).detail || `error ${response.status}`);
  state.entries.clear();
  state.selected = null;
  $("detail").hidden = true;
  render();
}

function showDetail(entry) {
  const detail = $("detail");
  const request = entry.request;
  const response = entry.response;
  const body = request.json !== null && request.json !== undefined ? request.json : request.data;
  detail.replaceChildren(
    summary(entry),
    ...workbench(entry),
    section("Request headers", pairs(request.headers)),
    section("Query", pairs(request.args)),
    section("Body", text(body), ...(Object.keys(request.form || {}).length ? [pairs(request.form)] : [])),
    section("Trace context", ...traceContext(entry)),
    section(`Response ${response.status}`, pairs(response.headers), text(response.body)),
  );
  if (request.truncated || response.truncated || entry.truncated) {
    detail.append(el("p", "note", "Parts of this exchange were cut to the logged size."));
  }
  detail.hidden = false;
}

// ------------------------------------------------------------ start

function readFilters() {
  const form = $("filters");
  state.filters = {};
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value) state.filters[name] = value;
  }
}

async function refresh() {
  state.entries.clear();
  try {
    await loadList();
  } catch (error) {
    if (error instanceof Refused) showLogin(error.message);
    else setState("offline", "warn");
  }
}

function start() {
  $("login").hidden = true;
  $("main").hidden = false;
  $("forget").hidden = false;
  state.generation += 1;
  state.cursor = "";
  // The stream is opened first (its cursor is fixed), then the list is read: nothing is missed.
  follow(state.generation, refresh);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    $("token").value = "";
    sessionStorage.setItem(TOKEN_KEY, state.token);
    start();
  });
  $("forget").addEventListener("click", () => showLogin(""));
  const failed = (error) => {
    if (error instanceof Refused) showLogin(error.message);
    else $("filter-error").textContent = error.message;
  };
  $("har-list").addEventListener("click", () => {
    const params = new URLSearchParams(query());
    params.set("format", "har");
    download(`exchanges?${params}`, "exchanges.har").catch(failed);
  });
  $("clear-history").addEventListener("click", () => clearHistory().catch(failed));
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    readFilters();
    refresh();
  });
  $("filters").addEventListener("reset", () => {
    state.filters = {};
    setTimeout(refresh);
  });
  if (state.token) start();
  else showLogin("");
});
