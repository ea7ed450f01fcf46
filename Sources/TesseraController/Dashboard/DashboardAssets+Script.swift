extension DashboardAssets {
    /// The dashboard's behaviour: sign-in, the live stream, the map, the views, the charts and the actions.
    static let script = #"""
"use strict";
const $ = (id) => document.getElementById(id);
const state = { token: null, role: null, snapshot: null, history: [], events: [], selection: null, stream: null };
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const mib = (v) => v >= 1024 ? (v / 1024).toFixed(v % 1024 ? 1 : 0) + " GiB" : v + " MiB";
const pct = (v) => Math.round(v) + " %";
const time = (t) => new Date(t * 1000).toLocaleTimeString();

// ---- API: the token travels only as a bearer header, never in a URL.
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: "Bearer " + state.token } });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { message: text }; }
  if (!response.ok) { const error = new Error((body && body.message) || response.statusText); error.status = response.status; throw error; }
  return body;
}

// ---- Sign-in
async function signIn(token) {
  state.token = token;
  try {
    const who = await api("/v1/whoami");
    state.role = who.role;
    sessionStorage.setItem("tessera-token", token);
    $("signin").hidden = true; $("app").hidden = false; $("signout").hidden = false;
    $("who").textContent = "signed in: " + who.role + (who.role === "admin" ? "" : " (read-only)");
    $("signin-error").textContent = "";
    state.history = await api("/v1/history");
    render(await api("/v1/snapshot"));
    drawCharts();
    connect();
    route();
  } catch (error) {
    state.token = null;
    sessionStorage.removeItem("tessera-token");
    $("signin-error").textContent = error.status === 401 ? "That token is not accepted." : "Cannot sign in: " + error.message;
  }
}

function signOut() {
  sessionStorage.removeItem("tessera-token");
  if (state.stream) state.stream.abort();
  location.hash = "";
  location.reload();
}

// ---- Live updates: server-sent events read through fetch (EventSource cannot send a header).
async function connect() {
  const controller = new AbortController();
  state.stream = controller;
  const after = state.events.length ? state.events[state.events.length - 1].sequence : 0;
  try {
    const response = await fetch("/v1/stream?after=" + after, { headers: { Authorization: "Bearer " + state.token }, signal: controller.signal });
    if (!response.ok) throw new Error(response.statusText);
    setLive(true);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        onMessage(event, JSON.parse(data));
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
  }
  setLive(false);
  if (state.token) setTimeout(connect, 1000);
}

function setLive(on) { const l = $("live"); l.className = "live " + (on ? "on" : "off"); l.textContent = on ? "live" : "offline"; }

function onMessage(event, data) {
  if (event === "snapshot") { render(data); }
  else if (event === "events") { state.events.push(...data); state.events = state.events.slice(-300); renderEvents(); }
  else if (event === "sample") { state.history.push(data); state.history = state.history.slice(-2160); drawCharts(); }
}

// ---- Rendering
function render(snapshot) {
  state.snapshot = snapshot;
  renderOverview(snapshot);
  renderMap(snapshot);
  renderDetail();
  document.body.dataset.updated = String(snapshot.time);
}

function renderOverview(s) {
  const up = s.gpus.filter((g) => g.nodeUp);
  const used = up.reduce((a, g) => a + g.usedMemoryMiB, 0);
  const busy = up.reduce((a, g) => a + Math.min(100, g.utilizationPercent), 0);
  const vgpus = s.leases.reduce((a, l) => a + l.vgpus.length, 0);
  const cards = [
    ["GPUs", s.summary.gpus, `${s.gpus.length} registered`, "gpus"],
    ["Nodes up", s.summary.nodesUp, `${s.summary.nodesDown} down`, "nodes"],
    ["Memory granted", mib(s.summary.grantedMemoryMiB), `of ${mib(s.summary.memoryMiB)} · used ${mib(used)}`, "memory"],
    ["Compute granted", pct(s.summary.computePercent ? 100 * s.summary.grantedComputePercent / s.summary.computePercent : 0),
      `busy ${pct(up.length ? busy / up.length : 0)}`, "compute"],
    ["Active vGPUs", vgpus, `${s.leases.length} leases · ${s.sessions.length} sessions`, "vgpus"],
    ["Reservations", s.summary.reservations, `policy ${s.summary.policy}`, "reservations"],
    ["Refusals", s.refusals, "since the controller started", "refusals"],
  ];
  $("overview").innerHTML = cards.map(([label, value, of, key]) =>
    `<div class="card" data-card="${key}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div><div class="of">${esc(of)}</div></div>`).join("");
}

function color(id) {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360}, 55%, 48%)`;
}

/// The slices on each GPU: every lease's vGPUs and every unclaimed reservation's.
function slicesByGPU(s) {
  const by = {};
  const usage = {};
  for (const x of s.sessions) for (const v of x.report.vgpus || []) {
    if (x.report.lease) (usage[`${x.report.lease} ${x.node} ${v.gpu}`] ||= []).push(v);
  }
  for (const l of s.leases) l.vgpus.forEach((v, i) => {
    const u = (usage[`${l.id} ${v.node} ${v.gpu}`] || []).shift();
    (by[`${v.node}/${v.gpu}`] ||= []).push({ kind: "lease", id: l.id, position: i, lease: l, v, used: u });
  });
  for (const r of s.reservations) if (!r.claimedBy) r.vgpus.forEach((v, i) => {
    (by[`${v.node}/${v.gpu}`] ||= []).push({ kind: "reservation", id: r.id, position: i, reservation: r, v });
  });
  return by;
}

function renderMap(s) {
  const slices = slicesByGPU(s);
  state.slices = slices;
  const sel = state.selection || {};
  $("map").innerHTML = s.nodes.map((n) => {
    const gpus = s.gpus.filter((g) => g.node === n.name);
    const tags = [n.state === "up" ? `<span class="tag ok">up</span>` : `<span class="tag bad">down</span>`]
      .concat(n.cordoned ? [`<span class="tag warn">cordoned</span>`] : []);
    return `<div class="node ${n.state} ${n.cordoned ? "cordoned" : ""} ${sel.kind === "node" && sel.id === n.name ? "selected" : ""}" data-node="${esc(n.name)}">
      <div class="node-title" data-select="node" data-id="${esc(n.name)}"><b>${esc(n.name)}</b>${tags.join(" ")}
        <span class="hint">${n.gpus} GPU(s) · ${n.sessions} session(s) · ${esc(n.endpoint || "local only")}</span></div>
      <div class="gpus">${gpus.map((g) => renderGPU(g, slices[`${g.node}/${g.index}`] || [], sel)).join("")}</div></div>`;
  }).join("") || `<p class="hint">No node has joined the pool yet.</p>`;
}

function renderGPU(g, slices, sel) {
  const key = `${g.node}/${g.index}`;
  const memory = slices.map((x) => sliceHTML(x, x.v.memoryMiB / g.memoryMiB, x.used ? x.used.usedMemoryMiB / Math.max(1, x.v.memoryMiB) : 0, sel)).join("");
  const compute = slices.map((x) => sliceHTML(x, x.v.computePercent / 100, x.used ? x.used.utilizationPercent / Math.max(1, x.v.computePercent) : 0, sel)).join("");
  const badge = !g.nodeUp ? `<span class="tag bad">node down</span>` : !g.healthy ? `<span class="tag bad">unhealthy</span>` : g.cordoned ? `<span class="tag warn">cordoned</span>` : "";
  return `<div class="gpu ${g.cordoned ? "cordoned" : ""} ${sel.kind === "gpu" && sel.id === key ? "selected" : ""}" data-gpu="${esc(key)}">
    <div class="gpu-title" data-select="gpu" data-id="${esc(key)}"><span>GPU ${g.index} · ${esc(g.model)}</span>${badge}</div>
    <div class="barlabel"><span>memory ${mib(g.grantedMemoryMiB)} / ${mib(g.memoryMiB)}</span><span>used ${mib(g.usedMemoryMiB)}</span></div>
    <div class="bar memory">${memory}</div>
    <div class="barlabel"><span>compute ${g.grantedComputePercent} %</span><span>busy ${pct(g.utilizationPercent)}</span></div>
    <div class="bar compute">${compute}</div></div>`;
}

function sliceHTML(x, fraction, usedFraction, sel) {
  const id = `${x.id}/${x.position}`;
  const who = x.kind === "lease" ? (x.lease.program || "a program") + (x.lease.owner ? " of " + x.lease.owner : "") : x.reservation.displayName || x.reservation.consumer;
  const title = `${x.id} vGPU ${x.position}: ${who}, ${mib(x.v.memoryMiB)}, ${x.v.computePercent} %`;
  return `<div class="slice ${x.kind === "reservation" ? "reserved" : ""} ${sel.kind === "vgpu" && sel.id === id ? "selected" : ""}"
    data-select="${x.kind === "lease" ? "vgpu" : "reservation"}" data-id="${esc(id)}" data-lease="${esc(x.id)}" title="${esc(title)}"
    style="width:${(100 * Math.min(1, fraction)).toFixed(3)}%;background-color:${color(x.id)}">${x.used ? `<div class="used" style="width:${(100 * Math.min(1, usedFraction)).toFixed(1)}%"></div>` : ""}</div>`;
}

// ---- Views: node, GPU, vGPU, linked to each other through the location's fragment (never the token).
function select(kind, id) { location.hash = kind + "=" + encodeURIComponent(id); }
function route() {
  const m = location.hash.match(/^#(node|gpu|vgpu|reservation)=(.*)$/);
  state.selection = m ? { kind: m[1], id: decodeURIComponent(m[2]) } : null;
  if (state.snapshot) { renderMap(state.snapshot); renderDetail(); }
}
const link = (kind, id, text) => `<a data-select="${kind}" data-id="${esc(id)}">${esc(text || id)}</a>`;

function renderDetail() {
  const s = state.snapshot, sel = state.selection, d = $("detail");
  if (!s || !sel) { d.innerHTML = `<p class="hint">Select a node, a GPU or a vGPU slice on the map.</p>`; return; }
  const admin = (buttons) => `<div class="actions">${buttons.map(([action, target, label]) =>
    `<button data-action="${action}" data-target="${esc(target)}">${esc(label)}</button>`).join("")}</div>`;
  if (sel.kind === "node") {
    const n = s.nodes.find((x) => x.name === sel.id);
    if (!n) { d.innerHTML = `<p>Node ${esc(sel.id)} is not in the pool.</p>`; return; }
    const gpus = s.gpus.filter((g) => g.node === n.name);
    const sessions = s.sessions.filter((x) => x.node === n.name);
    d.innerHTML = `<h3 data-view="node">Node ${esc(n.name)}</h3>
      <p>${n.state}${n.cordoned ? ", cordoned" : ""} · last heartbeat ${time(n.lastHeartbeat)} · ${esc(n.endpoint || "local only")}</p>
      ${admin([["cordon", n.name, "Cordon"], ["drain", n.name, "Drain"], ["uncordon", n.name, "Uncordon"]])}
      <table><tr><th>GPU</th><th>model</th><th>granted</th><th>compute</th></tr>${gpus.map((g) =>
        `<tr><td>${link("gpu", g.node + "/" + g.index, "GPU " + g.index)}</td><td>${esc(g.model)}</td><td>${mib(g.grantedMemoryMiB)} / ${mib(g.memoryMiB)}</td><td>${g.grantedComputePercent} %</td></tr>`).join("")}</table>
      <h4>Sessions</h4><table><tr><th>session</th><th>program</th><th>lease</th><th>memory</th></tr>${sessions.map((x) =>
        `<tr><td>${esc(x.node + ":" + x.report.session)}</td><td>${esc(x.report.program)}</td><td>${x.report.lease ? link("vgpu", x.report.lease + "/0", x.report.lease) : "-"}</td><td>${mib(x.report.usedMemoryMiB)}</td></tr>`).join("") || "<tr><td colspan=4>none</td></tr>"}</table>`;
  } else if (sel.kind === "gpu") {
    const g = s.gpus.find((x) => `${x.node}/${x.index}` === sel.id);
    if (!g) { d.innerHTML = `<p>GPU ${esc(sel.id)} is not in the pool.</p>`; return; }
    const slices = state.slices[sel.id] || [];
    d.innerHTML = `<h3 data-view="gpu">GPU ${esc(sel.id)}</h3>
      <p>${esc(g.model)} · ${g.multiprocessors} SMs · ${esc(g.uuid || "")} · on ${link("node", g.node)}</p>
      <p>memory granted ${mib(g.grantedMemoryMiB)} of ${mib(g.memoryMiB)}, used ${mib(g.usedMemoryMiB)} · compute granted ${g.grantedComputePercent} %, busy ${pct(g.utilizationPercent)}
      ${g.cordoned ? " · <b>cordoned</b>" : ""}${g.healthy ? "" : " · <b>unhealthy</b>"}</p>
      ${admin([["cordon", sel.id, "Cordon GPU"], ["drain", sel.id, "Drain GPU"], ["uncordon", sel.id, "Uncordon GPU"]])}
      <table><tr><th>vGPU</th><th>who</th><th>memory</th><th>compute</th></tr>${slices.map((x) =>
        `<tr><td>${x.kind === "lease" ? link("vgpu", x.id + "/" + x.position) : esc(x.id)}</td><td>${esc(x.kind === "lease" ? x.lease.program || "-" : x.reservation.displayName || x.reservation.consumer)}</td><td>${mib(x.v.memoryMiB)}</td><td>${x.v.computePercent} %</td></tr>`).join("") || "<tr><td colspan=4>no vGPUs</td></tr>"}</table>`;
  } else if (sel.kind === "vgpu" || sel.kind === "reservation") {
    const [id, position] = [sel.id.slice(0, sel.id.lastIndexOf("/")), Number(sel.id.slice(sel.id.lastIndexOf("/") + 1))];
    const l = s.leases.find((x) => x.id === id);
    if (!l) {
      const r = s.reservations.find((x) => x.id === id);
      d.innerHTML = r ? `<h3>Reservation ${esc(r.id)}</h3><p>for ${esc(r.displayName || r.consumer)}</p>` : `<p>Lease ${esc(id)} has ended.</p>`;
      return;
    }
    const v = l.vgpus[position] || l.vgpus[0];
    const sessions = s.sessions.filter((x) => x.report.lease === l.id);
    d.innerHTML = `<h3 data-view="vgpu">vGPU ${esc(l.id)}/${position}</h3>
      <p>${esc(l.program || "a program")}${l.owner ? " of " + esc(l.owner) : ""} · granted ${time(l.createdAt)} · requested by ${link("node", l.requester)}</p>
      <p>on ${link("gpu", v.node + "/" + v.gpu)} of ${link("node", v.node)}: ${mib(v.memoryMiB)}, ${v.computePercent} % (${esc(l.spec.computeMode)})</p>
      ${l.vgpus.length > 1 ? `<p>Other vGPUs of the lease: ${l.vgpus.map((w, i) => i === position ? "" : link("vgpu", l.id + "/" + i, `${w.node}/${w.gpu}`)).join(" ")}</p>` : ""}
      ${admin([["end", l.id, "End lease"]])}
      <table><tr><th>session</th><th>pid</th><th>memory used</th><th>compute used</th></tr>${sessions.map((x) =>
        `<tr><td>${esc(x.node + ":" + x.report.session)}</td><td>${x.report.pid}</td><td>${mib(x.report.usedMemoryMiB)}</td><td>${x.report.utilizationPercent.map(pct).join(", ") || "-"}</td></tr>`).join("") || "<tr><td colspan=4>no session reported yet</td></tr>"}</table>`;
  }
}

// ---- Events
function renderEvents() {
  $("events").innerHTML = state.events.slice().reverse().map((e) =>
    `<li class="${esc(e.kind)}" data-kind="${esc(e.kind)}"><span class="time">${time(e.time)}</span><b>${esc(e.kind)}</b> ${esc(e.message)}</li>`).join("");
}

// ---- History charts (SVG) from the controller's ring of samples.
function drawCharts() {
  const h = state.history;
  $("history-span").textContent = h.length ? `${h.length} samples since ${time(h[0].time)}` : "no samples yet";
  const charts = [
    ["Memory (% of pool)", [["granted", (x) => x.memoryMiB ? 100 * x.grantedMemoryMiB / x.memoryMiB : 0, "#4fb3ff"], ["used", (x) => x.memoryMiB ? 100 * x.usedMemoryMiB / x.memoryMiB : 0, "#3fb950"]], 100],
    ["Compute (% of pool)", [["granted", (x) => x.computePercent ? 100 * x.grantedComputePercent / x.computePercent : 0, "#d29922"], ["busy", (x) => x.computePercent ? 100 * x.utilizationPercent / x.computePercent : 0, "#f0883e"]], 100],
    ["Leases and refusals", [["leases", (x) => x.leases, "#a371f7"], ["refusals", (x) => x.refusals, "#f85149"]], null],
  ];
  $("charts").innerHTML = charts.map(([title, series, max]) => chart(title, series, max)).join("");
}

function chart(title, series, fixedMax) {
  const h = state.history, W = 300, H = 120;
  const t0 = h.length ? h[0].time : 0, t1 = h.length ? h[h.length - 1].time : 1;
  const max = fixedMax || Math.max(1, ...series.flatMap(([, f]) => h.map(f)));
  const x = (t) => t1 > t0 ? (W * (t - t0)) / (t1 - t0) : W;
  const y = (v) => H - 4 - ((H - 8) * v) / max;
  const lines = series.map(([, f, c]) => `<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${h.map((p) => x(p.time).toFixed(1) + "," + y(f(p)).toFixed(1)).join(" ")}"/>`).join("");
  return `<div class="chart"><div>${esc(title)} <span class="hint">max ${Math.round(max)}</span></div>
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">${lines}</svg>
    <div class="legend">${series.map(([name, , c]) => `<span style="color:${c}">■ ${esc(name)}</span>`).join("")}</div></div>`;
}

// ---- Administrators' actions, each after a confirmation.
function confirmAction(text) {
  return new Promise((resolve) => {
    $("confirm-text").textContent = text;
    $("confirm").hidden = false;
    const done = (answer) => { $("confirm").hidden = true; $("confirm-ok").onclick = $("confirm-cancel").onclick = null; resolve(answer); };
    $("confirm-ok").onclick = () => done(true);
    $("confirm-cancel").onclick = () => done(false);
  });
}

async function act(action, target) {
  const words = { cordon: "Cordon", uncordon: "Uncordon", drain: "Drain (cordon and end every lease on)", end: "End lease" }[action];
  if (!(await confirmAction(`${words} ${target}?`))) return;
  const path = action === "end" ? `/v1/leases/${encodeURIComponent(target)}/end`
    : target.includes("/") ? `/v1/nodes/${encodeURIComponent(target.split("/")[0])}/gpus/${encodeURIComponent(target.split("/")[1])}/${action}`
    : `/v1/nodes/${encodeURIComponent(target)}/${action}`;
  const result = $("action-result");
  try {
    const reply = await api(path, { method: "POST" });
    result.className = "ok"; result.textContent = reply.message;
  } catch (error) {
    result.className = "bad"; result.textContent = `Refused: ${error.message}`;
  }
}

// ---- Wiring
document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
  $("signout").addEventListener("click", signOut);
  document.body.addEventListener("click", (e) => {
    const action = e.target.closest("[data-action]");
    if (action) { act(action.dataset.action, action.dataset.target); return; }
    const target = e.target.closest("[data-select]");
    if (target) select(target.dataset.select, target.dataset.id);
  });
  window.addEventListener("hashchange", route);
  const saved = sessionStorage.getItem("tessera-token");
  if (saved) signIn(saved);
});
"""#
}
