package web

import (
	"net/http"
	"strconv"

	"github.com/watchnode/watchnode/web/views"
)

// blockTxsPerPage is how many of a block's transactions one block page
// lists: a full block has thousands.
const blockTxsPerPage = 100

// blockPage is GET /blocks/{hash-or-height}: one block, with one page of
// its transactions (?page=N, from 1). An unknown block is 404, a key that
// is neither a height nor a hash 400, as in the API.
func (s *Server) blockPage(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	p := s.page(r, "block", "Block "+key)
	b, err := s.eng.Block(r.Context(), key)
	if err != nil {
		status := blockErrorStatus(err)
		heading := "No such block"
		if status != http.StatusNotFound && status != http.StatusBadRequest {
			heading = "Could not read the block"
		}
		s.render(w, r, status, views.ErrorPage(p, heading, err.Error(), "/chain", "Chain"))
		return
	}
	p.Title = "Block " + strconv.Itoa(int(b.Height))
	pages := max(1, (len(b.Txs)+blockTxsPerPage-1)/blockTxsPerPage)
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > pages {
			s.render(w, r, http.StatusNotFound, views.ErrorPage(p, "No such page",
				"The block's transactions fill "+strconv.Itoa(pages)+" pages of "+strconv.Itoa(blockTxsPerPage)+".",
				views.BlockHref(b.Hash), "Block "+strconv.Itoa(int(b.Height))))
			return
		}
		page = n
	}
	first := (page - 1) * blockTxsPerPage
	txs := b.Txs[first:min(len(b.Txs), first+blockTxsPerPage)]
	s.render(w, r, http.StatusOK, views.Block(p, views.BlockPage{Block: b, Txs: txs, First: first, Page: page, Pages: pages}))
}
