package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/watchnode/watchnode/node/engine"
)

// The operator's added nodes (-connect, -addnode, the Connect control):
// listed with their state, last error and next attempt, as Bitcoin Core's
// getaddednodeinfo, and removable, as its "addnode remove".

func (s *Server) registerAddedNodes() {
	s.mux.HandleFunc("GET /api/addednodes", s.addedNodes)
	s.mux.HandleFunc("DELETE /api/addednodes/{addr}", s.authorized(s.removeAddedNode))
	s.mux.HandleFunc("POST /ui/remove-added", s.control("remove-added", s.uiRemoveAddedNode))
}

func (s *Server) addedNodes(w http.ResponseWriter, _ *http.Request) {
	writeList(w, s.eng.Snapshot().AddedNodes)
}

func (s *Server) removeAddedNode(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("addr")
	if err := s.eng.RemoveAddedNode(r.Context(), addr); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, engine.ErrNoSuchAddedNode) {
			status = http.StatusNotFound
		}
		writeError(w, status, err.Error())
		return
	}
	s.log.Info("operator removed added node", "addr", addr)
	writeJSON(w, http.StatusOK, map[string]string{"status": "removed", "addr": addr})
}

func (s *Server) uiRemoveAddedNode(r *http.Request) error {
	addr := strings.TrimSpace(r.PostFormValue("addr"))
	if err := s.eng.RemoveAddedNode(r.Context(), addr); err != nil {
		if errors.Is(err, engine.ErrNoSuchAddedNode) {
			return &controlError{http.StatusNotFound, err}
		}
		return err
	}
	s.log.Info("operator removed added node", "addr", addr, "from", "dashboard")
	return nil
}
