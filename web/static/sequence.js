// sequence.js keeps the peer page's sequence diagram live: #peer-seq, which
// the server renders (web/views seqDiagram) with the peer's recent
// messages, one arrow each, newest at the bottom, every request tied to its
// answers. This script appends the arrows of new messages and applies the
// request links as they come, building each row as the server does.
//
// It reads the feed through app.js, which opens it: app.js subscribes the
// peer page to the peer's messages with their links ("links": true) and
// passes every feed message on as a "watchnode:feed" event; its
// decoderLink makes the arrows' decoder links, as the message log's. The
// script tag is not deferred, so this listens before app.js (deferred)
// connects.
//
// A link joins a request's row to an answer's by their log numbers
// (web/feed.go LinkLine). It may come before the answer's line or after
// it, so a link that names a row not shown yet waits for it (bounded).
//
// SECURITY: feed text comes from remote peers; the DOM is built with
// createElement and textContent only, links from numbers (and app.js's
// decoderLink, which encodes).
(function () {
  "use strict";

  const box = document.getElementById("peer-seq");
  if (!box) return;
  const rows = box.querySelector("ol.seq-rows");
  const peer = Number(box.dataset.peerId);
  // MAX_ROWS bounds the diagram's scrollback: beyond it the oldest rows
  // are dropped (the server's views.seqMaxRows, in data-max-rows).
  const MAX_ROWS = Math.min(Number(box.dataset.maxRows) || 500, 500);
  // MAX_WAITING bounds the links that wait for their rows.
  const MAX_WAITING = 1000;
  const STATE_TEXT = { pending: "pending", expired: "expired", released: "released: the peer left" };
  const OUTCOMES = ["answered", "expired", "released"]; // how a request ends (p2p.Outcome)

  const isId = (n) => Number.isSafeInteger(n) && n > 0;
  let maxSeq = 0; // the newest message shown: the feed repeats some on reconnecting
  let startedAt = null; // the node's start: a restarted node numbers anew
  const waiting = new Map(); // log number of a row not shown yet -> links naming it

  for (const li of rows.children) maxSeq = Math.max(maxSeq, Number(li.dataset.seq) || 0);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const rowOf = (seq) => document.getElementById("seq-" + String(seq));
  const roundTrip = (ms) => (Number(ms) || 0).toFixed(1) + " ms"; // as views.RoundTrip
  const responsesOf = (li) => (li.dataset.responses || "").split(" ").filter(Boolean).map(Number);

  // renderNote rebuilds a row's note from its data attributes, as the
  // server's seqRow writes it.
  function renderNote(li) {
    const note = li.querySelector(".seq-note");
    const out = [];
    const link = (to, text) => {
      const a = el("a", "seq-link", text);
      a.href = "#seq-" + String(to);
      return a;
    };
    const answers = Number(li.dataset.answers);
    if (isId(answers)) {
      const req = rowOf(answers);
      const what = (req && req.dataset.command ? req.dataset.command + " " : "") + "#" + answers;
      out.push(link(answers, "\u21a9 " + what + " \u00b7 " + roundTrip(li.dataset.rttMs)));
    }
    const state = li.dataset.state;
    if (state) {
      const resp = responsesOf(li);
      if (resp.length === 1) out.push(link(resp[0], "\u2192 #" + resp[0] + " \u00b7 " + roundTrip(li.dataset.rttMs)));
      else if (resp.length > 1) {
        const last = resp[resp.length - 1];
        out.push(link(last, "\u2192 " + resp.length + " answers, last #" + last + " \u00b7 " + roundTrip(li.dataset.rttMs)));
      }
      if (state !== "answered" && Object.prototype.hasOwnProperty.call(STATE_TEXT, state)) {
        const mark = el("span", "seq-mark", STATE_TEXT[state]);
        mark.dataset.state = state;
        out.push(mark);
      }
    }
    note.replaceChildren(...out);
  }

  // wait keeps link until the row seq arrives.
  function wait(seq, link) {
    if (seq <= maxSeq) return; // that row is gone, or never was this peer's
    const list = waiting.get(seq) || [];
    list.push(link);
    waiting.set(seq, list);
    while (waiting.size > MAX_WAITING) waiting.delete(waiting.keys().next().value); // oldest first
  }

  // applyLink ties a request's row to an answer's, or marks the request
  // expired or released. Applying a link twice changes nothing.
  function applyLink(l) {
    if (!l || l.peer !== peer || !isId(l.request)) return;
    const answered = l.outcome === "answered" && isId(l.response);
    const req = rowOf(l.request);
    if (!req) wait(l.request, l);
    else if (req.dataset.state) {
      if (answered) {
        const resp = responsesOf(req);
        if (!resp.includes(l.response)) {
          resp.push(l.response);
          resp.sort((a, b) => a - b);
          req.dataset.responses = resp.join(" ");
        }
        if (l.response === resp[resp.length - 1]) req.dataset.rttMs = String(l.rtt_ms);
      }
      if (l.done && OUTCOMES.includes(l.outcome)) req.dataset.state = l.outcome;
      renderNote(req);
    }
    if (!answered) return;
    const resp = rowOf(l.response);
    if (!resp) return wait(l.response, l);
    resp.dataset.answers = String(l.request);
    resp.dataset.rttMs = String(l.rtt_ms);
    renderNote(resp);
  }

  // makeRow builds a message's arrow as the server's seqRow does.
  function makeRow(line) {
    const li = el("li", "seq-row dir-" + line.dir);
    li.id = "seq-" + String(line.seq);
    li.dataset.seq = String(line.seq);
    li.dataset.dir = line.dir;
    li.dataset.command = String(line.command);
    if (line.request === true && line.dir === "out") {
      li.dataset.state = "pending";
      li.dataset.responses = "";
      li.dataset.rttMs = "0";
    }
    const d = new Date(line.time);
    const time = el("time", "seq-time", isNaN(d) ? "\u2014" : d.toISOString().slice(11, 23));
    if (!isNaN(d)) time.dateTime = d.toISOString();
    const arrow = el("span", "seq-arrow");
    const a = el("a", "seq-msg", String(line.command));
    const wn = globalThis.watchnode;
    a.href = wn && typeof wn.decoderLink === "function" ? wn.decoderLink(line) : "/decoder#seq=" + String(line.seq);
    const summary = el("span", "seq-summary", String(line.summary || ""));
    summary.title = String(line.summary || "");
    arrow.append(a, " ", summary);
    li.append(time, " ", arrow, " ", el("span", "seq-note"));
    renderNote(li);
    return li;
  }

  const atBottom = () => box.scrollHeight - box.scrollTop - box.clientHeight < 8;

  function addLines(lines) {
    const fresh = lines.filter((l) => l && l.peer === peer && isId(l.seq) && l.seq > maxSeq && (l.dir === "in" || l.dir === "out"));
    if (!fresh.length) return;
    const stick = atBottom();
    for (const line of fresh) {
      maxSeq = Math.max(maxSeq, line.seq);
      rows.append(makeRow(line));
      const early = waiting.get(line.seq);
      if (early) {
        waiting.delete(line.seq);
        early.forEach(applyLink);
      }
    }
    // The bound: drop the oldest rows, keeping the reader's place.
    while (rows.children.length > MAX_ROWS) {
      const first = rows.firstElementChild;
      const h = first.getBoundingClientRect().height;
      first.remove();
      if (!stick) box.scrollTop -= h;
    }
    if (stick) box.scrollTop = box.scrollHeight;
  }

  document.addEventListener("watchnode:feed", (e) => {
    const msg = e.detail;
    if (!msg || typeof msg !== "object" || !msg.data || typeof msg.data !== "object") return;
    if (msg.type === "snapshot") {
      const st = msg.data.status;
      const started = st && typeof st === "object" ? st.started_at : null;
      if (startedAt !== null && started !== startedAt) {
        rows.replaceChildren(); // another node's conversation
        maxSeq = 0;
        waiting.clear();
      }
      startedAt = started;
    } else if (msg.type === "messages") {
      // Links first: each applies to the rows shown, or waits for its row.
      if (Array.isArray(msg.data.links)) msg.data.links.forEach(applyLink);
      if (Array.isArray(msg.data.lines)) addLines(msg.data.lines);
    }
  });

  box.scrollTop = box.scrollHeight; // the newest at the bottom, in view
})();
