package server

import "net/http"

// policyPages registers the web pages of the rule-set workbench.
func (s *Server) policyPages(mux *http.ServeMux) {
	_ = mux
}
