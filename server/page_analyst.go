package server

import "net/http"

// analystPages registers the web pages of the replay result page.
func (s *Server) analystPages(mux *http.ServeMux) {
	_ = mux
}
