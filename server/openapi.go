package server

import (
	_ "embed"
	"net/http"
)

// openAPIPath is where the API's OpenAPI document is served.
const openAPIPath = "/v1/openapi.json"

// openAPIDocument describes every route of the API as OpenAPI 3.1; TestOpenAPIDocumentsEveryRoute
// holds it to the router and validates real responses against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the API's OpenAPI 3.1 document, as served at /v1/openapi.json.
func OpenAPI() []byte { return openAPIDocument }

// getOpenAPI serves the document to anyone, so that API gateways can import it without a token.
func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(openAPIDocument)
}
