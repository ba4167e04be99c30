// decoder.js runs the /decoder page (web/views/decoder.templ). It loads the
// browser build of the node's own message decoder (wasm/, served as
// /decoder/decoder.wasm; Go's /decoder/wasm_exec.js runs before this file)
// and shows what it decodes: a list of messages, and for the one selected
// its field tree and its payload in hex, linked both ways.
//
// Inputs: hex pasted in #dec-paste, files picked with #dec-file or dropped
// anywhere on the page (a BIP324 key log, the node's -v2keylog file, picked
// or dropped with a pcap decrypts its v2 connections: the module tells it
// by its content), the node's own captures (#dec-captures, listed by
// /api/captures), and links into the page: #seq=N opens message N of the
// node's log (/api/messages/N/raw), #capture=CONN a connection's capture,
// #block=HASH&tx=TXID a transaction of a stored block (the block page's
// links; /api/tx/TXID?block=HASH gives its bytes in hex), decoded as the
// payload of a tx message.
// A #seq link may say what the log knows of the message, which its bytes do
// not: &time=RFC3339&dir=in|out&peer=ID&addr=HOST:PORT (the messages page's
// links do); without them the page asks the log (/api/messages).
//
// DOM hooks (for the page's browser tests):
//   #dec-status   data-state: loading | ready | decoding | done | error.
//                 After a decode: data-result, the verdict: ok (no
//                 problem), problems (messages, and errors among them) or
//                 nothing (no message decoded); data-entries,
//                 data-decode-ms (the time spent in watchnodeOpen),
//                 data-load-ms (parsing its JSON and showing the list),
//                 data-format, data-bytes, data-messages, data-errors
//                 (entries with a problem, bad checksums included),
//                 data-bad-checksums, data-malformed, data-notes (entries
//                 of kind note: BIP324 streams, handshakes, decoys),
//                 data-key-log-entries, and data-opens, which counts
//                 decodes so a test can tell one from the next.
//   #dec-header   dt/dd pairs; each dd has data-key (source, time, dir,
//                 peer, connection, network, command, size, checksum, ...).
//   #dec-list     the list box. Only the rows in view exist: .dec-row with
//                 data-index (the entry), data-kind (message, error, note)
//                 and aria-selected="true" on the selected one.
//   #dec-tree     li.field with data-path ("2.0.3": indexes from the top),
//                 data-offset, data-length (in the bytes of the hex view);
//                 .selected on the selected one. A framed message's tree
//                 opens with its header (path "0"), then the payload's
//                 fields. li.group stands for a range of 100+ children.
//   #dec-hexview  span.byte[data-offset] (span.char in the ASCII column):
//                 the whole frame when the input has headers (.hdr on the
//                 header's 24 bytes), else the payload; .hl on the bytes of
//                 the selected field.
//   #dec-export   downloads decoded.json, then sets data-export-bytes.
//
// The decoder's globals (wasm/): watchnodeOpen(inputs, options),
// watchnodeMessage(index) and watchnodeExport() return JSON strings;
// watchnodeMessageBytes(index) returns the entry's bytes as a Uint8Array:
// its frame when it has a header, else its payload.
//
// SECURITY: the bytes come from files, from remote peers or from a paste,
// so every name, summary and value is hostile text. This file builds the
// DOM with createElement and textContent only, never parses text as markup
// or code, and the page's CSP allows no inline script.
//
// SIZE: a capture may hold 100,000+ messages, a block 4 MB and 100,000+
// fields. The list and the hex view keep only the rows in view in the DOM
// and recycle them as they scroll; the tree creates a node's children only
// when it is opened, at most 100 at a time (longer lists come in ranges);
// the filters run over typed arrays built once per decode.
(function () {
  "use strict";

  const WASM_URL = "/decoder/decoder.wasm";
  const READY_TIMEOUT_MS = 20000; // for the Go program to register its globals
  const ROW_H = 22; // px, a list row: rows sit at index × ROW_H
  const LINE_H = 18; // px, a hex line
  const PER_LINE = 16; // bytes per hex line
  const OVERSCAN = 10; // rows rendered beyond each edge of a view
  const GROUP = 100; // tree children created at once
  const MAX_VALUE = 300; // characters of a field's value shown in the tree
  const KEY_DETAIL_DELAY = 60; // ms: holding an arrow key decodes only where it stops
  const DASH = "\u2014";

  const DIRS = { sent: "\u2192 sent", recv: "\u2190 recv", "to-server": "\u2192 to server", "to-client": "\u2190 to client" };
  const DIR_ORDER = ["sent", "recv", "to-server", "to-client"];

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  // el creates an element; text goes in as text, never as markup.
  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null && text !== "") e.textContent = text;
    if (className) e.className = className;
    return e;
  }

  const str = (v) => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));
  const count = (v) => (Number.isSafeInteger(v) && v >= 0 ? v : 0);
  const fmtInt = (n) => Number(n).toLocaleString("en-US");
  const plural = (n, one, many) => fmtInt(n) + " " + (n === 1 ? one : many);
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const HEADER_SIZE = 24; // a message header: magic, command, length, checksum
  const V2_TAG = 16; // a BIP324 packet's Poly1305 tag
  const pad = (n, w) => String(n).padStart(w, "0");

  function fmtBytes(v) {
    let n = Number(v), i = -1;
    if (!Number.isFinite(n)) return DASH;
    if (n < 1024) return Math.trunc(n) + " B";
    for (; n >= 1024 && i < 3; i++) n /= 1024;
    return n.toFixed(1) + " " + ["KiB", "MiB", "GiB", "TiB"][i];
  }

  // parseTime reads the decoder's RFC 3339 times; Date.parse is only
  // specified for milliseconds, so the nanoseconds are cut first.
  function parseTime(s) {
    if (typeof s !== "string" || s === "") return null;
    const ms = Date.parse(s.replace(/(\.\d{3})\d+/, "$1"));
    return Number.isFinite(ms) ? new Date(ms) : null;
  }
  // Times are UTC, as on the dashboard's message log, so that a message
  // opened from there shows the time it was listed with.
  const fmtClock = (d) => (d ? pad(d.getUTCHours(), 2) + ":" + pad(d.getUTCMinutes(), 2) + ":" + pad(d.getUTCSeconds(), 2) + "." + pad(d.getUTCMilliseconds(), 3) : "");
  const fmtDate = (d) => d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1, 2) + "-" + pad(d.getUTCDate(), 2);
  const fmtDateTime = (d) => (d ? fmtDate(d) + " " + fmtClock(d) + " UTC" : "");

  // nextFrame resolves once the browser has painted, so a status set just
  // before a long synchronous decode is on screen during it. The timeout
  // covers a hidden tab, where animation frames do not come.
  function nextFrame() {
    return new Promise((resolve) => {
      let done = false;
      const go = () => {
        if (!done) {
          done = true;
          setTimeout(resolve, 0);
        }
      };
      requestAnimationFrame(go);
      setTimeout(go, 50);
    });
  }

  // parseResult parses a JSON string from the decoder. A call it refuses
  // comes back as {"error": "..."} alone; an entry has an "error" too (the
  // payload's), so only an object without "kind" or "entries" is a refusal.
  function parseResult(raw) {
    if (typeof raw !== "string") throw new Error("the decoder returned " + typeof raw + ", not JSON");
    const v = JSON.parse(raw);
    if (!isObj(v)) throw new Error("the decoder returned JSON that is not an object");
    if (typeof v.error === "string" && !("kind" in v) && !("entries" in v)) throw new Error(v.error);
    return v;
  }

  // ----------------------------------------------------------------- status

  let opens = 0; // successful decodes, for data-opens

  function setStatus(state, text) {
    const s = $("dec-status");
    s.dataset.state = state;
    s.textContent = text;
  }

  // ---------------------------------------------------------- the decoder

  // decoderReady settles once the Go program has registered its globals,
  // or fails with a message for the status line.
  let decoderReady = null;

  async function instantiate(resp, imports) {
    // Streaming compiles while downloading, but only when the server sends
    // application/wasm; otherwise compile from the whole buffer.
    const type = resp.headers.get("Content-Type") || "";
    if (typeof WebAssembly.instantiateStreaming === "function" && type.startsWith("application/wasm")) {
      return (await WebAssembly.instantiateStreaming(resp, imports)).instance;
    }
    return (await WebAssembly.instantiate(await resp.arrayBuffer(), imports)).instance;
  }

  // waitForGlobals polls: Go registers the functions from main, which runs
  // on the event loop after go.run starts it.
  function waitForGlobals() {
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (typeof globalThis.watchnodeOpen === "function") return resolve();
        if (goExited) return reject(new Error("the decoder module stopped while starting"));
        if (Date.now() - t0 > READY_TIMEOUT_MS) {
          return reject(new Error(typeof globalThis.watchnodeDecodeFrames === "function"
            ? "the decoder module is older than this page (it has no watchnodeOpen); run make build"
            : "the decoder module started but registered no watchnodeOpen"));
        }
        setTimeout(check, 25);
      };
      check();
    });
  }

  let goExited = false;

  async function loadDecoder() {
    // The module first: when nothing is built, both files are missing, and
    // its 404 says so best.
    let resp;
    try {
      resp = await fetch(WASM_URL, { credentials: "same-origin" });
    } catch (err) {
      throw new Error("could not fetch the decoder module: " + err.message);
    }
    if (resp.status === 404) throw new Error("the decoder module is not built; run make build");
    if (!resp.ok) throw new Error("could not fetch the decoder module: HTTP " + resp.status);
    if (typeof globalThis.Go !== "function") {
      throw new Error("the decoder's loader /decoder/wasm_exec.js did not load; run make build");
    }
    const go = new globalThis.Go();
    let instance;
    try {
      instance = await instantiate(resp, go.importObject);
    } catch (err) {
      throw new Error("could not start the decoder module: " + err.message);
    }
    // run's promise settles when the Go program exits, which it does only
    // on a crash: every later call would fail, so say so.
    go.run(instance).then(() => {
      goExited = true;
      setStatus("error", "the decoder module stopped; reload the page");
    }, (err) => {
      goExited = true;
      setStatus("error", "the decoder module crashed: " + err.message + "; reload the page");
    });
    await waitForGlobals();
  }

  // ------------------------------------------------------------- the model

  // model is the last successful decode. cmd, dir and conn hold each
  // entry's value as an index into names, so that filtering compares
  // integers; search holds the lowercased text, built by the first search.
  const model = {
    format: "",
    note: "", // what the header box says of the input's context, if anything
    entries: [],
    cmd: new Int32Array(0),
    dir: new Int32Array(0),
    conn: new Int32Array(0),
    names: { cmd: [], dir: [], conn: [] },
    search: null,
  };
  let view = new Int32Array(0); // the entries that pass the filters, ascending
  let selected = -1; // the selected entry, or -1

  // intern numbers the distinct values of one key of the entries.
  function intern(entries, key) {
    const ids = new Int32Array(entries.length);
    const names = [];
    const index = new Map();
    for (let i = 0; i < entries.length; i++) {
      const v = str(entries[i][key]);
      let id = index.get(v);
      if (id === undefined) {
        id = names.length;
        names.push(v);
        index.set(v, id);
      }
      ids[i] = id;
    }
    return { ids, names };
  }

  // openToken is bumped by every open: an open still fetching when the
  // next starts drops its result.
  let openToken = 0;

  // needsCommand says so when a bare payload is to be decoded without its
  // command, which is all that says how to read it.
  function needsCommand() {
    if ($("dec-format").value !== "payload" || $("dec-command").value.trim()) return false;
    setStatus("error", "a bare payload needs its command (e.g. block): type it in Command");
    $("dec-command").focus();
    return true;
  }

  // currentOptions are the format select's options for watchnodeOpen. A
  // paste is hex text, so a pasted payload goes as format "hex" with its
  // command: the decoder reads hex text, then takes it as that command's
  // payload. "payload" proper is for a file holding the payload's bytes.
  const currentOptions = (pasted) => {
    const format = $("dec-format").value;
    if (format !== "payload") return { format };
    return { format: pasted ? "hex" : "payload", command: $("dec-command").value.trim() };
  };

  // decode runs watchnodeOpen and shows the result; it returns whether it
  // succeeded. The decode is synchronous and may take a while: the status
  // says so first. note, if any, is shown with every entry's detail.
  async function decode(inputs, options, token, note) {
    try {
      await decoderReady;
    } catch (err) {
      if (token === openToken) setStatus("error", err.message);
      return false;
    }
    if (token !== openToken) return false;
    const total = inputs.reduce((n, x) => n + x.data.length, 0);
    setStatus("decoding", "decoding " + fmtBytes(total) + "\u2026");
    await nextFrame();
    if (token !== openToken) return false;
    let res, ms;
    const t0 = performance.now();
    try {
      const raw = globalThis.watchnodeOpen(inputs, options);
      ms = performance.now() - t0;
      res = parseResult(raw);
    } catch (err) {
      setStatus("error", "could not decode: " + err.message);
      return false;
    }
    load(res, ms, t0, note);
    return true;
  }

  // load shows a decode's result; t0 is when the decode started, ms how
  // long watchnodeOpen took.
  function load(res, ms, t0, note) {
    const entries = Array.isArray(res.entries) ? res.entries.map((e) => (isObj(e) ? e : {})) : [];
    const cmd = intern(entries, "command"), dir = intern(entries, "direction"), conn = intern(entries, "connection");
    Object.assign(model, {
      format: str(res.format),
      note: str(note),
      entries,
      cmd: cmd.ids,
      dir: dir.ids,
      conn: conn.ids,
      names: { cmd: cmd.names, dir: dir.names, conn: conn.names },
      search: null,
    });
    fillFilter($("dec-f-command"), cmd, (a, b) => a.localeCompare(b), (n) => n || "(no command)");
    fillFilter($("dec-f-dir"), dir, (a, b) => dirRank(a) - dirRank(b), (n) => (n ? DIRS[n] || n : "(unknown)"));
    fillFilter($("dec-f-conn"), conn, (a, b) => a.localeCompare(b), (n) => n || "(unknown)");
    $("dec-f-search").value = "";
    selected = -1;
    hideDetail();
    list.box.scrollTop = 0;
    applyFilter();

    opens++;
    const s = $("dec-status");
    const messages = count(res.messages), errors = count(res.errors);
    const verdict = verdictOf(res, entries);
    Object.assign(s.dataset, {
      result: verdict.result,
      entries: String(entries.length),
      decodeMs: ms.toFixed(1),
      loadMs: (performance.now() - t0 - ms).toFixed(1),
      format: model.format,
      bytes: String(count(res.bytes)),
      messages: String(messages),
      errors: String(errors),
      badChecksums: String(count(res.bad_checksums)),
      malformed: String(count(res.malformed)),
      notes: String(count(res.notes)),
      keyLogEntries: String(count(res.key_log_entries)),
      opens: String(opens),
    });
    setStatus("done", verdict.text + " \u00b7 decoded in " + ms.toFixed(1) + " ms");
    $("dec-export").disabled = false;
    $("dec-export-msg").textContent = "";
    setTimeout(buildSearch, 100);
  }

  // verdictOf sums a decode up for the status bar: ok (green) only when
  // every entry is a message without a problem. Errors count every entry
  // with one, bad checksums included (their payloads are decoded anyway, as
  // Wireshark does, and flagged); when nothing decoded, the first error is
  // what the user needs to read.
  function verdictOf(res, entries) {
    const messages = count(res.messages), errors = count(res.errors);
    const head = [model.format && model.format !== "auto" ? model.format : "", fmtBytes(count(res.bytes))].filter(Boolean);
    if (messages === 0) {
      // An error says why; else a note may (an encrypted BIP324 stream
      // without its key log).
      const first = entries.find((e) => e.kind === "error"), note = entries.find((e) => e.kind === "note");
      const why = first ? str(first.error) : note ? str(note.summary) : "the input holds no message";
      return { result: "nothing", text: ["\u2717 nothing decoded: " + why, ...head].join(" \u00b7 ") };
    }
    const parts = [...head, plural(messages, "message", "messages")];
    if (errors === 0) return { result: "ok", text: [...parts, "no errors"].join(" \u00b7 ") };
    const bad = count(res.bad_checksums), malformed = count(res.malformed);
    const unreadable = entries.reduce((n, e) => n + (e.kind === "error" ? 1 : 0), 0);
    const kinds = [
      bad ? plural(bad, "bad checksum", "bad checksums") : "",
      malformed ? plural(malformed, "malformed payload", "malformed payloads") : "",
      unreadable ? plural(unreadable, "reading error", "reading errors") : "",
    ].filter(Boolean);
    return { result: "problems", text: "\u26a0 " + [...parts, plural(errors, "error", "errors") + (kinds.length ? " (" + kinds.join(", ") + ")" : "")].join(" \u00b7 ") };
  }

  const dirRank = (d) => (DIR_ORDER.indexOf(d) + DIR_ORDER.length + 1) % (DIR_ORDER.length + 1); // unknown last

  // fillFilter lists a filter's values with their counts; an option's
  // value is the interned id.
  function fillFilter(select, interned, order, label) {
    const counts = new Int32Array(interned.names.length);
    for (let i = 0; i < interned.ids.length; i++) counts[interned.ids[i]]++;
    const ids = interned.names.map((_, id) => id).sort((a, b) => order(interned.names[a], interned.names[b]));
    select.replaceChildren(
      new Option("all (" + fmtInt(interned.ids.length) + ")", ""),
      ...ids.map((id) => new Option(label(interned.names[id]) + " (" + fmtInt(counts[id]) + ")", String(id))),
    );
    select.disabled = ids.length < 2;
  }

  // --------------------------------------------------------------- filters

  const filterValue = (id) => {
    const v = $(id).value;
    return v === "" ? -1 : Number(v);
  };

  function applyFilter() {
    const n = model.entries.length;
    const c = filterValue("dec-f-command"), d = filterValue("dec-f-dir"), k = filterValue("dec-f-conn");
    const q = $("dec-f-search").value.trim().toLowerCase();
    if (q) buildSearch();
    const { cmd, dir, conn, search } = model;
    const out = new Int32Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      if ((c >= 0 && cmd[i] !== c) || (d >= 0 && dir[i] !== d) || (k >= 0 && conn[i] !== k)) continue;
      if (q && !search[i].includes(q)) continue;
      out[m++] = i;
    }
    view = out.subarray(0, m);
    $("dec-f-count").textContent = n ? (m === n ? plural(n, "entry", "entries") : fmtInt(m) + " of " + plural(n, "entry", "entries")) : "";
    list.box.scrollTop = Math.min(list.box.scrollTop, Math.max(0, m * ROW_H - list.box.clientHeight));
    renderList(true);
  }

  // buildSearch makes the lowercased text that searches look through.
  // load asks for it once the list is on screen, so the first search
  // does not wait for it.
  function buildSearch() {
    if (!model.search) model.search = model.entries.map((e) => (str(e.summary) + "\n" + str(e.error)).toLowerCase());
  }

  // scheduleFilter filters once per frame however fast the user types.
  let filterQueued = false;
  function scheduleFilter() {
    if (filterQueued) return;
    filterQueued = true;
    requestAnimationFrame(() => {
      filterQueued = false;
      applyFilter();
    });
  }

  // ------------------------------------------------------------------ list

  // The list places rows absolutely over a spacer as tall as all of them.
  // Row slot pos % pool.length shows row pos, so scrolling by a few rows
  // refills only the rows that came into view.
  const list = { box: null, spacer: null, pool: [] };
  const COLS = ["idx", "time", "dir", "conn", "cmd", "len", "sum", "summary"];

  function makeRow() {
    const row = el("div", null, "dec-row");
    row.setAttribute("role", "option");
    row.style.height = ROW_H + "px";
    const cells = COLS.map((c) => row.appendChild(el("span", null, "c-" + c)));
    row.hidden = true;
    return { row, cells, pos: -1 };
  }

  function renderList(force) {
    const box = list.box, total = view.length;
    list.spacer.style.height = total * ROW_H + "px";
    const need = Math.ceil(box.clientHeight / ROW_H) + 2 * OVERSCAN + 1;
    if (list.pool.length < need) {
      while (list.pool.length < need) box.append(list.pool[list.pool.push(makeRow()) - 1].row);
      force = true; // the slots of rows changed with the pool's size
    }
    const size = list.pool.length;
    const first = Math.max(0, Math.floor(box.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(total, first + size);
    for (let pos = first; pos < last; pos++) {
      const slot = list.pool[pos % size];
      if (force || slot.pos !== pos) fillRow(slot, pos);
    }
    for (const slot of list.pool) {
      if (slot.pos >= 0 && (slot.pos < first || slot.pos >= last)) {
        slot.pos = -1;
        slot.row.hidden = true;
        slot.row.removeAttribute("id");
      }
    }
  }

  function checksumText(e) {
    // A BIP324 packet has no checksum: its tag authenticated it, or it
    // would not be listed as a message.
    if (e.transport === "v2" && e.kind === "message") return "tag \u2713";
    if (e.checksum_valid === true) return "\u2713";
    if (e.checksum_valid === false) return "\u2717 bad";
    return DASH;
  }

  function fillRow(slot, pos) {
    const i = view[pos], e = model.entries[i], row = slot.row, c = slot.cells;
    slot.pos = pos;
    row.hidden = false;
    row.style.transform = "translateY(" + pos * ROW_H + "px)";
    row.dataset.index = String(i);
    row.dataset.dir = str(e.direction);
    const isError = e.kind === "error", isNote = e.kind === "note";
    row.dataset.kind = str(e.kind);
    row.className = "dec-row" + (isError ? " kind-error" : isNote ? " kind-note" : e.error ? " decode-error" : "") + (e.checksum_valid === false ? " bad-checksum" : "");
    markRow(slot);
    c[0].textContent = Number.isSafeInteger(e.index) ? String(e.index) : String(i);
    c[1].textContent = fmtClock(parseTime(e.time));
    c[2].textContent = DIRS[e.direction] || str(e.direction);
    c[3].textContent = str(e.connection);
    c[3].title = str(e.connection);
    c[4].textContent = e.command ? str(e.command) : isError ? "\u26a0 error" : isNote ? "\u2139 " + (e.transport === "v2" ? "BIP324" : "note") : "";
    c[5].textContent = Number.isFinite(e.length) && !isNote ? fmtInt(e.length) : "";
    c[6].textContent = checksumText(e);
    c[6].title = e.checksum ? "checksum " + str(e.checksum) + (e.checksum_expected ? ", expected " + str(e.checksum_expected) : "") : "";
    const text = isError ? str(e.error) || str(e.summary) : e.error ? (e.summary ? str(e.summary) + " \u2014 " : "") + str(e.error) : str(e.summary);
    c[7].textContent = text;
    c[7].title = text.length > 80 ? text.slice(0, 2000) : "";
  }

  // markRow sets the selection on a rendered row; the selected row is the
  // list box's active descendant.
  function markRow(slot) {
    const on = Number(slot.row.dataset.index) === selected && slot.pos >= 0;
    slot.row.setAttribute("aria-selected", String(on));
    if (on) slot.row.id = "dec-active-row";
    else slot.row.removeAttribute("id");
  }

  // posOf finds an entry in the (ascending) view, or -1.
  function posOf(i) {
    let lo = 0, hi = view.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (view[mid] === i) return mid;
      if (view[mid] < i) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  function scrollListTo(pos) {
    const box = list.box, top = pos * ROW_H;
    if (top < box.scrollTop) box.scrollTop = top;
    else if (top + ROW_H > box.scrollTop + box.clientHeight) box.scrollTop = top + ROW_H - box.clientHeight;
    renderList(false);
  }

  let detailTimer = 0;

  // selectEntry marks entry i and shows it; delay (ms) postpones the
  // detail, which for a block means parsing megabytes of JSON.
  function selectEntry(i, delay) {
    selected = i;
    for (const slot of list.pool) if (slot.pos >= 0) markRow(slot);
    list.box.setAttribute("aria-activedescendant", "dec-active-row");
    const pos = posOf(i);
    if (pos >= 0) scrollListTo(pos);
    clearTimeout(detailTimer);
    if (delay) detailTimer = setTimeout(() => showDetail(i), delay);
    else showDetail(i);
  }

  function onListKey(ev) {
    if (!view.length) return;
    const pos = posOf(selected);
    const page = Math.max(1, Math.floor(list.box.clientHeight / ROW_H) - 1);
    const moves = {
      ArrowDown: pos < 0 ? 0 : pos + 1,
      ArrowUp: pos < 0 ? 0 : pos - 1,
      PageDown: pos < 0 ? 0 : pos + page,
      PageUp: pos < 0 ? 0 : pos - page,
      Home: 0,
      End: view.length - 1,
    };
    if (!(ev.key in moves)) return;
    ev.preventDefault();
    const to = Math.max(0, Math.min(view.length - 1, moves[ev.key]));
    if (to !== pos) selectEntry(view[to], ev.repeat ? KEY_DETAIL_DELAY : KEY_DETAIL_DELAY / 2);
  }

  // ---------------------------------------------------------------- detail

  // detail is the entry shown: its fields (the header's, then the
  // payload's) with offsets in bytes, the bytes of the hex view, and base,
  // where the payload starts in them (24 after a header, else 0).
  const detail = { index: -1, fields: [], bytes: new Uint8Array(0), base: 0 };

  function hideDetail() {
    clearTimeout(detailTimer);
    detail.index = -1;
    detail.fields = [];
    detail.bytes = new Uint8Array(0);
    detail.base = 0;
    $("dec-detail").hidden = true;
    $("dec-header").replaceChildren();
    $("dec-tree").replaceChildren();
    tree.root = null;
    tree.selected = null;
    setHighlight(0, 0, -1);
  }

  function showDetail(i) {
    const listed = model.entries[i];
    if (!listed) return hideDetail();
    const index = Number.isSafeInteger(listed.index) ? listed.index : i;
    let msg = listed, bytes = new Uint8Array(0), problem = "";
    try {
      msg = parseResult(globalThis.watchnodeMessage(index));
      const b = globalThis.watchnodeMessageBytes(index);
      if (b instanceof Uint8Array) bytes = b;
    } catch (err) {
      problem = "could not decode this entry: " + err.message;
    }
    const decoded = isObj(msg.decoded) ? msg.decoded : null;
    const header = isObj(msg.header) ? msg.header : null;
    const base = header && Number.isSafeInteger(msg.payload_offset) && msg.payload_offset > 0 && msg.payload_offset <= bytes.length ? msg.payload_offset : 0;
    const payloadFields = decoded && Array.isArray(decoded.fields) ? decoded.fields : [];
    // The payload's offsets count from its first byte; the hex view shows
    // the frame, header first, so they move by the header's size.
    if (base) shiftOffsets(payloadFields, base);
    detail.index = i;
    detail.fields = base ? [header, ...payloadFields] : payloadFields;
    detail.bytes = bytes;
    detail.base = base;
    $("dec-detail").hidden = false;
    renderHeader(msg, decoded, problem);
    renderTree(detail.fields, decoded);
    const err = decoded && isObj(decoded.error) && Number.isSafeInteger(decoded.error.offset) ? base + decoded.error.offset : -1;
    hex.box.scrollTop = 0;
    setHighlight(0, 0, err);
    renderHex(true);
    hexInfo();
  }

  // shiftOffsets moves a field tree's offsets by n, in place (the tree was
  // just parsed for this view). A block's tree has 100,000+ fields: a
  // stack, not recursion.
  function shiftOffsets(fields, n) {
    const stack = [fields];
    while (stack.length) {
      for (const f of stack.pop()) {
        if (!isObj(f)) continue;
        if (Number.isSafeInteger(f.offset)) f.offset += n;
        if (Array.isArray(f.children) && f.children.length) stack.push(f.children);
      }
    }
  }

  // renderHeader fills the header box: one dt/dd pair per known value,
  // each dd with data-key for tests.
  function renderHeader(e, decoded, problem) {
    const dl = $("dec-header");
    dl.replaceChildren();
    const add = (key, label, value, className) => {
      if (value === "" || value === null || value === undefined) return;
      const dd = el("dd", null, className);
      dd.dataset.key = key;
      dd.append(value);
      dl.append(el("dt", label), dd);
    };
    add("source", "Source", sourceText(e));
    const t = parseTime(e.time);
    if (t) add("time", "Time", Object.assign(el("time", fmtDateTime(t)), { dateTime: str(e.time), title: str(e.time) }));
    if (model.note) add("note", "Context", model.note, "hint");
    add("dir", "Direction", DIRS[e.direction] || str(e.direction));
    if (e.peer) add("peer", "Peer", peerNode(e));
    if (e.from || e.to) add("from-to", "From \u2192 to", (str(e.from) || "?") + " \u2192 " + (str(e.to) || "?"), "addr");
    if (!e.peer) add("connection", "Connection", str(e.connection), "addr");
    add("network", "Network", str(e.network));
    if (e.transport === "v2") add("transport", "Transport", "BIP324 (v2, encrypted)" + (e.kind === "message" ? ", decrypted with the key log" : ""));
    add("command", "Command", str(e.command), "mono");
    if (Number.isSafeInteger(e.length) && e.length >= 0) add("size", "Size", sizeText(e));
    add("checksum", "Checksum", checksumDetail(e), e.checksum_valid === false ? "bad mono" : "mono");
    add("summary", "Summary", str(e.summary));
    // A payload that did not decode says so once, with a link to the byte.
    if (decoded && isObj(decoded.error)) add("decode-error", "Decode error", decodeErrorNode(decoded.error), "bad");
    else add("error", "Error", str(e.error), "bad");
    add("problem", "Problem", problem, "bad");
  }

  // sourceText says where the entry is: which input and, when the input
  // holds more than this entry, its number and byte there.
  function sourceText(e) {
    const src = str(e.source) || "input";
    if (model.entries.length === 1 && !e.offset) return src;
    return src + ", entry #" + str(e.index) + (Number.isSafeInteger(e.offset) ? " at byte " + fmtInt(e.offset) : "");
  }

  // peerNode links the node's peer page and names the peer's address.
  function peerNode(e) {
    const span = el("span", null, "addr");
    const a = el("a", "peer " + str(e.peer));
    if (/^\d{1,19}$/.test(str(e.peer))) a.href = "/peers/" + str(e.peer);
    span.append(a);
    if (e.connection) span.append(" \u00b7 " + str(e.connection));
    return span;
  }

  // sizeText gives both sizes a message has: its payload's, which is the
  // header's length field, and its frame's on the wire, which is what the
  // node's message log and Core's getpeerinfo count.
  function sizeText(e) {
    const n = e.length;
    if (e.transport === "v2") {
      const wire = Number.isSafeInteger(e.packet_size) ? e.packet_size : 0;
      if (e.kind !== "message") return wire ? fmtInt(wire) + " B on the wire" : "";
      return "payload " + fmtInt(n) + " B \u00b7 packet " + fmtInt(wire) + " B on the wire (BIP324: 3-byte encrypted length, header byte, message type, payload, 16-byte tag)";
    }
    return "payload " + fmtInt(n) + " B \u00b7 frame " + fmtInt(n + HEADER_SIZE) + " B (" + HEADER_SIZE + "-byte header + payload" +
      (e.checksum ? ")" : "; this input stores no header)");
  }

  function checksumDetail(e) {
    if (e.transport === "v2") return e.kind === "message" ? "none in BIP324: the packet's Poly1305 tag authenticated it" : "";
    const sum = str(e.checksum);
    if (e.checksum_valid === true) return sum + " \u2713 matches the payload";
    if (e.checksum_valid === false) return sum + " \u2717 does not match the payload" + (e.checksum_expected ? ": expected " + str(e.checksum_expected) : "");
    return sum || "none in this format";
  }

  // decodeErrorNode says where decoding stopped, with a button that shows
  // that byte and the field around it.
  function decodeErrorNode(x) {
    const span = el("span");
    // The decoder's offsets (and its message) count from the payload's
    // first byte; the button shows the byte where the hex view has it.
    const where = [x.field ? "field " + str(x.field) : "", Number.isSafeInteger(x.offset) ? "payload byte " + fmtInt(x.offset) : ""].filter(Boolean).join(" at ");
    span.append((where ? where + ": " : "") + str(x.message) + (x.expected ? " (expected " + str(x.expected) + ")" : ""));
    const at = Number.isSafeInteger(x.offset) ? detail.base + x.offset : -1;
    if (at >= 0 && at < detail.bytes.length) {
      const b = el("button", "show", "link-button");
      b.type = "button";
      b.addEventListener("click", () => pickByte(at, true));
      span.append(" ", b);
    }
    return span;
  }

  // ------------------------------------------------------------------ tree

  // tree.root is the top <ul>; info maps each <li> to what it shows:
  // {field, list, prefix, lo, hi, idx}, where list[lo..hi) are the children
  // it opens to and prefix their paths' start.
  const tree = { root: null, selected: null };
  const info = new WeakMap();

  function renderTree(fields, decoded) {
    const box = $("dec-tree");
    box.replaceChildren();
    box.scrollTop = 0;
    tree.selected = null;
    tree.root = null;
    if (!fields.length) {
      box.append(el("p", decoded ? "No fields." : "Nothing decoded for this entry.", "hint"));
      return;
    }
    tree.root = el("ul", null, "ftree");
    fillChildren(tree.root, fields, "", 0, fields.length);
    box.append(tree.root);
  }

  // fillChildren creates the nodes of list[lo..hi): the fields themselves
  // when there are at most GROUP, else ranges of GROUP, GROUP², ... fields
  // so that no node ever opens to more than GROUP children.
  function fillChildren(ul, list, prefix, lo, hi) {
    const frag = document.createDocumentFragment();
    if (hi - lo <= GROUP) {
      for (let i = lo; i < hi; i++) frag.append(fieldNode(isObj(list[i]) ? list[i] : {}, prefix, i));
    } else {
      let size = GROUP;
      while (hi - lo > size * GROUP) size *= GROUP;
      for (let a = lo; a < hi; a += size) frag.append(groupNode(list, prefix, a, Math.min(hi, a + size)));
    }
    ul.append(frag);
  }

  function fieldNode(f, prefix, idx) {
    const path = prefix === "" ? String(idx) : prefix + "." + idx;
    const kids = Array.isArray(f.children) && f.children.length > 0;
    const li = el("li", null, "field" + (f.computed ? " computed" : ""));
    li.setAttribute("role", "treeitem");
    li.dataset.path = path;
    li.dataset.offset = String(count(f.offset));
    li.dataset.length = String(count(f.length));
    const row = el("div", null, "frow");
    row.append(
      el("span", kids ? "\u25b8" : "", "twist"),
      el("span", str(f.name), "fname"),
      el("span", str(f.type), "ftype"),
      valueNode(f.value),
      el("span", "[" + count(f.offset) + "+" + count(f.length) + "]", "frange"),
    );
    if (f.computed) row.title = "computed from the bytes it covers";
    li.append(row);
    if (kids) li.setAttribute("aria-expanded", "false");
    info.set(li, { field: f, list: kids ? f.children : null, prefix: path, lo: 0, hi: kids ? f.children.length : 0, idx });
    return li;
  }

  function groupNode(list, prefix, lo, hi) {
    const li = el("li", null, "group");
    li.setAttribute("role", "treeitem");
    li.setAttribute("aria-expanded", "false");
    const row = el("div", null, "frow");
    row.append(el("span", "\u25b8", "twist"), el("span", "[" + lo + " \u2026 " + (hi - 1) + "]", "fname"), el("span", plural(hi - lo, "item", "items"), "ftype"));
    li.append(row);
    info.set(li, { field: null, list, prefix, lo, hi, idx: -1 });
    return li;
  }

  function valueNode(v) {
    let text = typeof v === "string" ? v : v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    const span = el("span", null, "fvalue");
    if (text.length > MAX_VALUE) {
      span.title = text.length > 4000 ? text.slice(0, 4000) + "\u2026" : text;
      text = text.slice(0, MAX_VALUE) + "\u2026 (" + fmtInt(text.length) + " characters)";
    }
    span.textContent = text;
    return span;
  }

  const childList = (li) => (li.lastElementChild && li.lastElementChild.tagName === "UL" ? li.lastElementChild : null);

  // setExpanded opens or closes a node, creating its children the first
  // time; closing only hides them, so reopening is instant.
  function setExpanded(li, open) {
    const x = info.get(li);
    if (!x || !x.list) return;
    let ul = childList(li);
    if (open && !ul) {
      ul = el("ul");
      ul.setAttribute("role", "group");
      fillChildren(ul, x.list, x.prefix, x.lo, x.hi);
      li.append(ul);
    }
    if (ul) ul.hidden = !open;
    li.setAttribute("aria-expanded", String(open));
    li.firstElementChild.firstElementChild.textContent = open ? "\u25be" : "\u25b8";
  }

  const isOpen = (li) => li.getAttribute("aria-expanded") === "true";
  const toggle = (li) => setExpanded(li, !isOpen(li));

  // selectNode moves the tree's selection to li. A field highlights its
  // bytes; scrollHex brings them into view, scrollTree the node itself.
  function selectNode(li, opts) {
    if (tree.selected) {
      tree.selected.classList.remove("selected");
      tree.selected.removeAttribute("aria-selected");
    }
    tree.selected = li;
    if (!li) return;
    li.classList.add("selected");
    li.setAttribute("aria-selected", "true");
    const x = info.get(li);
    if (x && x.field) {
      const lo = count(x.field.offset), hi = lo + count(x.field.length);
      setHighlight(lo, hi, hex.err);
      if (opts && opts.scrollHex && hi > lo) scrollHexTo(lo, hi);
      renderHex(false);
      hexInfo();
    }
    if (opts && opts.scrollTree) scrollTreeTo(li);
  }

  function scrollTreeTo(li) {
    const box = $("dec-tree");
    const r = li.firstElementChild.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (r.top < b.top || r.bottom > b.bottom) box.scrollTop += r.top - b.top - b.height / 3;
  }

  // fieldPathAt finds the deepest field, not counting computed ones, whose
  // bytes hold offset: the indexes down to it, or [] if none does.
  function fieldPathAt(fields, offset) {
    const path = [];
    let level = fields;
    while (Array.isArray(level) && level.length) {
      let found = -1;
      for (let i = 0; i < level.length; i++) {
        const f = level[i];
        if (!isObj(f) || f.computed) continue;
        const lo = count(f.offset), len = count(f.length);
        if (len > 0 && offset >= lo && offset < lo + len) {
          found = i;
          break;
        }
      }
      if (found < 0) break;
      path.push(found);
      level = level[found].children;
    }
    return path;
  }

  // revealPath opens the nodes down to a field (ranges included) and
  // returns its <li>, or null.
  function revealPath(path) {
    let ul = tree.root, li = null;
    for (let d = 0; d < path.length && ul; d++) {
      li = childAt(ul, path[d]);
      if (!li) return null;
      if (d < path.length - 1) {
        setExpanded(li, true);
        ul = childList(li);
      }
    }
    return li;
  }

  // childAt finds the child field idx under ul, opening the ranges on the
  // way to it.
  function childAt(ul, idx) {
    for (;;) {
      let next = null;
      for (const c of ul.children) {
        const x = info.get(c);
        if (!x) continue;
        if (x.field && x.idx === idx) return c;
        if (!x.field && idx >= x.lo && idx < x.hi) {
          next = c;
          break;
        }
      }
      if (!next) return null;
      setExpanded(next, true);
      ul = childList(next);
    }
  }

  // pickByte selects the field that holds a byte: the tree opens down to
  // it. Bytes of no field are highlighted alone.
  function pickByte(offset, scrollHex) {
    const path = fieldPathAt(detail.fields, offset);
    const li = path.length ? revealPath(path) : null;
    if (li) {
      selectNode(li, { scrollTree: true, scrollHex });
      return;
    }
    selectNode(null);
    setHighlight(offset, offset + 1, hex.err);
    if (scrollHex) scrollHexTo(offset, offset + 1);
    renderHex(false);
    hexInfo();
  }

  // visibleItems lists the tree's nodes on screen in order: a closed
  // node's children are display:none and have no offsetParent.
  const visibleItems = () => Array.from($("dec-tree").querySelectorAll("li")).filter((li) => li.offsetParent !== null);

  function onTreeKey(ev) {
    const cur = tree.selected;
    const move = (li) => li && selectNode(li, { scrollTree: true, scrollHex: true });
    const step = (d) => {
      const items = visibleItems();
      const at = cur ? items.indexOf(cur) : -1;
      move(items[Math.max(0, Math.min(items.length - 1, at < 0 ? 0 : at + d))]);
    };
    switch (ev.key) {
      case "ArrowDown": step(1); break;
      case "ArrowUp": step(-1); break;
      case "ArrowRight":
        if (cur && info.get(cur).list) {
          if (!isOpen(cur)) setExpanded(cur, true);
          else move(childList(cur).firstElementChild);
        }
        break;
      case "ArrowLeft":
        if (cur && isOpen(cur)) setExpanded(cur, false);
        else if (cur) move(cur.parentElement.closest("li"));
        break;
      case "Enter":
      case " ":
        if (cur) toggle(cur);
        break;
      default:
        return;
    }
    ev.preventDefault();
  }

  function onTreeClick(ev) {
    const row = ev.target.closest(".frow");
    if (!row) return;
    const li = row.parentElement;
    if (ev.target.closest(".twist") || li.classList.contains("group")) toggle(li);
    if (li.classList.contains("field")) selectNode(li, { scrollHex: true });
    else selectNode(li);
  }

  // ------------------------------------------------------------------- hex

  // The hex view is virtualized like the list: a 4 MB block is 262,144
  // lines. lo..hi is the highlighted range, err a byte where decoding
  // stopped (or -1).
  const hex = { box: null, spacer: null, pool: [], lo: 0, hi: 0, err: -1 };
  const HEX2 = Array.from({ length: 256 }, (_, b) => pad(b.toString(16), 2));

  function makeLine() {
    const row = el("div", null, "hline");
    row.style.height = LINE_H + "px";
    const off = el("span", null, "hoff");
    const hexCol = el("span", null, "hbytes"), ascii = el("span", null, "hascii");
    const bytes = [], chars = [];
    for (let j = 0; j < PER_LINE; j++) {
      bytes.push(hexCol.appendChild(el("span", null, "byte")));
      chars.push(ascii.appendChild(el("span", null, "char")));
    }
    row.append(off, hexCol, ascii);
    row.hidden = true;
    return { row, off, bytes, chars, line: -1 };
  }

  function renderHex(force) {
    const box = hex.box, n = detail.bytes.length, lines = Math.ceil(n / PER_LINE);
    hex.spacer.style.height = lines * LINE_H + "px";
    const need = Math.ceil(box.clientHeight / LINE_H) + 2 * OVERSCAN + 1;
    if (hex.pool.length < need) {
      while (hex.pool.length < need) box.append(hex.pool[hex.pool.push(makeLine()) - 1].row);
      force = true;
    }
    const size = hex.pool.length;
    const first = Math.max(0, Math.floor(box.scrollTop / LINE_H) - OVERSCAN);
    const last = Math.min(lines, first + size);
    for (let line = first; line < last; line++) {
      const slot = hex.pool[line % size];
      if (force || slot.line !== line) fillLine(slot, line);
      else markLine(slot);
    }
    for (const slot of hex.pool) {
      if (slot.line >= 0 && (slot.line < first || slot.line >= last)) {
        slot.line = -1;
        slot.row.hidden = true;
      }
    }
  }

  function fillLine(slot, line) {
    const b = detail.bytes, base = line * PER_LINE;
    slot.line = line;
    slot.row.hidden = false;
    slot.row.style.transform = "translateY(" + line * LINE_H + "px)";
    slot.off.textContent = pad(base.toString(16), 8);
    for (let j = 0; j < PER_LINE; j++) {
      const o = base + j, sb = slot.bytes[j], sc = slot.chars[j];
      if (o < b.length) {
        const v = b[o];
        sb.textContent = HEX2[v];
        sc.textContent = v >= 0x20 && v < 0x7f ? String.fromCharCode(v) : ".";
        sb.dataset.offset = sc.dataset.offset = String(o);
      } else {
        // Past the end: kept, empty, so the ASCII column stays aligned.
        sb.textContent = sc.textContent = "";
        sb.removeAttribute("data-offset");
        sc.removeAttribute("data-offset");
      }
    }
    markLine(slot);
  }

  function markLine(slot) {
    const base = slot.line * PER_LINE;
    for (let j = 0; j < PER_LINE; j++) {
      const o = base + j, on = o >= hex.lo && o < hex.hi && o < detail.bytes.length, bad = o === hex.err;
      const hdr = o < detail.base;
      slot.bytes[j].classList.toggle("hdr", hdr);
      slot.chars[j].classList.toggle("hdr", hdr);
      slot.bytes[j].classList.toggle("hl", on);
      slot.chars[j].classList.toggle("hl", on);
      slot.bytes[j].classList.toggle("err", bad);
      slot.chars[j].classList.toggle("err", bad);
    }
  }

  function setHighlight(lo, hi, err) {
    hex.lo = lo;
    hex.hi = hi;
    hex.err = err;
  }

  // scrollHexTo brings lo..hi into view, or its start if it is taller
  // than the view.
  function scrollHexTo(lo, hi) {
    const box = hex.box;
    const top = Math.floor(lo / PER_LINE) * LINE_H, bottom = (Math.floor((hi - 1) / PER_LINE) + 1) * LINE_H;
    const vt = box.scrollTop, vb = vt + box.clientHeight;
    if (top >= vt && bottom <= vb) return;
    if (top < vt || bottom - top > box.clientHeight) box.scrollTop = Math.max(0, top - LINE_H);
    else box.scrollTop = bottom - box.clientHeight + LINE_H;
    renderHex(false);
  }

  function hexInfo() {
    const n = detail.bytes.length;
    let text = plural(n, "byte", "bytes");
    const v2 = model.entries[detail.index] && model.entries[detail.index].transport === "v2";
    if (detail.base && v2) text += " (" + detail.base + "-byte packet header + " + fmtInt(n - detail.base - V2_TAG) + "-byte payload + " + V2_TAG + "-byte tag; the length and tag as on the wire, the rest decrypted)";
    else if (detail.base) text += " (" + detail.base + "-byte header + " + fmtInt(n - detail.base) + "-byte payload)";
    const x = tree.selected && info.get(tree.selected);
    if (x && x.field) text += " \u00b7 " + str(x.field.name) + ": bytes " + fmtInt(hex.lo) + "\u2013" + fmtInt(Math.max(hex.lo, hex.hi - 1)) + " (" + plural(hex.hi - hex.lo, "byte", "bytes") + ")";
    else if (hex.hi > hex.lo) text += " \u00b7 byte " + fmtInt(hex.lo) + " (in no field)";
    $("dec-hex-info").textContent = text;
  }

  function onHexClick(ev) {
    const b = ev.target.closest("[data-offset]");
    if (b && hex.box.contains(b)) pickByte(Number(b.dataset.offset), false);
  }

  // ---------------------------------------------------------------- inputs

  async function openPaste(ev) {
    ev.preventDefault();
    const text = $("dec-hex").value;
    if (!text.trim()) return setStatus("error", "paste some hex first");
    if (needsCommand()) return;
    const token = ++openToken;
    clearHash();
    await decode([{ name: "pasted", data: new TextEncoder().encode(text) }], currentOptions(true), token);
  }

  async function openFiles(files) {
    if (!files.length || needsCommand()) return;
    const token = ++openToken;
    setStatus("decoding", "reading " + plural(files.length, "file", "files") + "\u2026");
    let inputs;
    try {
      inputs = await Promise.all(files.map(async (f) => ({ name: f.name, data: new Uint8Array(await f.arrayBuffer()) })));
    } catch (err) {
      if (token === openToken) setStatus("error", "could not read the files: " + err.message);
      return;
    }
    if (token !== openToken) return;
    clearHash();
    await decode(inputs, currentOptions(false), token);
  }

  // clearHash drops a #seq, #capture or #block that no longer says what is
  // shown.
  function clearHash() {
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  }

  const hasFiles = (ev) => ev.dataTransfer && Array.from(ev.dataTransfer.types || []).includes("Files");

  // Files are taken when dropped anywhere on the page (the drop zone lights
  // up); a file dropped outside one would otherwise replace the page.
  function setupDrop() {
    const zone = $("dec-drop");
    let timer = 0;
    document.addEventListener("dragover", (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
      zone.classList.add("dragging");
      clearTimeout(timer);
      timer = setTimeout(() => zone.classList.remove("dragging"), 200); // dragover repeats while over the page
    });
    document.addEventListener("drop", (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      zone.classList.remove("dragging");
      openFiles(Array.from(ev.dataTransfer.files));
    });
  }

  // ---------------------------------------------------------- node sources

  // fetchBytes GETs one of the node's resources; 401/403 become an error
  // whose message asks to log in (what, says what for).
  async function fetchBytes(url, what) {
    const resp = await fetch(url, { credentials: "same-origin" });
    if (resp.status === 401 || resp.status === 403) throw Object.assign(new Error("log in to open the node's " + what), { login: true });
    if (!resp.ok) {
      // The API explains itself in {"error": ...}, e.g. a message whose
      // bytes the node no longer keeps.
      let why = "GET " + url + ": HTTP " + resp.status;
      try {
        const body = await resp.json();
        if (body && typeof body.error === "string") why = body.error;
      } catch (_) { /* not JSON: keep the status */ }
      throw new Error(why);
    }
    return new Uint8Array(await resp.arrayBuffer());
  }

  const loginURL = () => "/login?next=" + encodeURIComponent(location.pathname + location.hash);

  // showLoginOr puts an error in a message element; one that needs a login
  // links to the login page.
  function showLoginOr(target, err) {
    if (!err.login) return (target.textContent = err.message);
    const a = el("a", "log in");
    a.href = loginURL();
    target.replaceChildren(a, err.message.slice("log in".length));
  }

  // captures is the last listing of /api/captures, by connection;
  // capturesLogin says the listing needs a login.
  let captures = new Map();
  let capturesLogin = false;
  let capturesLoaded = Promise.resolve(); // the listing under way

  function loadCaptures() {
    capturesLoaded = listCaptures();
    return capturesLoaded;
  }

  async function listCaptures() {
    const msg = $("dec-captures-msg"), ul = $("dec-capture-list");
    msg.textContent = "Loading\u2026";
    captures = new Map();
    capturesLogin = false;
    let data;
    try {
      const resp = await fetch("/api/captures", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (resp.status === 401 || resp.status === 403) throw Object.assign(new Error("log in to open the node's captures"), { login: true });
      if (!resp.ok) throw new Error("could not list the captures: HTTP " + resp.status);
      data = await resp.json();
    } catch (err) {
      ul.replaceChildren();
      capturesLogin = !!err.login;
      showLoginOr(msg, err);
      return;
    }
    const conns = isObj(data) && Array.isArray(data.captures) ? data.captures.filter((c) => isObj(c) && typeof c.connection === "string" && c.connection) : [];
    for (const c of conns) captures.set(c.connection, Array.isArray(c.files) ? c.files.filter((f) => isObj(f) && typeof f.name === "string" && f.name) : []);
    if (!isObj(data) || !data.enabled) msg.textContent = conns.length ? "The node is not recording now; earlier captures:" : "The node is not recording captures (start it with -capture).";
    else msg.textContent = conns.length ? plural(conns.length, "connection", "connections") + " recorded:" : "No captures yet.";
    ul.replaceChildren(...conns.map((c) => captureItem(c.connection, captures.get(c.connection))));
  }

  function captureItem(conn, files) {
    const li = el("li");
    const size = files.reduce((n, f) => n + count(f.size), 0);
    const times = files.map((f) => parseTime(f.modified)).filter(Boolean).map((d) => d.getTime());
    const latest = times.length ? new Date(Math.max(...times)) : null;
    const b = el("button", "Open");
    b.type = "button";
    b.setAttribute("aria-label", "Open the capture of " + conn);
    b.dataset.connection = conn;
    b.addEventListener("click", () => {
      history.replaceState(null, "", location.pathname + location.search + "#capture=" + encodeURIComponent(conn));
      openCapture(conn);
    });
    const text = el("span");
    text.append(el("span", conn, "conn"), el("span", plural(files.length, "file", "files") + ", " + fmtBytes(size) + (latest ? ", " + fmtDateTime(latest).slice(0, 19) + " UTC" : ""), "hint"));
    li.append(b, text);
    li.title = files.map((f) => f.name + " (" + fmtBytes(count(f.size)) + ")").join("\n");
    return li;
  }

  async function openCapture(conn) {
    const token = ++openToken;
    setStatus("decoding", "fetching the capture of " + conn + "\u2026");
    // The listing may be under way (a #capture link opens with the page),
    // or older than the connection.
    await capturesLoaded;
    if (!captures.has(conn) && !capturesLogin) await loadCaptures();
    if (token !== openToken) return;
    const files = captures.get(conn);
    if (!files) return setStatus("error", capturesLogin ? "log in to open the node's captures" : "no capture of " + conn + " on the node");
    if (!files.length) return setStatus("error", "the capture of " + conn + " has no files");
    let inputs;
    try {
      inputs = await Promise.all(files.map(async (f) => ({
        name: conn + "/" + f.name,
        data: await fetchBytes("/api/captures/" + encodeURIComponent(conn) + "/" + encodeURIComponent(f.name), "captures"),
      })));
    } catch (err) {
      if (token === openToken) setStatus("error", err.message);
      return;
    }
    if (token !== openToken) return;
    await decode(inputs, { format: "core" }, token);
  }

  const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

  // seqContext reads what a #seq link says of the message: its time,
  // direction, peer and address, as the log line it came from had them.
  // Anyone can write such a link, so only well-formed values are taken
  // (the decoder checks them again) and they are only ever shown as text.
  function seqContext(h) {
    const time = h.get("time") || "", dir = h.get("dir") || "", peer = h.get("peer") || "", addr = h.get("addr") || "";
    const line = {};
    if (RFC3339.test(time) && parseTime(time)) line.time = time;
    if (dir === "in" || dir === "out") line.dir = dir;
    if (/^\d{1,19}$/.test(peer)) line.peer = peer;
    if (addr && addr.length <= 256) line.addr = addr;
    return Object.keys(line).length ? line : null;
  }

  // logLine asks the node's log for line seq, for a #seq link that came
  // without its context (the peer page's, or one typed in). The log keeps
  // fewer lines than the node keeps small messages' bytes, so it may be
  // gone: then null.
  async function logLine(seq) {
    try {
      const after = BigInt(seq) > 0n ? BigInt(seq) - 1n : 0n;
      const resp = await fetch("/api/messages?after=" + after + "&limit=1", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!resp.ok) return null;
      const body = await resp.json();
      const line = isObj(body) && Array.isArray(body.messages) ? body.messages[0] : null;
      if (!isObj(line) || String(line.seq) !== seq) return null;
      return { time: str(line.time), dir: str(line.dir), peer: Number.isSafeInteger(line.peer) && line.peer > 0 ? String(line.peer) : "", addr: str(line.addr) };
    } catch (_) {
      return null; // the context is a help; the message decodes without it
    }
  }

  async function openSeq(seq, h) {
    const token = ++openToken;
    setStatus("decoding", "fetching message " + seq + "\u2026");
    let data;
    try {
      data = await fetchBytes("/api/messages/" + seq + "/raw", "messages");
    } catch (err) {
      if (token === openToken) setStatus("error", /HTTP 404$/.test(err.message) ? "message " + seq + " is not in the node's log (it keeps only the latest)" : err.message);
      return;
    }
    if (token !== openToken) return;
    const line = seqContext(h) || (await logLine(seq));
    if (token !== openToken) return;
    // The log says "in"/"out" from the node's side, as Core's capture files
    // do with recv/sent; the decoder names directions that way.
    const input = { name: "the node's message log, message " + seq, data };
    let note = "";
    if (line) {
      Object.assign(input, {
        time: str(line.time),
        direction: line.dir === "in" ? "recv" : line.dir === "out" ? "sent" : "",
        peer: str(line.peer),
        connection: str(line.addr),
      });
    } else {
      note = "the node's log no longer holds this message's line, so its time, direction and peer are unknown";
    }
    if (await decode([input], { format: "auto" }, token, note) && model.entries.length) selectEntry(view.length ? view[0] : 0, 0);
  }

  const HASH = /^[0-9a-fA-F]{64}$/;

  // hexToBytes reads the API's hex; null if it is not hex.
  function hexToBytes(text) {
    if (typeof text !== "string" || text.length % 2 || !/^[0-9a-fA-F]*$/.test(text)) return null;
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  // openTx opens transaction txid of block (a hash or a height): the node
  // reads it from its block store and the page decodes its bytes as a tx
  // message's payload, so it shows as a tx received from a peer would.
  async function openTx(block, txid) {
    const token = ++openToken;
    setStatus("decoding", "fetching transaction " + txid + "\u2026");
    let data;
    try {
      const body = JSON.parse(new TextDecoder().decode(await fetchBytes("/api/tx/" + txid + "?block=" + encodeURIComponent(block), "blocks")));
      data = hexToBytes(isObj(body) ? body.hex : null);
      if (!data) throw new Error("the node's answer for transaction " + txid + " holds no hex");
    } catch (err) {
      if (token === openToken) setStatus("error", err.message);
      return;
    }
    if (token !== openToken) return;
    const input = { name: "transaction " + txid + " of block " + block, data };
    const note = "a transaction of block " + block + ", read from the node's block store: not a message of a peer, so it has no frame, time or direction";
    if (await decode([input], { format: "payload", command: "tx" }, token, note) && model.entries.length) selectEntry(view.length ? view[0] : 0, 0);
  }

  // onHash opens what the address's fragment names: #seq=N (with what the
  // log knows of it), #capture=CONN or #block=HASH&tx=TXID.
  function onHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    const seq = h.get("seq"), conn = h.get("capture"), block = h.get("block"), tx = h.get("tx");
    if (seq !== null && /^\d{1,19}$/.test(seq)) openSeq(seq, h);
    else if (conn) openCapture(conn);
    else if (block !== null && tx !== null) {
      if ((HASH.test(block) || /^\d{1,10}$/.test(block)) && HASH.test(tx)) openTx(block, tx);
      else setStatus("error", "#block needs a block hash or height and tx a 64-digit txid");
    }
  }

  // ---------------------------------------------------------------- export

  function exportAll() {
    const msg = $("dec-export-msg"), btn = $("dec-export");
    let s;
    try {
      s = globalThis.watchnodeExport();
      if (typeof s !== "string") throw new Error("the decoder returned " + typeof s);
      // A refusal is a short {"error"}; an export starts with "format".
      if (s.length < 4096 && /^\s*\{\s*"error"/.test(s)) parseResult(s);
    } catch (err) {
      msg.textContent = "export failed: " + err.message;
      return;
    }
    const blob = new Blob([s], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = el("a");
    a.href = url;
    a.download = "decoded.json";
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000); // the download has started by then
    btn.dataset.exportBytes = String(blob.size);
    msg.textContent = "decoded.json, " + fmtBytes(blob.size);
  }

  // ------------------------------------------------------------------ init

  function syncCommandInput() {
    const cmd = $("dec-command");
    cmd.disabled = $("dec-format").value !== "payload";
  }

  function init() {
    list.box = $("dec-list");
    list.spacer = list.box.querySelector(".vspacer");
    hex.box = $("dec-hexview");
    hex.spacer = hex.box.querySelector(".vspacer");

    $("dec-paste").addEventListener("submit", openPaste);
    $("dec-hex").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("dec-paste").requestSubmit();
    });
    $("dec-file").addEventListener("change", (ev) => {
      const files = Array.from(ev.target.files || []);
      ev.target.value = ""; // picking the same file again is a change too
      openFiles(files);
    });
    $("dec-format").addEventListener("change", syncCommandInput);
    syncCommandInput();
    setupDrop();

    for (const id of ["dec-f-command", "dec-f-dir", "dec-f-conn"]) $(id).addEventListener("change", applyFilter);
    $("dec-f-search").addEventListener("input", scheduleFilter);

    list.box.addEventListener("scroll", () => renderList(false), { passive: true });
    list.box.addEventListener("click", (ev) => {
      const row = ev.target.closest(".dec-row");
      if (row && row.dataset.index !== undefined) selectEntry(Number(row.dataset.index), 0);
    });
    list.box.addEventListener("keydown", onListKey);

    const treeBox = $("dec-tree");
    treeBox.addEventListener("click", onTreeClick);
    treeBox.addEventListener("dblclick", (ev) => {
      const row = ev.target.closest(".field > .frow");
      if (row && !ev.target.closest(".twist")) toggle(row.parentElement);
    });
    treeBox.addEventListener("keydown", onTreeKey);

    hex.box.addEventListener("scroll", () => renderHex(false), { passive: true });
    hex.box.addEventListener("click", onHexClick);

    // A view that grows needs more pooled rows.
    new ResizeObserver(() => renderList(false)).observe(list.box);
    new ResizeObserver(() => renderHex(false)).observe(hex.box);

    $("dec-export").addEventListener("click", exportAll);
    $("dec-captures-refresh").addEventListener("click", loadCaptures);
    window.addEventListener("hashchange", onHash);

    decoderReady = loadDecoder();
    decoderReady.then(() => {
      if ($("dec-status").dataset.state === "loading") setStatus("ready", "decoder ready: paste hex, drop files or open a capture");
    }, (err) => setStatus("error", err.message));
    loadCaptures();
    renderList(true);
    onHash();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
