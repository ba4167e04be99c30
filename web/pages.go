package web

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/web/static"
	"github.com/watchnode/watchnode/web/views"
)

// How much of the logs the pages show.
const (
	overviewEvents = 20
	chainHeaders   = 20
	recentBlocks   = 20
	peerMessages   = 50
	logMessages    = 100
)

// routePages registers the dashboard's pages, assets and controls.
func (s *Server) routePages() {
	s.mux.HandleFunc("GET /{$}", s.overviewPage)
	s.mux.HandleFunc("GET /peers", s.peersPage)
	s.mux.HandleFunc("GET /peers/{id}", s.peerPage)
	s.mux.HandleFunc("GET /chain", s.chainPage)
	s.mux.HandleFunc("GET /sync", s.syncPage)
	s.mux.HandleFunc("GET /blocks/{key}", s.blockPage)
	s.mux.HandleFunc("GET /messages", s.messagesPage)
	s.mux.HandleFunc("GET /network", s.networkPage)
	s.mux.HandleFunc("GET /bans", s.bansPage)
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.HandleFunc("POST /ui/connect", s.control("connect", s.uiConnect))
	s.mux.HandleFunc("POST /ui/disconnect", s.control("disconnect", s.uiDisconnect))
	s.mux.HandleFunc("POST /ui/ban", s.control("ban", s.uiBan))
	s.mux.HandleFunc("POST /ui/unban", s.control("unban", s.uiUnban))
	s.files.Handle("GET /static/", staticHandler())
}

// staticHandler serves the embedded assets, without directory listings or
// the package's Go source.
func staticHandler() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(static.FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if name == "" || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".go") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// snapshot is the engine's latest snapshot, or an empty one before the
// first.
func (s *Server) snapshot() *engine.Snapshot {
	if snap := s.eng.Snapshot(); snap != nil {
		return snap
	}
	return &engine.Snapshot{}
}

// page describes the request to the layout.
func (s *Server) page(r *http.Request, name, title string) views.Page {
	p := views.Page{Name: name, Title: title, Path: r.URL.Path}
	switch {
	case s.cookieOK(r):
		p.LoggedIn, p.CSRF = true, s.csrfToken()
	case s.bearerOK(r):
		p.LoggedIn = true
	}
	return p
}

// render writes c as the response, whole or (on a rendering error) not at
// all.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		s.log.Warn("rendering a page", "path", r.URL.Path, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// lastEvents returns up to n of the newest events, newest first, that keep
// says to keep (nil keeps all).
func lastEvents(ring *engine.Ring[engine.Event], n int, keep func(*engine.Event) bool) []engine.Event {
	_, all, _ := ring.Since(0, math.MaxInt)
	out := []engine.Event{}
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		if keep == nil || keep(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

// lastMessages returns up to n of the newest logged messages matching f,
// newest first.
func lastMessages(ring *engine.Ring[engine.MessageRecord], n int, f clientRequest) []views.MsgRow {
	first, all, _ := ring.Since(0, math.MaxInt)
	out := []views.MsgRow{}
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		if !f.matches(&all[i]) {
			continue
		}
		l := lineOf(first+uint64(i), &all[i])
		out = append(out, views.MsgRow{Seq: l.Seq, Time: l.Time, Peer: engine.PeerID(l.Peer), Addr: l.Addr,
			Dir: l.Dir, Command: l.Command, Size: l.Size, Summary: l.Summary, Request: l.Request})
	}
	return out
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshot()
	events := lastEvents(s.eng.Events(), overviewEvents, nil)
	s.render(w, r, http.StatusOK, views.Overview(s.page(r, "overview", "Overview"), snap.Status, events, snap.AddedNodes, time.Now()))
}

func (s *Server) peersPage(w http.ResponseWriter, r *http.Request) {
	peers := slices.Clone(s.snapshot().Peers)
	slices.SortFunc(peers, func(a, b engine.PeerInfo) int { return cmpID(a.ID, b.ID) })
	s.render(w, r, http.StatusOK, views.Peers(s.page(r, "peers", "Peers"), peers, time.Now()))
}

func cmpID(a, b engine.PeerID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// okMessages are the notices shown after a control succeeded (?ok=...).
// Only these fixed texts are shown: the query string cannot put words on
// the page.
var okMessages = map[string]string{
	"connect":      "Connecting. The peer appears in the list once the handshake is done.",
	"disconnect":   "Disconnected. The peer leaves the list with the next update.",
	"ban":          "Banned. Connected peers from that address are disconnected.",
	"unban":        "Unbanned.",
	"remove-added": "Removed from the added nodes: it is not dialled again.",
}

func okMessage(r *http.Request) views.Message {
	return views.Message{Text: okMessages[r.URL.Query().Get("ok")]}
}

func (s *Server) peerPage(w http.ResponseWriter, r *http.Request) {
	idText := r.PathValue("id")
	p := s.page(r, "peer", "Peer "+idText)
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		s.render(w, r, http.StatusNotFound, views.ErrorPage(p, "No such peer", "Peer ids are numbers.", "/peers", "All peers"))
		return
	}
	snap := s.snapshot()
	for _, pi := range snap.Peers {
		if uint64(pi.ID) == id {
			msgs := lastMessages(s.eng.Messages(), peerMessages, clientRequest{Peer: id})
			seq := sequenceRows(s.eng.Messages(), s.eng.Links(), id)
			s.render(w, r, http.StatusOK, views.Peer(p, pi, time.Now(), msgs, seq, okMessage(r)))
			return
		}
	}
	var gone *engine.Disconnect
	for i := range snap.Disconnects { // newest first
		if uint64(snap.Disconnects[i].ID) == id {
			gone = &snap.Disconnects[i]
			break
		}
	}
	s.render(w, r, http.StatusNotFound, views.PeerGone(p, strconv.FormatUint(id, 10), gone, okMessage(r)))
}

func (s *Server) chainPage(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshot()
	var errs []string
	headers := []engine.HeaderView{}
	for h := snap.Status.Height; h >= 0 && h > snap.Status.Height-chainHeaders; h-- {
		hv, err := s.eng.Header(r.Context(), strconv.Itoa(int(h)))
		if err != nil {
			// The chain may have reorganized to a shorter one since the
			// snapshot: skip heights it no longer has.
			if !errors.Is(err, engine.ErrUnknownHeader) {
				errs = append(errs, "headers: "+err.Error())
				break
			}
			continue
		}
		headers = append(headers, hv)
	}
	tips, err := s.eng.Tips(r.Context())
	if err != nil {
		errs = append(errs, "tips: "+err.Error())
	}
	reorgs := lastEvents(s.eng.Events(), math.MaxInt, func(e *engine.Event) bool { return e.Kind == engine.EventReorg })
	recent := snap.Blocks.RecentTimelines(recentBlocks)
	s.render(w, r, http.StatusOK, views.Chain(s.page(r, "chain", "Chain"), snap.Status, headers, tips, reorgs, recent, strings.Join(errs, "; ")))
}

// syncPage shows block download and validation: progress, rates, the
// window, the peers downloading, stalls, the UTXO set and connect times.
func (s *Server) syncPage(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshot()
	d := views.SyncData{Status: snap.Status, Blocks: snap.Blocks, Now: snap.Time}
	for _, p := range snap.Peers {
		if p.BlocksInFlight > 0 || p.BlocksReceived > 0 {
			d.Peers = append(d.Peers, p)
		}
	}
	pg := s.page(r, "sync", "Sync")
	s.render(w, r, http.StatusOK, views.Sync(pg, d))
}

// parseMsgFilter reads the message log's filter from the query string.
func parseMsgFilter(r *http.Request) (views.MsgFilter, string) {
	q := r.URL.Query()
	f := views.MsgFilter{Command: strings.TrimSpace(q.Get("command")), Dir: q.Get("dir")}
	var problem string
	if p := strings.TrimSpace(q.Get("peer")); p != "" {
		id, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			problem = "The peer filter must be a peer id (a number); showing every peer."
		} else {
			f.Peer = engine.PeerID(id)
		}
	}
	if f.Dir != "in" && f.Dir != "out" {
		f.Dir = "all"
	}
	return f, problem
}

func (s *Server) messagesPage(w http.ResponseWriter, r *http.Request) {
	f, problem := parseMsgFilter(r)
	req := clientRequest{Peer: uint64(f.Peer), Command: f.Command, Dir: f.Dir}
	rows := lastMessages(s.eng.Messages(), logMessages, req)
	msg := views.Message{Error: problem != "", Text: problem}
	s.render(w, r, http.StatusOK, views.Messages(s.page(r, "messages", "Messages"), f, rows, views.Commands(s.snapshot().Status), msg))
}

func (s *Server) networkPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "network", "Network")
	p.Charts = true
	s.render(w, r, http.StatusOK, views.Network(p, s.snapshot().Status))
}

func (s *Server) bansPage(w http.ResponseWriter, r *http.Request) {
	s.renderBans(w, r, http.StatusOK, okMessage(r))
}

func (s *Server) renderBans(w http.ResponseWriter, r *http.Request, status int, msg views.Message) {
	snap := s.snapshot()
	p := s.page(r, "bans", "Bans & controls")
	p.Path = "/bans" // also for a control's error answered from /ui/...
	captures := views.CaptureState{Enabled: s.eng.Capturing(), Dir: s.eng.CaptureDir(), Captures: s.listCaptures()}
	s.render(w, r, status, views.Bans(p, snap.Disconnects, snap.Bans, captures, msg))
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, safeNext(r.URL.Query().Get("next")), "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, problem string) {
	p := s.page(r, "login", "Log in")
	p.NoScript = true
	s.render(w, r, status, views.Login(p, next, string(s.snapshot().Status.Network), problem))
}

// login checks the token and stores it in the login cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if !s.tokenMatches(strings.TrimSpace(r.PostFormValue("token"))) {
		s.log.Info("dashboard login refused", "remote", r.RemoteAddr)
		s.renderLogin(w, r, http.StatusUnauthorized, next, "That is not the token. Copy it again from the .cookie file: the node writes a new one each time it starts.")
		return
	}
	s.setLoginCookie(w, r)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if s.cookieOK(r) && !s.csrfOK(r.PostFormValue("csrf")) {
		s.render(w, r, http.StatusForbidden, views.ErrorPage(s.page(r, "error", "Forbidden"), "Forbidden",
			"The form's security token is missing or stale. Reload the page and try again.", "/", "Overview"))
		return
	}
	clearLoginCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// controlError is a control's failure, shown on the bans page.
type controlError struct {
	status int
	err    error
}

func (e *controlError) Error() string { return e.err.Error() }

func badRequest(format string, args ...any) error {
	return &controlError{http.StatusBadRequest, fmt.Errorf(format, args...)}
}

// control wraps an operator control posted from a page: it needs the login
// cookie and the CSRF token; on success it goes back to the page the form
// names in "next" (the bans page by default), on failure it shows the bans
// page with the error.
func (s *Server) control(action string, do func(r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		p := s.page(r, "error", "Forbidden")
		p.Path = "/bans"
		if !s.cookieOK(r) {
			s.render(w, r, http.StatusForbidden, views.ErrorPage(p, "Log in first",
				"The controls need you to log in with the token from the data folder's .cookie file.",
				views.LoginURL("/bans"), "Log in"))
			return
		}
		if !s.csrfOK(r.PostFormValue("csrf")) {
			s.log.Warn("dashboard control refused: bad CSRF token", "action", action, "remote", r.RemoteAddr)
			s.render(w, r, http.StatusForbidden, views.ErrorPage(p, "Forbidden",
				"The form's security token is missing or stale. Reload the page and try again.", "/bans", "Bans & controls"))
			return
		}
		if err := do(r); err != nil {
			status := http.StatusInternalServerError
			if ce, ok := err.(*controlError); ok {
				status = ce.status
			}
			s.renderBans(w, r, status, views.Message{Error: true, Text: action + ": " + err.Error()})
			return
		}
		next := "/bans"
		if n := r.PostFormValue("next"); n != "" {
			next = safeNext(n)
		}
		sep := "?"
		if strings.Contains(next, "?") {
			sep = "&"
		}
		http.Redirect(w, r, next+sep+"ok="+action, http.StatusSeeOther)
	}
}

func (s *Server) uiConnect(r *http.Request) error {
	addr := strings.TrimSpace(r.PostFormValue("addr"))
	if addr == "" {
		return badRequest("give an address, host:port")
	}
	if err := s.eng.Connect(r.Context(), addr); err != nil {
		return badRequest("%w", err)
	}
	s.log.Info("operator connect", "addr", addr, "from", "dashboard")
	return nil
}

func (s *Server) uiDisconnect(r *http.Request) error {
	id, err := strconv.ParseUint(strings.TrimSpace(r.PostFormValue("id")), 10, 64)
	if err != nil {
		return badRequest("the peer id must be a number")
	}
	if err := s.eng.Disconnect(r.Context(), engine.PeerID(id)); err != nil {
		if errors.Is(err, engine.ErrNoSuchPeer) {
			return &controlError{http.StatusNotFound, err}
		}
		return err
	}
	s.log.Info("operator disconnect", "peer", id, "from", "dashboard")
	return nil
}

// maxBanReason bounds a ban's reason, which is stored with the ban.
const maxBanReason = 200

func (s *Server) uiBan(r *http.Request) error {
	addr := strings.TrimSpace(r.PostFormValue("addr"))
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if addr == "" {
		return badRequest("give an IP address")
	}
	if len(reason) > maxBanReason {
		return badRequest("the reason is longer than %d bytes", maxBanReason)
	}
	var d time.Duration
	if v := strings.TrimSpace(r.PostFormValue("duration_s")); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 || secs > math.MaxInt64/int64(time.Second) {
			return badRequest("the duration must be a number of seconds, not negative")
		}
		d = time.Duration(secs) * time.Second
	}
	ban, err := s.eng.Ban(r.Context(), addr, reason, d)
	if err != nil {
		return badRequest("%w", err)
	}
	s.log.Info("operator ban", "addr", ban.Addr, "reason", ban.Reason, "from", "dashboard")
	return nil
}

func (s *Server) uiUnban(r *http.Request) error {
	addr := strings.TrimSpace(r.PostFormValue("addr"))
	found, err := s.eng.Unban(r.Context(), addr)
	if err != nil {
		return badRequest("%w", err)
	}
	if !found {
		return &controlError{http.StatusNotFound, fmt.Errorf("%s is not banned", addr)}
	}
	s.log.Info("operator unban", "addr", addr, "from", "dashboard")
	return nil
}
