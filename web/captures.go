package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/watchnode/watchnode/web/views"
)

// captureFileNames are the files of one connection's capture, in Bitcoin
// Core's layout; nothing else below the capture folder is served.
var captureFileNames = []string{"msgs_recv.dat", "msgs_sent.dat"}

// captureList is GET /api/captures.
type captureList struct {
	Enabled  bool                `json:"enabled"`
	Dir      string              `json:"dir"`
	Captures []views.CaptureConn `json:"captures"`
}

func (s *Server) registerCaptures() {
	s.mux.HandleFunc("GET /api/captures", s.captures)
	s.files.HandleFunc("GET /api/captures/{conn}/{file}", s.captureFile)
	s.mux.HandleFunc("POST /api/capture", s.authorized(s.setCapture))
	s.mux.HandleFunc("POST /ui/capture", s.control("capture", s.uiCapture))
	s.mux.HandleFunc("GET /api/messages/{seq}/raw", s.messageRaw)
}

// listCaptures reads the capture folder: one entry per connection folder
// holding at least one capture file, newest first.
func (s *Server) listCaptures() []views.CaptureConn {
	dir := s.eng.CaptureDir()
	out := []views.CaptureConn{}
	if dir == "" {
		return out
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("cannot list message captures", "dir", dir, "err", err)
		}
		return out
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		conn := views.CaptureConn{Name: e.Name()}
		for _, name := range captureFileNames {
			info, err := os.Stat(filepath.Join(dir, e.Name(), name))
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			conn.Files = append(conn.Files, views.CaptureFile{Name: name, Size: info.Size(), Modified: info.ModTime().UTC()})
			conn.Bytes += info.Size()
			if info.ModTime().After(conn.Modified) {
				conn.Modified = info.ModTime().UTC()
			}
		}
		if len(conn.Files) > 0 {
			out = append(out, conn)
		}
	}
	slices.SortStableFunc(out, func(a, b views.CaptureConn) int { return b.Modified.Compare(a.Modified) })
	return out
}

func (s *Server) captures(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, captureList{Enabled: s.eng.Capturing(), Dir: s.eng.CaptureDir(), Captures: s.listCaptures()})
}

// captureFile serves one capture file. The connection must be one the
// listing shows and the file one of Core's two names, so no request can
// reach outside the capture folder.
func (s *Server) captureFile(w http.ResponseWriter, r *http.Request) {
	conn, file := r.PathValue("conn"), r.PathValue("file")
	if !slices.Contains(captureFileNames, file) {
		writeError(w, http.StatusNotFound, "capture files are msgs_recv.dat and msgs_sent.dat")
		return
	}
	for _, c := range s.listCaptures() {
		if c.Name != conn {
			continue
		}
		f, err := os.Open(filepath.Join(s.eng.CaptureDir(), c.Name, file))
		if err != nil {
			writeError(w, http.StatusNotFound, "no such capture file")
			return
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "reading the capture file: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
		http.ServeContent(w, r, file, info.ModTime(), f)
		return
	}
	writeError(w, http.StatusNotFound, "no capture of that connection")
}

// setCapture is POST /api/capture with {"enabled": true|false}.
func (s *Server) setCapture(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&body); err != nil || body.Enabled == nil {
		writeError(w, http.StatusBadRequest, `want a JSON body {"enabled": true} or {"enabled": false}`)
		return
	}
	if err := s.switchCapture(r.Context(), *body.Enabled); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"enabled": s.eng.Capturing()})
}

// uiCapture is the dashboard's capture switch (form field enabled=on|off).
func (s *Server) uiCapture(r *http.Request) error {
	on := r.PostFormValue("enabled") == "on"
	if err := s.switchCapture(r.Context(), on); err != nil {
		return &controlError{http.StatusConflict, err}
	}
	return nil
}

func (s *Server) switchCapture(ctx context.Context, on bool) error {
	if err := s.eng.SetCapture(ctx, on); err != nil {
		return err
	}
	s.log.Info("message capture switched", "enabled", on, "dir", s.eng.CaptureDir())
	return nil
}

// messageRaw is GET /api/messages/{seq}/raw: a logged message framed as on
// the wire, for the decoder page, while the node still keeps its bytes.
func (s *Server) messageRaw(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the message number must be a positive integer")
		return
	}
	frame, ok := s.eng.MessageFrame(seq)
	if !ok {
		writeError(w, http.StatusNotFound, "message "+strconv.FormatUint(seq, 10)+"'s bytes are no longer kept: the node keeps only the newest messages' bytes")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(frame)
}
