package web

import (
	"net/http"
	"strconv"
)

// txOut is GET /api/utxo/{txid}/{vout}: an unspent output, as Core's
// gettxout (404 when the set does not hold it).
func (s *Server) txOut(w http.ResponseWriter, r *http.Request) {
	vout, err := strconv.ParseUint(r.PathValue("vout"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "vout: want an output index, got "+strconv.Quote(r.PathValue("vout")))
		return
	}
	out, err := s.eng.TxOut(r.Context(), r.PathValue("txid"), uint32(vout))
	if err != nil {
		writeError(w, blockErrorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// tx is GET /api/tx/{txid}?block=HASH-OR-HEIGHT: a transaction of a
// stored block with the outputs its inputs spent and its fee (from the
// block's undo data). The node keeps no transaction index, so the block is
// required, as Core's getrawtransaction without -txindex.
func (s *Server) tx(w http.ResponseWriter, r *http.Request) {
	block := r.URL.Query().Get("block")
	if block == "" {
		writeError(w, http.StatusBadRequest, "block: the node keeps no transaction index; name the block (?block=HASH or height)")
		return
	}
	tx, err := s.eng.Tx(r.Context(), r.PathValue("txid"), block)
	if err != nil {
		writeError(w, blockErrorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, tx)
}

// invalidateBlock is POST /api/blocks/{hash}/invalidate (operator, token):
// Core's invalidateblock.
func (s *Server) invalidateBlock(w http.ResponseWriter, r *http.Request) {
	if err := s.eng.InvalidateBlock(r.Context(), r.PathValue("hash")); err != nil {
		writeError(w, blockErrorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"invalidated": r.PathValue("hash")})
}

// reconsiderBlock is POST /api/blocks/{hash}/reconsider (operator,
// token): Core's reconsiderblock; "was_invalid" says whether it was
// marked.
func (s *Server) reconsiderBlock(w http.ResponseWriter, r *http.Request) {
	marked, err := s.eng.ReconsiderBlock(r.Context(), r.PathValue("hash"))
	if err != nil {
		writeError(w, blockErrorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reconsidered": r.PathValue("hash"), "was_invalid": marked})
}
