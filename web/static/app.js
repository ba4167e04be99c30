// app.js makes watchnode's server-rendered dashboard pages live.
//
// The pages are complete without it. This script connects to the feed at
// /ws and updates what a page declares (the DOM contract of web/views):
//   - [data-field="status.x.y"] and [data-field="peer.x"] with data-format
//   - #sync-progress, #conn-state, #events
//   - #peers-table (sortable by its headers), the peer page (#peer ...,
//     #peer-announcements and #peer-unsolicited)
//   - the message log (#msg-filter, #msg-pause, #msg-log, #msg-skipped)
//   - the network charts (#chart-*, drawn with the vendored uPlot), #msg-totals
//   - #disconnects-table, #bans-table
// Values are formatted as web/views/format.templ formats them, so a value
// looks the same before and after its first update (web/static's tests run
// the formats here against the server's). window.watchnode shows the pure
// functions and the charts drawn, for those tests and the browser's. An empty table body
// or list is left empty: the stylesheet then shows its data-empty text.
//
// Feed protocol (web/feed.go): a "snapshot" first on every connection, then
// "delta" messages carrying only the sections that changed (each section
// whole; events and samples are appended), and "messages" batches for the
// message log subscription. Every message carries "v", the schema version.
//
// SECURITY: everything in the feed may be hostile text (user agents,
// addresses, reasons and summaries come from remote peers). This file
// builds the DOM only with createElement, textContent and harmless
// properties, and builds links from numbers only. It never parses feed
// data as markup.
(function () {
  "use strict";

  const FEED_VERSION = 1;
  const MAX_EVENTS = 20; // #events items
  const MAX_LOG_ROWS = 500; // #msg-log rows
  const MAX_PEER_LOG_ROWS = 50; // #peer-messages rows
  const MAX_SAMPLES = 600; // chart points: ten minutes
  const BACKOFF_MIN = 500; // ms before the first reconnect, doubling...
  const BACKOFF_MAX = 5000; // ...up to this
  const DASH = "\u2014"; // a missing value, as the server writes it

  // The node's state as last received.
  const state = { status: null, peers: [], disconnects: [], bans: [], added: [], samples: [] };

  // ---------------------------------------------------------------- helpers

  const $ = (sel) => document.querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const isId = (n) => Number.isSafeInteger(n) && n >= 0;
  const has = (o, k) => o !== null && typeof o === "object" && Object.prototype.hasOwnProperty.call(o, k);
  const list = (v) => (Array.isArray(v) ? v.filter((x) => x && typeof x === "object") : []);

  // el creates an element with text content and properties. Callers pass
  // only fixed property names (className, href built from numbers, title,
  // dateTime, value...), never names that come from the feed.
  function el(tag, text, props) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    return props ? Object.assign(e, props) : e;
  }

  // row makes a <tr> with a <td data-col=c> for each column c, holding the
  // text or node content(c), with the class cls(c) and the title title(c)
  // if any.
  function row(cols, content, cls, title) {
    const tr = el("tr");
    for (const c of cols) {
      const td = el("td");
      td.dataset.col = c;
      const k = cls ? cls(c) : "";
      if (k) td.className = k;
      const t = title ? title(c) : "";
      if (t) td.title = t;
      td.append(content(c));
      tr.append(td);
    }
    return tr;
  }

  // setText changes an element's text only when it differs, so unchanged
  // fields cost no layout and keep a text selection.
  function setText(e, text) {
    if (e.textContent !== text) e.textContent = text;
  }

  // getPath follows a dotted path ("sync.progress") through own properties.
  function getPath(obj, path) {
    let v = obj;
    for (const k of path.split(".")) {
      if (!has(v, k)) return undefined;
      v = v[k];
    }
    return v;
  }

  // link returns <a href="prefix+n">text</a>, or just the text when n is not
  // a non-negative integer: hrefs are built from numbers only.
  const link = (prefix, n, text) => (isId(n) ? el("a", text, { href: prefix + String(n) }) : text);
  const peerLink = (id) => link("/peers/", id, isId(id) ? String(id) : DASH);

  // ------------------------------------------------------------- formatting

  // The server's clock minus ours (ms), estimated from the samples' times,
  // so that "connected for 3m" does not depend on the browser's clock.
  let clockSkew = 0;

  // toDate parses a feed time; Go's zero time ("0001-01-01...") is null.
  function toDate(v) {
    if (typeof v !== "string" && typeof v !== "number") return null;
    const d = new Date(v);
    return Number.isNaN(d.getTime()) || d.getUTCFullYear() <= 1 ? null : d;
  }

  // fixed1 is n with one decimal, ties to even as Go's strconv does.
  function fixed1(n) {
    const t = n * 10;
    let r = Math.round(t);
    if (Math.abs(t % 1) === 0.5 && r % 2) r -= 1;
    return (r / 10).toFixed(1);
  }

  // number: thousands separated by ","; one decimal unless whole.
  function fmtNumber(v) {
    const n = Number(v);
    if (!Number.isFinite(n)) return DASH;
    const r = Math.round(Math.abs(n) * 10) / 10;
    const s = r.toLocaleString("en-US", { maximumFractionDigits: 1 });
    return n < 0 && r !== 0 ? "-" + s : s;
  }

  // bytes: "512 B", then KiB, MiB, GiB, TiB, PiB with one decimal.
  function fmtBytes(v) {
    let n = Number(v), i = -1;
    if (!Number.isFinite(n)) return DASH;
    if (n < 1024) return Math.trunc(n) + " B";
    for (; n >= 1024 && i < 4; i++) n /= 1024;
    return fixed1(n) + " " + ["KiB", "MiB", "GiB", "TiB", "PiB"][i];
  }

  // duration: seconds as "45s", "3m 12s", "2h 5m", "3d 4h"; a dash if not
  // above 0.
  function fmtDuration(secs) {
    const x = Number(secs);
    if (!(x > 0) || !Number.isFinite(x)) return DASH;
    const s = Math.trunc(x), t = Math.trunc;
    if (s < 60) return s + "s";
    if (s < 3600) return t(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return t(s / 3600) + "h " + t((s % 3600) / 60) + "m";
    return t(s / 86400) + "d " + t((s % 86400) / 3600) + "h";
  }

  // since is the time elapsed since a feed time, by the server's clock.
  function since(v) {
    const d = toDate(v);
    return d ? fmtDuration((Date.now() + clockSkew - d.getTime()) / 1000) : DASH;
  }

  // time: "2006-01-02 15:04:05 UTC"; clock, for log lines: "15:04:05.000".
  function fmtTime(v) {
    const d = toDate(v);
    return d ? d.toISOString().slice(0, 19).replace("T", " ") + " UTC" : DASH;
  }
  function fmtClock(v) {
    const d = toDate(v);
    return d ? d.toISOString().slice(11, 23) : DASH;
  }

  // timeEl is <time datetime=ISO>fmt(v)</time>.
  function timeEl(v, fmt) {
    const d = toDate(v);
    return d ? el("time", fmt(v), { dateTime: d.toISOString() }) : el("time", DASH);
  }

  const fmtMs = (v) => (Number(v) > 0 ? fmtNumber(v) + " ms" : DASH); // 0: no pong yet

  // log2_work: a chain work given in hex, as Bitcoin Core logs it
  // (UpdateTip's log2_work=%f): log(work)/log(2) with six decimals, the
  // work turned into a double as arith_uint256::getdouble does, 32-bit
  // words from the least significant. A dash for no work or bad hex.
  function fmtLog2Work(v) {
    const hex = typeof v === "string" ? v.replace(/^0x/, "") : "";
    if (!/^[0-9a-fA-F]+$/.test(hex)) return DASH;
    let work = 0, place = 1;
    for (let end = hex.length; end > 0; end -= 8) {
      work += place * parseInt(hex.slice(Math.max(0, end - 8), end), 16);
      place *= 4294967296;
    }
    return work > 0 ? (Math.log(work) / Math.log(2)).toFixed(6) : DASH;
  }

  // The service bits' letters in the peers table, as web/views/services.go
  // has them; "?" stands, once, for the bits Bitcoin Core does not name.
  const SERVICE_LETTERS = { NETWORK: "N", BLOOM: "B", WITNESS: "W", COMPACT_FILTERS: "C", NETWORK_LIMITED: "L", P2P_V2: "P" };
  function serviceLetters(names) {
    if (!Array.isArray(names)) return DASH;
    let s = "", unknown = false;
    for (const n of names) {
      if (typeof n === "string" && has(SERVICE_LETTERS, n)) s += SERVICE_LETTERS[n];
      else unknown = true;
    }
    if (unknown) s += "?";
    return s || DASH;
  }
  const serviceTitle = (names) => (Array.isArray(names) && names.length ? names.map(plain).join(", ") : "no services");

  // plain formats anything as text: lists joined, maps as "key value".
  function plain(v) {
    if (v === undefined || v === null) return DASH;
    if (Array.isArray(v)) return v.length ? v.map(plain).join(", ") : DASH;
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "object") {
      const parts = Object.keys(v).filter((k) => v[k]).map((k) => (v[k] === true ? k : k + " " + plain(v[k])));
      return parts.length ? parts.join(", ") : DASH;
    }
    return String(v);
  }

  // TARGET_SOURCES explain where the sync target comes from (as the
  // server's views.TargetSource).
  const TARGET_SOURCES = {
    clock: "(estimated from the clock: no peer has told us more yet)",
    peers: "(the best height our peers announced)",
    tip: "(our tip)",
  };

  // Transports, as web/views/transport.go names and explains them: "" is
  // a connection still in its v2 handshake.
  const HANDSHAKING = "handshaking";
  const fmtTransport = (v) => (v === "" ? HANDSHAKING : plain(v));
  const TRANSPORT_TITLES = { v1: "v1: plaintext P2P", v2: "v2: BIP324, encrypted", "": "a v2 (BIP324) handshake under way; it may still fall back to v1" };
  const transportTitle = (v) => (has(TRANSPORT_TITLES, v) ? TRANSPORT_TITLES[v] : plain(v));
  const transportClass = (v) => (v === "v1" || v === "v2" ? "transport-" + v : v === "" ? "transport-" + HANDSHAKING : "");

  // transport_share: v2's share of the peers of every transport
  // (status.transports), "v2: 3 of 8 peers (37.5%)".
  function fmtTransportShare(v) {
    if (!v || typeof v !== "object") return DASH;
    const peers = (k) => Number(has(v, k) && v[k] && v[k].peers) || 0;
    const total = Object.keys(v).reduce((sum, k) => sum + peers(k), 0);
    const v2 = peers("v2");
    return "v2: " + fmtNumber(v2) + " of " + fmtNumber(total) + " peers" + (total > 0 ? " (" + FORMATS.percent(v2 / total) + ")" : "");
  }

  // FORMATS are the values of data-format; anything else is "text".
  const FORMATS = {
    number: fmtNumber,
    bytes: fmtBytes,
    duration: (v) => (typeof v === "string" ? since(v) : fmtDuration(v)), // seconds, or since a time
    // A 0..1 fraction, one decimal, rounded down: 99.96% is not done.
    percent: (v) => (Number.isNaN(Number(v)) ? DASH : Math.max(0, Math.min(100, Math.floor(Number(v) * 1000 + 1e-9) / 10)).toFixed(1) + "%"),
    time: fmtTime,
    hash: plain,
    log2_work: fmtLog2Work,
    text: plain,
    target_source: (v) => TARGET_SOURCES[v] || "",
    transport: fmtTransport,
    transport_share: fmtTransportShare,
  };
  // TITLES give the title of a data-format's element: the exact value
  // behind a rounded one.
  const TITLES = { log2_work: plain };
  const format = (kind, v) => (v === undefined || v === null ? DASH : (has(FORMATS, kind) ? FORMATS[kind] : plain)(v));

  // peerValue formats one PeerInfo field by its JSON key, as the peers
  // table does: text, or a <time> for the times shown as ages.
  function peerValue(key, v) {
    if (v === undefined || v === null) return DASH;
    if (key === "inbound") return v ? "in" : "out";
    if (key === "inflight") return Array.isArray(v) ? String(v.length) : DASH;
    if (key === "service_names") return serviceLetters(v);
    if (key === "transport") return v === "v2" ? el("span", "v2", { className: "badge" }) : fmtTransport(v); // v2 stands out
    if (key === "user_agent" || key === "addr") return el("span", plain(v), { className: "clip" }); // cut with an ellipsis
    if (/^(connected_at|last_send|last_recv)$/.test(key)) return Object.assign(timeEl(v, since), { title: fmtTime(v) });
    if (/^(ping_ms|min_ping_ms|ping_wait_ms)$/.test(key)) return fmtMs(v);
    if (/^(id|version|services|misbehavior)$/.test(key)) return String(v);
    if (key.includes("bytes")) return fmtBytes(v);
    return typeof v === "number" ? fmtNumber(v) : plain(v);
  }

  // The classes of the server's cells: numbers align right.
  const CELL_CLASS = { addr: "addr", user_agent: "ua", service_names: "services", summary: "summary" };
  const peerClass = (c, v) => CELL_CLASS[c] || (c === "transport" ? transportClass(v) : "") || (typeof v === "number" || c === "inflight" || c === "connected_at" ? "num" : "");

  // peerTitle is a peers table cell's title: the whole of what the cell
  // abbreviates or cuts.
  function peerTitle(c, v) {
    if (c === "service_names") return serviceTitle(v);
    if (c === "user_agent" || c === "addr") return plain(v);
    if (c === "transport") return transportTitle(v);
    return "";
  }

  // ----------------------------------------------------------------- tables

  // columnsOf returns the keys a table's header declares, or fallback.
  function columnsOf(table, fallback) {
    const ths = $$("thead th[data-col]", table);
    return ths.length ? ths.map((th) => th.dataset.col) : fallback;
  }

  const bodyOf = (table) => table.tBodies[0] || table.appendChild(el("tbody"));
  const fillBody = (table, rows) => bodyOf(table).replaceChildren(...rows);

  // patchBody puts rows in a table body like fillBody, but keeps the rows
  // already there with the same key(tr), changing only the cells whose
  // text changed, and moves rows only when the order changed: a link in a
  // table updated ten times a second stays put while it is clicked.
  function patchBody(table, rows, key) {
    const body = bodyOf(table);
    const old = new Map(Array.from(body.rows, (tr) => [key(tr), tr]));
    const out = rows.map((tr) => {
      const o = old.get(key(tr));
      if (!o || o.cells.length !== tr.cells.length) return tr;
      Array.from(tr.cells).forEach((td, i) => {
        const ot = o.cells[i];
        if (ot.textContent !== td.textContent || ot.className !== td.className || ot.title !== td.title || ot.dataset.col !== td.dataset.col) o.replaceChild(td, ot);
      });
      return o;
    });
    if (out.length !== body.rows.length || out.some((tr, i) => body.rows[i] !== tr)) body.replaceChildren(...out);
  }

  // renderCommands fills a table of traffic by command (#peer-commands,
  // #msg-totals) from msgs_recv / msgs_sent maps, sorted by command. It
  // skips the work when the maps have not changed.
  const shownCommands = new WeakMap();
  function renderCommands(table, recv, sent) {
    if (!table) return;
    recv = recv && typeof recv === "object" ? recv : {};
    sent = sent && typeof sent === "object" ? sent : {};
    const key = JSON.stringify([recv, sent]);
    if (shownCommands.get(table) === key) return;
    shownCommands.set(table, key);
    const cols = columnsOf(table, ["command", "msgs_recv", "bytes_recv", "msgs_sent", "bytes_sent"]);
    const names = Array.from(new Set([...Object.keys(recv), ...Object.keys(sent)])).sort();
    fillBody(table, names.map((name) => {
      const t = { recv: has(recv, name) ? recv[name] : {}, sent: has(sent, name) ? sent[name] : {} };
      const value = (c) => {
        const [what, dir] = c.split("_"); // msgs_recv, bytes_sent...
        const x = (t[dir] && typeof t[dir] === "object" && t[dir]) || {};
        return what === "msgs" ? fmtNumber(x.msgs || 0) : what === "bytes" ? fmtBytes(x.bytes || 0) : name;
      };
      const tr = row(cols, value, (c) => (c === "command" ? "" : "num"));
      tr.dataset.command = name;
      return tr;
    }));
  }

  // --------------------------------------------------------- status fields

  function renderStatus() {
    const st = state.status;
    if (!st) return;
    for (const e of $$('[data-field^="status."]')) {
      const v = getPath(st, e.dataset.field.slice("status.".length));
      if (v === undefined) continue;
      const kind = e.dataset.format || "text";
      setText(e, format(kind, v));
      if (has(TITLES, kind) && e.title !== TITLES[kind](v)) e.title = TITLES[kind](v);
    }
    const hint = $("#no-peers-hint");
    if (hint) hint.hidden = Number(st.peers) > 0;
    const bar = $("#sync-progress");
    const p = Number(st.sync && st.sync.progress);
    if (bar && Number.isFinite(p)) bar.value = Math.min(1, Math.max(0, p));
    renderCommands($("#msg-totals"), st.msgs_recv, st.msgs_sent);
  }

  // ------------------------------------------------------------ peers table

  const peerSort = { key: null, desc: false }; // kept across updates

  // sortValue is what a peers column sorts by.
  function sortValue(key, v) {
    if (Array.isArray(v)) return key === "service_names" ? v.join(",") : v.length;
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v === "string") {
      const d = /_at$|^last_/.test(key) ? toDate(v) : null;
      return d ? -d.getTime() : v.toLowerCase(); // a time is shown as an age
    }
    if (v && typeof v === "object") return Object.keys(v).length;
    return typeof v === "number" ? v : "";
  }

  function compare(a, b) {
    if (typeof a === "string" || typeof b === "string") return String(a).localeCompare(String(b));
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function setupPeersTable(table) {
    table.classList.add("sortable");
    for (const th of $$("thead th[data-col]", table)) {
      const sortBy = (e) => {
        e.preventDefault(); // a header may hold a server-side sort link
        if (peerSort.key === th.dataset.col) peerSort.desc = !peerSort.desc;
        else Object.assign(peerSort, { key: th.dataset.col, desc: false });
        renderPeers();
      };
      th.tabIndex = 0;
      th.addEventListener("click", sortBy);
      th.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && sortBy(e));
    }
  }

  function renderPeers() {
    const table = $("#peers-table");
    if (!table) return;
    const cols = columnsOf(table, ["id", "addr", "inbound", "user_agent", "ping_ms", "bytes_recv", "bytes_sent", "connected_at"]);
    const { key, desc } = peerSort;
    const peers = state.peers.slice();
    if (key) peers.sort((a, b) => (desc ? -1 : 1) * compare(sortValue(key, a[key]), sortValue(key, b[key])) || a.id - b.id);
    const rows = peers.map((p) => {
      const tr = row(cols, (c) => (c === "id" ? peerLink(p.id) : peerValue(c, p[c])), (c) => peerClass(c, p[c]), (c) => peerTitle(c, p[c]));
      if (isId(p.id)) tr.dataset.peerId = String(p.id);
      return tr;
    });
    patchBody(table, rows, (tr) => tr.dataset.peerId);
    for (const th of $$("thead th[data-col]", table)) {
      if (th.dataset.col === key) th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
  }

  // -------------------------------------------------------------- peer page

  function pagePeerId() {
    const sec = $("#peer");
    const id = sec ? Number(sec.dataset.peerId) : NaN;
    return isId(id) ? id : null;
  }

  // peerBanner shows text in a banner atop the peer section; null removes
  // it (removed rather than hidden, whatever the stylesheet does).
  function peerBanner(sec, text) {
    let b = document.getElementById("peer-gone");
    if (text === null) return b && b.remove();
    if (!b) {
      b = el("p", null, { id: "peer-gone", className: "notice error banner" });
      b.setAttribute("role", "alert");
      sec.prepend(b);
    }
    setText(b, text);
  }

  // inflightValue formats a column of a request in flight.
  function inflightValue(c, r) {
    if (c === "queued" || c === "written") return fmtTime(r[c]);
    if (c === "age_ms" || c === "age") return fmtDuration(Number(r.age_ms) / 1000);
    return plain(r[c]); // id, command
  }

  // renderCounts fills a <dl> of message counts by command (the peer page's
  // announcements and unsolicited responses), sorted by command, as the
  // server renders it; an empty one shows its data-empty text.
  function renderCounts(dl, counts) {
    if (!dl) return;
    counts = counts && typeof counts === "object" ? counts : {};
    const items = Object.keys(counts).sort().flatMap((k) => [el("dt", k), el("dd", fmtNumber(counts[k]), { className: "num" })]);
    if (dl.textContent !== items.map((e) => e.textContent).join("")) dl.replaceChildren(...items);
  }

  function renderPeerPage() {
    const sec = $("#peer");
    const id = pagePeerId();
    if (!sec || id === null) return;
    const p = state.peers.find((x) => x.id === id);
    if (!p) {
      // Gone: say so, and why if the disconnect list knows; the last
      // values stay on the page.
      const d = state.disconnects.filter((x) => x.id === id).pop();
      peerBanner(sec, "Peer " + id + " disconnected" + (d ? ": " + plain(d.kind) + (d.reason ? " \u2014 " + plain(d.reason) : "") : "."));
      return;
    }
    peerBanner(sec, null);
    for (const e of $$('[data-field^="peer."]')) {
      const path = e.dataset.field.slice("peer.".length);
      const v = getPath(p, path);
      const text = e.dataset.format ? format(e.dataset.format, v) : peerValue(path.split(".").pop(), v);
      setText(e, typeof text === "string" ? text : text.textContent);
    }
    renderCommands($("#peer-commands"), p.msgs_recv, p.msgs_sent);
    renderCounts($("#peer-announcements"), p.announcements);
    renderCounts($("#peer-unsolicited"), p.unsolicited);
    const infl = $("#peer-inflight");
    if (infl) {
      const cols = columnsOf(infl, ["command", "age_ms"]);
      const cls = (c) => (c === "id" || c === "age_ms" ? "num" : "");
      fillBody(infl, list(p.inflight).map((r) => row(cols, (c) => inflightValue(c, r), cls)));
    }
  }

  // ----------------------------------------------------------------- events

  // Keys of the events shown lately: the first delta after a snapshot may
  // repeat events that the snapshot already had.
  let seenEvents = new Set();
  const eventKey = (ev) => JSON.stringify([ev.time, ev.kind, ev.peer, ev.addr, ev.text]);

  // addEvents prepends events (given oldest first), so the newest is on
  // top, each as the server renders it.
  function addEvents(evs, replace) {
    if (replace) seenEvents = new Set();
    evs = evs.filter((ev) => !seenEvents.has(eventKey(ev)));
    for (const ev of evs) seenEvents.add(eventKey(ev));
    if (seenEvents.size > 1000) seenEvents = new Set(Array.from(seenEvents).slice(-500));
    const ul = $("#events");
    if (!ul) return;
    if (replace) ul.replaceChildren();
    for (const ev of evs.slice(-MAX_EVENTS)) {
      const li = el("li");
      li.dataset.kind = plain(ev.kind);
      li.append(timeEl(ev.time, fmtTime), " ", el("span", plain(ev.kind), { className: "kind" }), " ", el("span", plain(ev.text), { className: "text" }));
      if (isId(ev.peer) && ev.peer > 0) li.append(" ", el("a", "peer " + ev.peer, { className: "peer-link", href: "/peers/" + ev.peer }));
      ul.prepend(li);
    }
    while (ul.children.length > MAX_EVENTS) ul.lastElementChild.remove();
  }

  // ------------------------------------------------------------ message log

  const log = {
    sub: null, // the subscription sent: {type, peer, command, dir}
    paused: false,
    skipped: 0, // lost by the server, plus dropped while paused
    maxSeq: 0, // the newest line shown, to drop repeats (set in init)
    startedAt: null, // the node's start time: a restart numbers lines anew
  };

  function matches(line, f) {
    if (!f || (f.peer && line.peer !== f.peer) || (f.command && line.command !== f.command)) return false;
    return !f.dir || line.dir === f.dir;
  }

  // decoderLink opens a log line's message in the decoder with what the
  // log knows of it, which its bytes do not say; the same link as the
  // server's (views.DecoderLink), seq first.
  function decoderLink(line) {
    let href = "/decoder#seq=" + String(line.seq);
    const add = (key, v) => {
      if (typeof v === "string" && v !== "") href += "&" + key + "=" + encodeURIComponent(v);
    };
    add("time", line.time);
    if (line.dir === "in" || line.dir === "out") add("dir", line.dir);
    if (isId(line.peer) && line.peer > 0) add("peer", String(line.peer));
    add("addr", line.addr);
    return href;
  }

  function lineCell(line, c) {
    if (c === "time") return timeEl(line.time, fmtClock);
    if (c === "command") return isId(line.seq) ? el("a", plain(line.command), { href: decoderLink(line) }) : plain(line.command);
    if (c === "size") return fmtNumber(line.size);
    if (c !== "peer") return plain(line[c]); // dir, addr, summary, seq
    const a = peerLink(line.peer);
    if (typeof a !== "string" && typeof line.addr === "string") a.title = line.addr;
    return a;
  }

  // FRAME_TITLE says what a log line's size counts, as the server's rows
  // do (views.frameSizeTitle).
  const FRAME_TITLE = "Whole frame as on the wire: 24-byte header + payload";

  const lineClass = (c) => (c === "peer" || c === "size" ? "num" : c === "summary" ? "summary" : "");

  // prependLines puts lines (given oldest first) atop a table, newest
  // first, keeping at most max rows.
  function prependLines(table, lines, cols, max) {
    const body = bodyOf(table);
    for (const r of $$("tr:not([data-seq])", body)) r.remove(); // placeholders
    const frag = document.createDocumentFragment();
    for (const line of lines.slice(-max).reverse()) {
      const tr = row(cols, (c) => lineCell(line, c), lineClass);
      const size = tr.querySelector('td[data-col="size"]');
      if (size) size.title = FRAME_TITLE;
      if (isId(line.seq)) tr.dataset.seq = String(line.seq);
      if (line.dir === "in" || line.dir === "out") tr.className = "dir-" + line.dir;
      frag.append(tr);
    }
    body.prepend(frag);
    while (body.rows.length > max) body.lastElementChild.remove();
  }

  function clearLog() {
    for (const t of [$("#msg-log"), $("#peer-messages")]) if (t) bodyOf(t).replaceChildren();
  }

  function showSkipped() {
    const e = $("#msg-skipped");
    if (e) setText(e, fmtNumber(log.skipped));
  }

  function onMessages(data) {
    let skipped = Number(data.skipped) > 0 ? Number(data.skipped) : 0;
    const fresh = list(data.lines).filter((l) => l.seq > log.maxSeq && matches(l, log.sub));
    if (fresh.length) log.maxSeq = fresh[fresh.length - 1].seq;
    if (log.paused) skipped += fresh.length; // paused: drop, but count
    else if (fresh.length) {
      const all = $("#msg-log"), mine = $("#peer-messages");
      if (all) prependLines(all, fresh, columnsOf(all, ["time", "peer", "dir", "command", "size", "summary"]), MAX_LOG_ROWS);
      if (mine) prependLines(mine, fresh, columnsOf(mine, ["time", "dir", "command", "size", "summary"]), MAX_PEER_LOG_ROWS);
    }
    if (skipped) {
      log.skipped += skipped;
      showSkipped();
    }
  }

  // readFilter reads the message filter form; bad values match everything
  // (dir "all" included).
  function readFilter(form) {
    const val = (name) => {
      const f = form.elements.namedItem(name); // an input, a select or radios
      return f && typeof f.value === "string" ? f.value.trim() : "";
    };
    const dir = val("dir");
    return {
      type: "subscribe",
      peer: /^\d{1,15}$/.test(val("peer")) ? Number(val("peer")) : 0,
      command: val("command").slice(0, 32),
      dir: dir === "in" || dir === "out" ? dir : "",
    };
  }

  // wantedSubscription is the message log subscription this page needs.
  function wantedSubscription() {
    const id = pagePeerId();
    if (id !== null && $("#peer-messages")) return { type: "subscribe", peer: id, command: "", dir: "", links: !!$("#peer-seq") };
    if (!$("#msg-log")) return null;
    const form = $("#msg-filter");
    return form ? readFilter(form) : { type: "subscribe", peer: 0, command: "", dir: "" };
  }

  function setupMessagesPage() {
    const form = $("#msg-filter");
    if (form) {
      const apply = (e) => {
        if (e.type === "submit") e.preventDefault(); // no navigation
        const sub = readFilter(form);
        if (log.sub && JSON.stringify(sub) === JSON.stringify(log.sub)) return;
        log.sub = sub;
        log.skipped = 0;
        clearLog();
        showSkipped();
        send(sub);
        // Keep the filter in the address, so that a reload keeps it.
        const q = new URLSearchParams();
        if (sub.peer) q.set("peer", String(sub.peer));
        if (sub.command) q.set("command", sub.command);
        if (sub.dir) q.set("dir", sub.dir);
        history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
      };
      form.addEventListener("submit", apply);
      form.addEventListener("change", apply);
    }
    const btn = $("#msg-pause");
    if (btn) {
      btn.type = "button"; // never submits the form
      btn.setAttribute("aria-pressed", "false");
      btn.addEventListener("click", () => {
        log.paused = !log.paused;
        btn.textContent = log.paused ? "Resume" : "Pause";
        btn.setAttribute("aria-pressed", String(log.paused));
      });
    }
    // Lines the server rendered into the page are not to be shown twice.
    for (const tr of $$("#msg-log tr[data-seq], #peer-messages tr[data-seq]")) log.maxSeq = Math.max(log.maxSeq, Number(tr.dataset.seq) || 0);
  }

  // ------------------------------------------------------------------- bans

  function recordValue(key, v) {
    if (key === "time" || key === "until" || key === "created") return timeEl(v, fmtTime);
    if (key === "inbound") return v ? "in" : "out";
    if (key === "manual") return v ? "manual" : "discouraged";
    return plain(v);
  }

  function renderRecords(table, records, fallback) {
    if (!table) return;
    const cols = columnsOf(table, fallback);
    fillBody(table, records.map((r) => {
      const tr = row(cols, (c) => recordValue(c, r[c]), (c) => (c === "id" ? "num" : CELL_CLASS[c] || ""));
      if (isId(r.id)) tr.dataset.peerId = String(r.id); // a disconnect
      if (typeof r.addr === "string" && !has(r, "id")) tr.dataset.addr = r.addr; // a ban
      return tr;
    }));
  }

  function renderDisconnects() {
    const time = (d) => (toDate(d.time) || new Date(0)).getTime();
    const newest = state.disconnects.slice().sort((a, b) => time(b) - time(a));
    renderRecords($("#disconnects-table"), newest, ["time", "addr", "kind", "reason", "user_agent"]);
  }

  function renderBans() {
    renderRecords($("#bans-table"), state.bans, ["addr", "reason", "until", "manual"]);
    const addrs = $("#banned-addrs"); // the unban form's suggestions
    if (addrs) addrs.replaceChildren(...state.bans.map((b) => el("option", null, { value: plain(b.addr) })));
  }

  // ------------------------------------------------------------ added nodes

  // The words for an added node, as the server's views.AddedSource,
  // AddedState and NextAttempt say them.
  const ADDED_SOURCES = { connect: "-connect", addnode: "-addnode", operator: "Connect control / API" };
  function addedState(a) {
    if (a.state === "connected") return "connected (peer " + a.peer + ")";
    if (a.state === "connecting") return "connecting\u2026";
    if (a.state === "waiting") return Number(a.attempts) > 0 ? "unreachable" : "not tried yet";
    return plain(a.state);
  }
  function nextAttempt(a) {
    if (a.state !== "waiting") return DASH;
    const d = toDate(a.next_attempt);
    const secs = d ? (d.getTime() - Date.now() - clockSkew) / 1000 : 0;
    return secs < 1 ? "now" : "in " + fmtDuration(secs) + " (" + fmtTime(a.next_attempt) + ")";
  }

  // removeForm is the Remove button of one added node, for a logged-in
  // operator (the table's data-csrf is then the forms' token).
  function removeForm(csrf, addr) {
    const f = el("form", null, { method: "post", action: "/ui/remove-added", className: "inline" });
    const hidden = (name, value) => el("input", null, { type: "hidden", name, value });
    f.append(hidden("csrf", csrf), hidden("addr", addr), hidden("next", "/"),
      el("button", "Remove", { type: "submit", title: "Stop dialling " + addr }));
    return f;
  }

  function renderAddedNodes() {
    const table = $("#added-nodes");
    if (!table) return;
    const csrf = table.dataset.csrf;
    const cols = columnsOf(table, ["addr", "source", "state", "attempts", "last_error", "next_attempt"]);
    const value = (a, c) => {
      switch (c) {
        case "source": return ADDED_SOURCES[a.source] || plain(a.source);
        case "state": return addedState(a);
        case "attempts": return fmtNumber(a.attempts);
        case "last_error": return a.last_error ? String(a.last_error) : DASH;
        case "next_attempt": return nextAttempt(a);
        case "remove": return csrf ? removeForm(csrf, String(a.addr)) : "";
      }
      return plain(a[c]);
    };
    const cls = { addr: "addr", attempts: "num", last_error: "error-text" };
    patchBody(table, state.added.map((a) => {
      const tr = row(cols, (c) => value(a, c), (c) => cls[c] || "");
      tr.dataset.addr = String(a.addr);
      tr.dataset.state = String(a.state);
      return tr;
    }), (tr) => tr.dataset.addr);
  }

  // ----------------------------------------------------------------- charts

  const CHART_IDS = ["chart-bytes", "chart-headers", "chart-peers", "chart-msgs"];
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const charts = {}; // element id -> {u: the uPlot, keys: what its series are}

  // Y scales. An axis runs from 0 to the first multiple of its step above
  // the largest value shown (so the top line is never drawn on the frame),
  // the step being the smallest one that covers that value in at most
  // Y_STEPS of them and fits:
  //   decimal  1, 2 and 5 times the powers of ten (rates per second);
  //   count    the same from 1 (peers, heights: no half peers);
  //   bytes    1, 2, 5, 10, 20, 50, 100, 200 and 500 times the powers of
  //            1024, each fitting only while the top stays below 1024 of
  //            its unit: ticks read 500 B, then 1 KiB, 2 KiB, 5 KiB,
  //            10 KiB..., never 2,000 B shown as "2.0 KiB" or 1.5 KiB.
  const Y_STEPS = 4;
  const MIN_TICK_PX = 30; // the least room between two y ticks
  const clean = (x) => Number(x.toPrecision(12)); // 0.30000000000000004 -> 0.3
  const decimalSteps = [];
  for (let e = -2; e <= 15; e++) for (const m of [1, 2, 5]) decimalSteps.push(clean(m * 10 ** e));
  const byteSteps = [];
  for (let k = 0; k <= 5; k++) for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) byteSteps.push(m * 1024 ** k);
  const byteUnit = (x) => 1024 ** Math.floor(Math.log(x) / Math.log(1024) + 1e-9);
  const SCALES = Object.freeze({
    decimal: Object.freeze({ steps: decimalSteps, fits: () => true }),
    count: Object.freeze({ steps: decimalSteps.filter((x) => x >= 1), fits: () => true }),
    bytes: Object.freeze({ steps: byteSteps, fits: (step, top) => top < byteUnit(step) * 1024 }),
  });

  // niceScale is the y range of a scale kind (SCALES) for a largest value
  // max: {max: the axis top, step: the step it is a multiple of}. Nothing
  // above zero (or no data) gives a top of 1.
  function niceScale(max, kind) {
    const m = Number.isFinite(max) && max > 0 ? max : 0;
    for (const step of kind.steps) {
      if (step * Y_STEPS < (m || 1)) continue;
      const top = m > 0 ? clean((Math.floor(m / step + 1e-9) + 1) * step) : 1;
      if (kind.fits(step, top)) return { max: top, step };
    }
    const step = kind.steps[kind.steps.length - 1];
    return { max: clean((Math.floor(m / step + 1e-9) + 1) * step), step };
  }

  // niceTicks are the y ticks from 0 to top: multiples of the smallest
  // step of the kind that fits and divides top into at most maxIntervals
  // parts.
  function niceTicks(top, kind, maxIntervals) {
    for (const x of kind.steps) {
      const n = top / x;
      if (n <= maxIntervals + 1e-9 && Math.abs(n - Math.round(n)) < 1e-9 && kind.fits(x, top)) {
        return Array.from({ length: Math.round(n) + 1 }, (_, i) => clean(i * x));
      }
    }
    return [0, top];
  }

  // timeTicks labels the time axis's ticks (seconds) on the 24-hour UTC
  // clock the pages use everywhere: "15:04" when every tick falls on a
  // whole minute, "15:04:05" otherwise. One line each: no date under the
  // first tick to run into the next one (the pages' times are UTC, the
  // legend's too).
  function timeTicks(splits, incr) {
    const whole = incr >= 60 && splits.every((t) => t === null || t % 60 === 0);
    return splits.map((t) => (t === null ? "" : fmtTime(t * 1000).slice(11, whole ? 16 : 19)));
  }

  // lineStyle is the look of a chart's series number i (drawn in that
  // order, a later one on top): each one thinner than the ones before and,
  // after the first, dashed, so that a series equal to another still shows
  // under it.
  const DASHES = [[8, 4], [2, 3], [12, 3, 2, 3], [5, 5], [1, 2]];
  const lineStyle = (i) => (i === 0 ? { width: 3.5 } : { width: Math.max(0.75, 3.5 - 0.5 * i), dash: DASHES[(i - 1) % DASHES.length] });

  // fmtBytesTick is a byte tick: fmtBytes without a ".0" (ticks are whole).
  const fmtBytesTick = (v) => fmtBytes(v).replace(".0 ", " ");

  // latest is what the legend shows: the value under the cursor, or the
  // newest one when the cursor is off the chart.
  function latest(u, v, si, idx, fmt) {
    if (idx === null || idx === undefined) v = u.data[si][u.data[si].length - 1];
    return v === null || v === undefined ? DASH : fmt(v);
  }

  // series describes a line: its label, color, legend format and scale.
  const series = (label, i, fmt, scale) => ({
    label, stroke: PALETTE[i % PALETTE.length], scale: scale || "y", points: { show: false },
    value: (u, v, si, idx) => latest(u, v, si, idx, fmt),
  });

  // yScale is a y scale from zero to the nice value above its data.
  const yScale = (kind) => ({ range: (u, dataMin, dataMax) => [0, niceScale(dataMax, kind).max] });

  // axis is a y axis in the page's text color, on scale (default "y"),
  // ticks at niceTicks, labelled with fmt; as wide as its longest label
  // (about 7 px a character).
  function axis(color, fmt, kind, scale, side) {
    const a = {
      stroke: color, grid: { stroke: "rgba(128,128,128,0.2)" }, ticks: { stroke: "rgba(128,128,128,0.3)" },
      splits: (u, ai, min, max) => niceTicks(max, kind, Math.max(1, Math.floor(u.bbox.height / window.uPlot.pxRatio / MIN_TICK_PX))),
      values: (u, vals) => vals.map((v) => (v === null ? "" : fmt(v))),
      size: (u, vals) => 18 + 7 * Math.max(2, ...(vals || []).map((v) => String(v).length)),
    };
    if (scale) a.scale = scale;
    return side ? Object.assign(a, { side, grid: { show: false } }) : a;
  }

  // timeAxis is the x axis: 24-hour UTC ticks far enough apart for
  // "15:04:05".
  const timeAxis = (color) => ({
    stroke: color, space: 72, size: 32, grid: { stroke: "rgba(128,128,128,0.2)" }, ticks: { stroke: "rgba(128,128,128,0.3)" },
    values: (u, splits, ai, space, incr) => timeTicks(splits, incr),
  });

  const rate = (v) => fmtNumber(v) + "/s";
  const bytesRate = (v) => fmtBytes(v) + "/s";
  const short = (v) => (Math.abs(v) < 1000 ? fmtNumber(v) : Number(v).toLocaleString("en-US", { notation: "compact", maximumFractionDigits: 1 })); // 12.3K
  const shortRate = (v) => short(v) + "/s";
  const count = (v) => (Number.isInteger(v) ? String(v) : ""); // no half peers on the axis

  // topCommands returns the (up to) 6 commands received most in samples.
  function topCommands(samples) {
    const totals = new Map();
    for (const s of samples) {
      if (s.msgs_in && typeof s.msgs_in === "object") {
        for (const k of Object.keys(s.msgs_in)) totals.set(k, (totals.get(k) || 0) + (Number(s.msgs_in[k]) || 0));
      }
    }
    const top = Array.from(totals).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 6);
    return top.map((e) => e[0]).sort(); // sorted, so that colors stay put
  }

  // chartSpecs says what each chart draws from the samples.
  function chartSpecs(samples) {
    const col = (f) => samples.map((s) => (Number.isFinite(Number(f(s))) ? Number(f(s)) : null));
    const cmds = topCommands(samples);
    return {
      "chart-bytes": {
        keys: "bytes", series: [series("in", 0, bytesRate), series("out", 1, bytesRate)],
        scales: { y: yScale(SCALES.bytes) },
        axes: (c) => [axis(c, (v) => fmtBytesTick(v) + "/s", SCALES.bytes)], data: [col((s) => s.bytes_in), col((s) => s.bytes_out)],
      },
      "chart-headers": {
        keys: "headers", series: [series("headers/s", 2, rate), series("height", 4, fmtNumber, "h")],
        scales: { y: yScale(SCALES.decimal), h: yScale(SCALES.count) },
        axes: (c) => [axis(c, shortRate, SCALES.decimal), axis(c, short, SCALES.count, "h", 1)], data: [col((s) => s.headers_per_sec), col((s) => s.height)],
      },
      "chart-peers": {
        keys: "peers", series: [series("inbound", 0, String), series("outbound", 1, String)],
        scales: { y: yScale(SCALES.count) },
        axes: (c) => [axis(c, count, SCALES.count)], data: [col((s) => s.peers_in), col((s) => s.peers_out)],
      },
      "chart-msgs": {
        keys: "msgs " + JSON.stringify(cmds), // another top 6: another chart
        series: cmds.map((k, i) => series(k.slice(0, 24), i, rate)),
        scales: { y: yScale(SCALES.decimal) },
        axes: (c) => [axis(c, shortRate, SCALES.decimal)], data: cmds.map((k) => col((s) => (has(s.msgs_in, k) ? s.msgs_in[k] : 0))),
      },
    };
  }

  const chartSize = (box) => ({ width: Math.max(240, box.clientWidth || 600), height: Math.max(120, Number(box.dataset.height) || 220) });

  // renderCharts draws the charts with uPlot, which the page loads (from
  // vendor/, deferred like this script, so before it runs).
  function renderCharts() {
    const boxes = CHART_IDS.map((id) => document.getElementById(id)).filter(Boolean);
    if (!boxes.length) return;
    if (!window.uPlot) return boxes.forEach((b) => setText(b, "Charts unavailable: uPlot is not loaded."));
    const xs = state.samples.map((s) => Number(s.t) / 1000); // uPlot's times are in seconds
    const specs = chartSpecs(state.samples);
    for (const box of boxes) {
      const spec = specs[box.id], data = [xs, ...spec.data], c = charts[box.id];
      if (c && c.keys === spec.keys) {
        c.u.setData(data);
        continue;
      }
      if (c) c.u.destroy();
      box.replaceChildren(); // drop any server-rendered placeholder
      const color = getComputedStyle(box).color || "#888"; // follows the page's theme
      const xValue = (u, v, si, idx) => latest(u, v, si, idx, (t) => fmtTime(t * 1000).slice(11, 19));
      const opts = Object.assign(chartSize(box), {
        scales: Object.assign({ x: { time: true } }, spec.scales),
        tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"), // ticks on UTC minutes, as the pages' times
        series: [{ label: "Time (UTC)", value: xValue }, ...spec.series.map((s, i) => Object.assign(s, lineStyle(i)))],
        axes: [timeAxis(color), ...spec.axes(color)], cursor: { drag: { x: false, y: false } },
        legend: { markers: { width: (u, i) => Math.max(2, Math.round(u.series[i].width || 0)), dash: (u, i) => (u.series[i].dash ? "dashed" : "solid") } },
      });
      charts[box.id] = { u: new window.uPlot(opts, data, box), keys: spec.keys };
    }
  }

  let resizeTimer = 0;
  function resizeCharts() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const id of Object.keys(charts)) {
        const box = document.getElementById(id);
        if (box) charts[id].u.setSize(chartSize(box));
      }
    }, 150);
  }

  // ------------------------------------------------------------ apply state

  function addSamples(samples, replace) {
    const lastT = replace || !state.samples.length ? -Infinity : state.samples[state.samples.length - 1].t;
    const add = list(samples).filter((s) => s.t > lastT); // no repeats
    state.samples = (replace ? add : state.samples.concat(add)).slice(-MAX_SAMPLES);
    const last = add[add.length - 1];
    if (last && Number.isFinite(Number(last.t))) {
      // A sample is about a second old at most when it comes: only a
      // larger difference is the clocks'.
      const skew = Number(last.t) - Date.now();
      clockSkew = Math.abs(skew) > 2000 ? skew : 0;
    }
  }

  // applySnapshot replaces all the state: it is the first message of every
  // connection, so a reconnect brings the page wholly up to date.
  function applySnapshot(d) {
    const st = d.status && typeof d.status === "object" ? d.status : null;
    // Another start time means a restarted node, whose message log numbers
    // its lines anew.
    const started = st ? st.started_at : null;
    if (log.startedAt !== null && started !== log.startedAt) {
      log.maxSeq = 0;
      clearLog();
    }
    log.startedAt = started;
    Object.assign(state, { status: st, peers: list(d.peers), disconnects: list(d.disconnects), bans: list(d.bans), added: list(d.added_nodes) });
    addSamples(d.samples, true);
    renderStatus();
    renderPeers();
    renderPeerPage();
    renderDisconnects();
    renderBans();
    renderAddedNodes();
    addEvents(list(d.events), true);
    renderCharts();
  }

  // applyDelta applies the sections that changed. An empty list section is
  // omitted, so peers_empty / bans_empty say that a list became empty.
  function applyDelta(d) {
    if (d.samples) addSamples(d.samples, false); // first: it sets the clock
    if (d.status && typeof d.status === "object") state.status = d.status;
    if (d.disconnects) state.disconnects = list(d.disconnects);
    if (d.peers || d.peers_empty) state.peers = d.peers_empty ? [] : list(d.peers);
    if (d.bans || d.bans_empty) state.bans = d.bans_empty ? [] : list(d.bans);
    if (d.status) renderStatus();
    if (d.disconnects) renderDisconnects();
    if (d.peers || d.peers_empty) renderPeers();
    if (d.peers || d.peers_empty || d.disconnects) renderPeerPage();
    if (d.bans || d.bans_empty) renderBans();
    if (d.added_nodes || d.added_nodes_empty) state.added = d.added_nodes_empty ? [] : list(d.added_nodes);
    // The status comes every second: it keeps "next attempt in 8s" counting.
    if (d.added_nodes || d.added_nodes_empty || d.status) renderAddedNodes();
    if (d.events) addEvents(list(d.events), false);
    if (d.samples) renderCharts();
  }

  // ------------------------------------------------------------- connection

  let ws = null;
  let backoff = BACKOFF_MIN;
  let stopped = false; // set by an unknown feed version: no reconnecting
  let connTitle = null; // #conn-state's own title, kept before details

  // setConn sets #conn-state's data-state and says it in words. When the
  // stylesheet already shows the state (content: attr(data-state)), the
  // words go in the title only, unless they say more (an error).
  function setConn(st, text, detail, always) {
    const e = $("#conn-state");
    if (!e) return;
    if (connTitle === null) connTitle = e.title || "";
    e.dataset.state = st;
    const after = getComputedStyle(e, "::after").content;
    setText(e, always || !after || after === "none" || after === "normal" ? text : "");
    e.title = [connTitle, text, detail].filter(Boolean).join(" \u2014 ");
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  function connect() {
    if (stopped) return;
    setConn("connecting", "connecting\u2026");
    let sock;
    try {
      sock = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    } catch (err) {
      console.error("watchnode: WebSocket:", err);
      return retry();
    }
    ws = sock;
    let live = false; // a snapshot has come on this connection
    sock.onopen = () => {
      // A subscription belongs to its connection: ask again on each one.
      log.sub = wantedSubscription();
      if (log.sub) send(log.sub);
      // The sync page asks for the feed's sync part (web/syncfeed.go).
      if (document.body && document.body.dataset.page === "sync") send({ type: "sync" });
    };
    sock.onmessage = (e) => {
      let msg = null;
      try {
        msg = JSON.parse(e.data);
      } catch (err) {
        return; // not JSON: ignore
      }
      if (!msg || typeof msg !== "object") return;
      if (msg.v !== FEED_VERSION) {
        stopped = true;
        setConn("error", "unsupported feed version " + String(msg.v).slice(0, 16), "this page reads version " + FEED_VERSION + ": reload it", true);
        return sock.close();
      }
      const data = msg.data && typeof msg.data === "object" ? msg.data : {};
      try {
        if (msg.type === "snapshot") {
          applySnapshot(data);
          live = true;
          backoff = BACKOFF_MIN;
          setConn("live", "live");
        } else if (msg.type === "delta" && live) applyDelta(data);
        else if (msg.type === "messages") onMessages(data);
        // Page scripts (sync.js, sequence.js) follow the feed too: each
        // message, once this script has applied it, with the state it
        // holds (peers, samples, status).
        document.dispatchEvent(new CustomEvent("watchnode:feed", { detail: { v: msg.v, type: msg.type, data, live, peers: state.peers, samples: state.samples, status: state.status } }));
      } catch (err) {
        console.error("watchnode: applying a feed message:", err); // keep the connection
      }
    };
    sock.onerror = () => {}; // a close follows
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      retry();
    };
  }

  // retry reconnects after the backoff, which doubles up to BACKOFF_MAX and
  // starts again from BACKOFF_MIN once a snapshot has come.
  function retry() {
    if (stopped) return;
    setConn("disconnected", "disconnected", "reconnecting in " + (backoff / 1000).toFixed(1) + " s");
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, BACKOFF_MAX);
  }

  // ------------------------------------------------------------- inspection

  // window.watchnode shows what the page computes: the formats and chart
  // functions, which need no page (the script tests call them in Node),
  // and the charts drawn (the browser tests read their axes). Nothing in it
  // changes the page.
  globalThis.watchnode = Object.freeze({
    format, serviceLetters, serviceTitle, transportClass, transportTitle, niceScale, niceTicks, timeTicks, lineStyle, fmtBytesTick, decoderLink,
    scales: SCALES,
    chart: (id) => (has(charts, id) ? charts[id].u : null),
  });
  if (typeof document === "undefined") return; // not in a page: nothing to follow

  // ------------------------------------------------------------------- init

  function init() {
    const peers = $("#peers-table");
    if (peers) setupPeersTable(peers);
    setupMessagesPage();
    if (CHART_IDS.some((id) => document.getElementById(id))) window.addEventListener("resize", resizeCharts);
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
