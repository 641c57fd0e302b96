package server

import "net/http"

// practitionerPages registers the web pages of the practitioner's day and its map.
func (s *Server) practitionerPages(mux *http.ServeMux) {
	_ = mux
}
