// sync.js keeps the sync page (web/views/sync.templ) live: the download
// window's cells, the rates, the peers downloading, the stalls and the
// chart of each recent block's connect stages. It follows the feed that
// app.js holds: app.js asks for the feed's sync part on this page and
// dispatches every message it applied as a "watchnode:feed" event.
//
// SECURITY: as app.js, it builds the DOM with createElement and
// textContent only; every string from the feed may be hostile.
(function () {
  "use strict";

  const DASH = "\u2014";
  const STATES = { ".": "missing", r: "requested", R: "received", S: "stored", V: "validated" };
  const STAGES = ["read", "inputs", "scripts", "write"];
  const RATE_SAMPLES = 10; // the rates are the mean of the last 10 seconds
  const DETAIL_TTL = 2000; // ms a hovered block's details are cached

  const $ = (sel) => document.querySelector(sel);
  const fmt = (kind, v) => (globalThis.watchnode ? globalThis.watchnode.format(kind, v) : String(v));
  const isId = (n) => Number.isSafeInteger(n) && n >= 0;

  function el(tag, text, props) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (props) Object.assign(e, props);
    return e;
  }

  // peerHue matches the server's views.peerHue.
  const peerHue = (id) => String(190 + ((id * 53) % 140));

  // ------------------------------------------------------------- window

  let lastWindow = null; // the last sync part, for hover titles

  function cellTitle(height, state, peer, ageMs) {
    let s = "block " + height + ": " + state;
    if (state === "requested") s += " from peer " + peer + " for " + fmt("duration", ageMs / 1000);
    return s;
  }

  // renderStaller names the peer holding up the window, as the server's
  // stallerText does.
  function renderStaller(d) {
    const e = $("#sync-staller");
    if (!e) return;
    e.hidden = !(isId(d.staller) && d.staller > 0);
    e.textContent = e.hidden ? "" : "Peer " + d.staller + " is stalling the download window: it holds the window's first block, waited for " +
      fmt("duration", d.stalling_ms / 1000) + " of the " + fmt("duration", d.stall_timeout_ms / 1000) + " timeout, after which it is dropped.";
  }

  function renderWindow(d) {
    const w = $("#sync-window");
    renderStaller(d);
    if (!w || typeof d.states !== "string" || !Number.isSafeInteger(d.from)) return;
    lastWindow = d;
    w.dataset.from = String(d.from);
    const n = d.states.length;
    while (w.children.length > n) w.lastChild.remove();
    while (w.children.length < n) w.appendChild(el("span", null, { className: "cell" }));
    for (let i = 0; i < n; i++) {
      const c = w.children[i];
      const state = STATES[d.states[i]] || "missing";
      const peer = Array.isArray(d.peers) && isId(d.peers[i]) ? d.peers[i] : 0;
      const age = Array.isArray(d.age_ms) && Number.isFinite(d.age_ms[i]) ? d.age_ms[i] : 0;
      const height = String(d.from + i);
      const cls = "cell cell-" + state + (state === "requested" && d.staller > 0 && peer === d.staller ? " cell-stalling" : "");
      if (c.className !== cls) c.className = cls;
      if (c.dataset.height !== height) c.dataset.height = height;
      if (state === "requested") {
        c.dataset.peer = String(peer);
        c.style.setProperty("--peer-hue", peerHue(peer));
      } else if (c.dataset.peer) {
        delete c.dataset.peer;
        c.style.removeProperty("--peer-hue");
      }
      c.title = cellTitle(height, state, peer, age);
    }
  }

  // Hovering a cell says which peer, since when and why it was asked: the
  // why comes from the block's timeline (GET /api/blocks/{height}).
  const details = new Map(); // height -> {at, text}
  let hovered = null; // the cell whose details are shown
  async function showDetail(cell) {
    const out = $("#sync-cell-detail");
    if (!out || !cell.dataset.height) return;
    hovered = cell;
    const height = cell.dataset.height;
    out.textContent = cell.title;
    const cached = details.get(height);
    if (cached && Date.now() - cached.at < DETAIL_TTL) {
      out.textContent = cell.title + cached.text;
      return;
    }
    let text = "";
    try {
      const resp = await fetch("/api/blocks/" + encodeURIComponent(height), { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (resp.ok) {
        const b = await resp.json();
        const reqs = b && b.timeline && Array.isArray(b.timeline.requests) ? b.timeline.requests : [];
        const last = reqs[reqs.length - 1];
        if (last && typeof last.why === "string") text = " \u2014 asked of peer " + last.peer + " because: " + last.why;
      }
    } catch (err) {
      text = "";
    }
    details.set(height, { at: Date.now(), text });
    if (details.size > 64) details.delete(details.keys().next().value);
    if (hovered === cell) out.textContent = cell.title + text;
  }

  // ------------------------------------------------------------- rates

  function renderRates(samples, status) {
    const recent = Array.isArray(samples) ? samples.slice(-RATE_SAMPLES) : [];
    const mean = (k) => (recent.length ? recent.reduce((a, s) => a + (Number(s[k]) || 0), 0) / recent.length : NaN);
    for (const e of document.querySelectorAll("[data-rate]")) {
      const v = mean(e.dataset.rate);
      e.textContent = Number.isNaN(v) ? DASH : e.dataset.rate === "block_bytes_per_sec" ? fmt("bytes", v) + "/s" : fmt("number", v);
    }
    const eta = $("#sync-eta");
    if (eta && status) {
      const left = Number(status.headers) - Number(status.blocks);
      const rate = mean("blocks_per_sec");
      eta.textContent = left <= 0 ? "caught up" : rate > 0 ? fmt("duration", left / rate) : DASH;
    }
  }

  // ------------------------------------------------------------- tables

  function renderPeers(peers) {
    const body = $("#sync-peers tbody");
    if (!body || !Array.isArray(peers)) return;
    const rows = peers.filter((p) => p && isId(p.id) && (p.blocks_in_flight > 0 || p.blocks_received > 0));
    body.replaceChildren(
      ...rows.map((p) => {
        const tr = el("tr");
        tr.dataset.peer = String(p.id);
        const link = el("a", String(p.id), { href: "/peers/" + String(p.id) });
        const rate = p.block_busy_s > 0 ? fmt("bytes", p.block_bytes / p.block_busy_s) + "/s" : DASH;
        const cells = [link, p.addr, fmt("number", p.blocks_in_flight), fmt("number", p.blocks_received), (Number(p.block_delivery_ms) || 0).toFixed(1), rate];
        cells.forEach((c, i) => {
          const td = el("td", typeof c === "string" ? c : null, { className: i === 1 ? "" : "num" });
          if (typeof c !== "string") td.appendChild(c);
          tr.appendChild(td);
        });
        return tr;
      }),
    );
  }

  function renderStalls(stalls) {
    const body = $("#sync-stalls tbody");
    if (!body || !Array.isArray(stalls)) return;
    body.replaceChildren(
      ...stalls.filter((s) => s && isId(s.peer)).map((s) => {
        const tr = el("tr");
        tr.dataset.peer = String(s.peer);
        tr.appendChild(el("td", fmt("time", s.at)));
        const td = el("td", null, { className: "num" });
        td.appendChild(el("a", String(s.peer), { href: "/peers/" + String(s.peer) }));
        tr.appendChild(td);
        tr.appendChild(el("td", fmt("number", s.height), { className: "num" }));
        tr.appendChild(el("td", fmt("duration", s.waited_ns / 1e9), { className: "num" }));
        tr.appendChild(el("td", fmt("duration", s.timeout_ns / 1e9), { className: "num" }));
        tr.appendChild(el("td", s.outcome));
        return tr;
      }),
    );
  }

  function renderStages(status) {
    const v = status && status.validation;
    if (!v || !v.stages) return;
    for (const name of STAGES) {
      const row = document.querySelector('#sync-stages tr[data-stage="' + name + '"]');
      const h = v.stages[name];
      if (!row || !h) continue;
      row.children[1].textContent = h.count > 0 ? ((h.sum / h.count) * 1000).toFixed(2) : DASH;
      row.children[2].textContent = fmt("number", h.count);
    }
  }

  // The stage chart: one stacked column per recent block, drawn in SVG.
  const SVG = "http://www.w3.org/2000/svg";
  function renderChart(recent) {
    const svg = $("#stage-chart");
    if (!svg || !Array.isArray(recent)) return;
    const W = 600, H = 160, top = 10;
    const totals = recent.map((r) => STAGES.reduce((a, s) => a + Math.max(0, Number(r[s + "_ns"]) || 0), 0));
    const max = Math.max(1, ...totals);
    const bw = W / Math.max(1, recent.length);
    svg.replaceChildren();
    recent.forEach((r, i) => {
      let y = H;
      for (const s of STAGES) {
        const v = Math.max(0, Number(r[s + "_ns"]) || 0);
        const h = (v / max) * (H - top);
        y -= h;
        const rect = document.createElementNS(SVG, "rect");
        rect.setAttribute("x", String(i * bw));
        rect.setAttribute("y", String(y));
        rect.setAttribute("width", String(Math.max(1, bw - 1)));
        rect.setAttribute("height", String(h));
        rect.setAttribute("class", "stage-" + s);
        const t = document.createElementNS(SVG, "title");
        t.textContent = "block " + r.height + " " + s + ": " + (v / 1e6).toFixed(3) + " ms";
        rect.appendChild(t);
        svg.appendChild(rect);
      }
    });
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", "4");
    label.setAttribute("y", "10");
    label.setAttribute("class", "chart-label");
    label.textContent = "max " + (max / 1e6).toFixed(2) + " ms";
    svg.appendChild(label);
  }

  // ------------------------------------------------------------- feed

  function onFeed(e) {
    const m = e.detail || {};
    if ((m.type !== "snapshot" && m.type !== "delta") || !m.live) return;
    const d = m.data || {};
    if (d.sync && typeof d.sync === "object") {
      renderWindow(d.sync);
      renderStalls(d.sync.stalls || []);
      renderChart(d.sync.recent || []);
    }
    if (d.peers || d.peers_empty || m.type === "snapshot") renderPeers(m.peers);
    if (d.samples || d.status) renderRates(m.samples, m.status);
    if (d.status) renderStages(m.status);
  }

  globalThis.watchnodeSync = Object.freeze({ cellTitle, peerHue, window: () => lastWindow });
  if (typeof document === "undefined") return;
  document.addEventListener("watchnode:feed", onFeed);
  function init() {
    const w = $("#sync-window");
    if (w) w.addEventListener("mouseover", (e) => e.target instanceof Element && e.target.classList.contains("cell") && showDetail(e.target));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
