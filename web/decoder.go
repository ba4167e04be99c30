package web

import (
	"net/http"
	"os"
	"path/filepath"

	"github.com/watchnode/watchnode/web/views"
)

// Files of the browser decoder, built by `make build` next to the server
// binary: the WebAssembly module and the loader from the same Go version
// ($(go env GOROOT)/lib/wasm/wasm_exec.js), which must match the module.
const (
	DecoderModule = "decoder.wasm"
	DecoderLoader = "wasm_exec.js"
)

// decoderCSP is the page policy plus 'wasm-unsafe-eval', which compiling a
// WebAssembly module needs; only the decoder page gets it.
const decoderCSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; " +
	"script-src 'self' 'wasm-unsafe-eval'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// WithDecoderDir says where the decoder's module and loader are.
func WithDecoderDir(dir string) Option {
	return func(s *Server) { s.decoderDir = dir }
}

func (s *Server) registerDecoder() {
	s.mux.HandleFunc("GET /decoder", s.decoderPage)
	s.files.HandleFunc("GET /decoder/"+DecoderModule, s.decoderAsset(DecoderModule, "application/wasm"))
	s.files.HandleFunc("GET /decoder/"+DecoderLoader, s.decoderAsset(DecoderLoader, "text/javascript; charset=utf-8"))
}

// decoderAsset serves one of the decoder's files, or a 404 that says how to
// build it.
func (s *Server) decoderAsset(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.decoderDir == "" {
			http.Error(w, "the decoder is not built: run make build", http.StatusNotFound)
			return
		}
		f, err := os.Open(filepath.Join(s.decoderDir, name))
		if err != nil {
			http.Error(w, "the decoder is not built ("+name+" missing): run make build", http.StatusNotFound)
			return
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			http.Error(w, "reading "+name+": "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, info.ModTime(), f)
	}
}

// decoderPage is /decoder. The page works entirely in the browser; the node
// only serves it, the module, its captures and its logged messages.
func (s *Server) decoderPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", decoderCSP)
	s.render(w, r, http.StatusOK, views.Decoder(s.page(r, "decoder", "Decoder")))
}
