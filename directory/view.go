package directory

import (
	"encoding/json"
	"fmt"
)

// View is how much of each service a page of GET /services shows.
type View int

// The views of the HSDS API: by default a list shows each service's one-to-one fields (the shape
// of the specification's service_list schema); full=true shows services fully nested, as
// GET /services/{id} does; minimal=true shows only what a client needs to see what changed.
const (
	ListView View = iota
	FullView
	MinimalView
)

// minimalMembers are the members of a minimal item: HSDS asks for the id and modification time,
// and its list schema requires name and status as well.
func minimalMembers(key string) bool {
	return key == "id" || key == "name" || key == "status" || key == "last_modified"
}

// Render writes the service as the view shows it.
func (s Service) Render(v View) (json.RawMessage, error) {
	full, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("directory: unable to encode service %q: %w", s.key(), err)
	}
	if v == FullView {
		return full, nil
	}
	doc, err := decodeOrdered(full)
	if err != nil {
		return nil, err
	}
	o := doc.(*object) // a Service always encodes as an object
	kept := o.members[:0]
	for _, m := range o.members {
		_, many := m.value.([]any)
		if v == MinimalView && minimalMembers(m.key) || v == ListView && !many {
			kept = append(kept, m)
		}
	}
	o.members = kept
	return encodeOrdered(o)
}

// RenderPage renders every service on a page in the view.
func RenderPage(p PagedResponse[Service], v View) (PagedResponse[json.RawMessage], error) {
	out := PagedResponse[json.RawMessage]{
		TotalItems: p.TotalItems, TotalPages: p.TotalPages, PageNumber: p.PageNumber, Size: p.Size,
		FirstPage: p.FirstPage, LastPage: p.LastPage, Empty: p.Empty, Contents: make([]json.RawMessage, len(p.Contents)),
	}
	for i, s := range p.Contents {
		r, err := s.Render(v)
		if err != nil {
			return PagedResponse[json.RawMessage]{}, err
		}
		out.Contents[i] = r
	}
	return out, nil
}
