package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/netsync"
)

// Engine is what the web layer needs of the node: published snapshots and
// the operator's controls. *engine.Engine implements it.
type Engine interface {
	Snapshot() *engine.Snapshot
	Connect(ctx context.Context, addr string) error
	RemoveAddedNode(ctx context.Context, addr string) error
	Disconnect(ctx context.Context, id engine.PeerID) error
	Ban(ctx context.Context, addr, reason string, d time.Duration) (engine.Ban, error)
	Unban(ctx context.Context, addr string) (bool, error)
	Header(ctx context.Context, key string) (engine.HeaderView, error)
	// Block and RawBlock read a block by height or hash from the store.
	Block(ctx context.Context, key string) (engine.BlockView, error)
	RawBlock(ctx context.Context, key string) ([]byte, error)
	// TxOut reads the UTXO set (gettxout); Tx a stored block's
	// transaction with its fee from the undo data.
	TxOut(ctx context.Context, txid string, vout uint32) (engine.TxOutView, error)
	Tx(ctx context.Context, txid, block string) (engine.TxView, error)
	// InvalidateBlock and ReconsiderBlock are Core's invalidateblock and
	// reconsiderblock.
	InvalidateBlock(ctx context.Context, hash string) error
	ReconsiderBlock(ctx context.Context, hash string) (bool, error)
	Tips(ctx context.Context) ([]engine.TipView, error)
	Messages() *engine.Ring[engine.MessageRecord]
	Events() *engine.Ring[engine.Event]
	// MessageFrame is a logged message's bytes, framed, while kept.
	MessageFrame(seq uint64) ([]byte, bool)
	// Links joins logged requests to their answers (the peer page's
	// sequence diagram).
	Links() *engine.Ring[engine.RequestLink]
	// Message capture: the folder, whether new connections are captured,
	// and the switch.
	CaptureDir() string
	Capturing() bool
	SetCapture(ctx context.Context, on bool) error
}

// Server holds the HTTP handlers.
type Server struct {
	eng   Engine
	token string
	log   *slog.Logger
	// mux routes pages and API calls, served by the workers (limit).
	mux *http.ServeMux
	// files routes what is served outside the worker limit and sends
	// everything else to mux through it.
	files *http.ServeMux
	hub   *Hub
	// handler is files behind the auth gate (auth.go).
	handler     http.Handler
	requireAuth bool
	decoderDir  string      // where decoder.wasm and wasm_exec.js are (decoder.go)
	workers     *workerPool // runs the handlers of pages and API calls (limit)
}

// New returns a server for eng; token authorizes the mutating API calls.
func New(eng Engine, token string, log *slog.Logger, opts ...Option) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{eng: eng, token: token, log: log, mux: http.NewServeMux(), files: http.NewServeMux(), hub: NewHub(eng, log), workers: newWorkerPool(httpWorkers(), workerRest)}
	for _, o := range opts {
		o(s)
	}
	s.files.Handle("/", s.limit(s.mux))
	s.handler = s.gate(s.files)
	s.files.Handle("GET /ws", s.hub)
	s.mux.HandleFunc("GET /api/status", s.status)
	s.mux.HandleFunc("GET /api/peers", s.peers)
	s.mux.HandleFunc("GET /api/peers/{id}", s.peerByID)
	s.mux.HandleFunc("POST /api/peers", s.authorized(s.connect))
	s.mux.HandleFunc("DELETE /api/peers/{id}", s.authorized(s.disconnect))
	s.mux.HandleFunc("GET /api/disconnects", s.disconnects)
	s.mux.HandleFunc("GET /api/bans", s.bans)
	s.mux.HandleFunc("POST /api/bans", s.authorized(s.ban))
	s.mux.HandleFunc("DELETE /api/bans/{addr}", s.authorized(s.unban))
	s.mux.HandleFunc("GET /api/headers/{key}", s.header)
	s.mux.HandleFunc("GET /api/blocks/{key}", s.block)
	s.mux.HandleFunc("GET /api/blocks/{key}/raw", s.rawBlock)
	s.mux.HandleFunc("POST /api/blocks/{hash}/invalidate", s.authorized(s.invalidateBlock))
	s.mux.HandleFunc("POST /api/blocks/{hash}/reconsider", s.authorized(s.reconsiderBlock))
	s.mux.HandleFunc("GET /api/tips", s.tips)
	s.mux.HandleFunc("GET /api/utxo/{txid}/{vout}", s.txOut)
	s.mux.HandleFunc("GET /api/tx/{txid}", s.tx)
	s.mux.HandleFunc("GET /api/messages", s.messages)
	s.registerAddedNodes()
	s.registerCaptures()
	s.registerDecoder()
	s.routeMetrics()
	s.routePages()
	return s
}

// ServeHTTP implements http.Handler. Pages and API calls (the routes on
// s.mux) are handled a few at a time, the others waiting their turn, as
// Bitcoin Core serves RPC with -rpcthreads (4) workers: the node's own work
// (peers, sync) must keep the cores it needs however hard clients hit the
// server. Files (static assets, the decoder's module, capture downloads)
// and the WebSocket feed are routed on s.files, outside the limit: they
// cost I/O, not the node's CPU, and may take long.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// limit serves next on one of the workers (workerPool), waiting for one to
// be free.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.workers.do(r.Context(), func() { next.ServeHTTP(w, r) })
	})
}

// workerRest is how long a worker rests after a request that took d, before
// it takes the next: as long as it worked, up to maxRest. Clients that never
// pause get at most half of the workers' time, and a dashboard's few
// requests a second never notice. Measured: 50 clients as fast as they
// can, one worker on 2 cores: sync 2.4x slower without the rest, 1.09x
// with it (BENCHMARKS.md). The low priority of the workers' threads
// (workerPool) gives the node the rest of the CPU it needs.
func workerRest(d time.Duration) time.Duration { return min(d, maxRest) }

// maxRest bounds a worker's rest after a long request.
const maxRest = 100 * time.Millisecond

// httpWorkers is how many requests are handled at once: half the cores,
// at least one, at most Core's four RPC threads.
func httpWorkers() int { return min(4, max(1, runtime.GOMAXPROCS(0)/2)) }

// authorized requires "Authorization: Bearer <token>", or the login cookie
// with the CSRF token in X-CSRF-Token (auth.go).
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.apiAuthorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="watchnode"`)
			writeError(w, http.StatusUnauthorized, "this call needs Authorization: Bearer <token>, the token being the contents of the data folder's .cookie file")
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.eng.Snapshot().Status)
}

func (s *Server) peers(w http.ResponseWriter, _ *http.Request) {
	writeList(w, s.eng.Snapshot().Peers)
}

func (s *Server) peerByID(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "peer id must be a number")
		return
	}
	for _, p := range s.eng.Snapshot().Peers {
		if uint64(p.ID) == id {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no connected peer with id %d", id))
}

func (s *Server) disconnects(w http.ResponseWriter, _ *http.Request) {
	writeList(w, s.eng.Snapshot().Disconnects)
}

func (s *Server) bans(w http.ResponseWriter, _ *http.Request) {
	writeList(w, s.eng.Snapshot().Bans)
}

// writeList answers a JSON array, [] when empty: a nil slice would encode
// as null, and clients should not need to tell the two apart.
func writeList[T any](w http.ResponseWriter, list []T) {
	if list == nil {
		list = []T{}
	}
	writeJSON(w, http.StatusOK, list)
}

// maxBody bounds request bodies: the API takes a few short strings.
const maxBody = 4 << 10

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Addr string `json:"addr"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if err := s.eng.Connect(r.Context(), body.Addr); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.log.Info("operator connect", "addr", body.Addr)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "connecting", "addr": body.Addr})
}

func (s *Server) disconnect(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "peer id must be a number")
		return
	}
	if err := s.eng.Disconnect(r.Context(), engine.PeerID(id)); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, engine.ErrNoSuchPeer) {
			status = http.StatusNotFound
		}
		writeError(w, status, err.Error())
		return
	}
	s.log.Info("operator disconnect", "peer", id)
	writeJSON(w, http.StatusOK, map[string]any{"status": "disconnected", "id": id})
}

func (s *Server) ban(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Addr      string `json:"addr"`
		Reason    string `json:"reason"`
		DurationS int64  `json:"duration_s"` // default 24 h, as bitcoind's setban
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.DurationS < 0 {
		writeError(w, http.StatusBadRequest, "duration_s must not be negative")
		return
	}
	ban, err := s.eng.Ban(r.Context(), body.Addr, body.Reason, time.Duration(body.DurationS)*time.Second)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.log.Info("operator ban", "addr", ban.Addr, "reason", ban.Reason)
	writeJSON(w, http.StatusCreated, ban)
}

func (s *Server) unban(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("addr")
	found, err := s.eng.Unban(r.Context(), addr)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s is not banned", addr))
		return
	}
	s.log.Info("operator unban", "addr", addr)
	writeJSON(w, http.StatusOK, map[string]string{"status": "unbanned", "addr": addr})
}

func (s *Server) header(w http.ResponseWriter, r *http.Request) {
	h, err := s.eng.Header(r.Context(), r.PathValue("key"))
	switch {
	case errors.Is(err, engine.ErrUnknownHeader):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeJSON(w, http.StatusOK, h)
	}
}

// block is GET /api/blocks/{hash-or-height}: the header, the status and,
// when stored, the block's sizes and txids.
func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	b, err := s.eng.Block(r.Context(), r.PathValue("key"))
	if err != nil {
		writeError(w, blockErrorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// blockErrorStatus is the HTTP status of a block lookup's error.
func blockErrorStatus(err error) int {
	switch {
	case errors.Is(err, engine.ErrUnknownHeader), errors.Is(err, engine.ErrNoBlockData),
		errors.Is(err, engine.ErrNoCoin), errors.Is(err, engine.ErrNoTx):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrBadKey):
		return http.StatusBadRequest
	case errors.Is(err, netsync.ErrNoBlocks):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// rawBlock is GET /api/blocks/{hash-or-height}/raw: the serialized block,
// with witness data, as application/octet-stream.
func (s *Server) rawBlock(w http.ResponseWriter, r *http.Request) {
	raw, err := s.eng.RawBlock(r.Context(), r.PathValue("key"))
	if err != nil {
		writeError(w, blockErrorStatus(err), err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.Write(raw)
}

func (s *Server) tips(w http.ResponseWriter, r *http.Request) {
	tips, err := s.eng.Tips(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, tips)
}

// maxMessagesPerCall bounds one GET /api/messages answer.
const maxMessagesPerCall = 1000

// messages is GET /api/messages?after=SEQ&limit=N: the message log from
// after SEQ on, oldest first, as the feed's message lines. "skipped" counts
// messages after SEQ the log no longer holds.
func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if q.Get("after") != "" && err != nil {
		writeError(w, http.StatusBadRequest, "after must be a message number")
		return
	}
	limit := maxMessagesPerCall
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > maxMessagesPerCall {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d", maxMessagesPerCall))
			return
		}
	}
	first, recs, skipped := s.eng.Messages().Since(after, limit)
	lines := make([]MessageLine, len(recs))
	for i := range recs {
		lines[i] = lineOf(first+uint64(i), &recs[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"skipped": skipped, "messages": lines})
}
