package server

import "net/http"

// coordinatorPages registers the web pages of the team worklist.
func (s *Server) coordinatorPages(mux *http.ServeMux) {
	_ = mux
}
