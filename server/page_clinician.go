package server

import "net/http"

// clinicianPages registers the web pages of the assessment form, decision page and appointment letter.
func (s *Server) clinicianPages(mux *http.ServeMux) {
	_ = mux
}
