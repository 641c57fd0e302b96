package server

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/rules"
)

// catalogueTTL is how long a page trusts the pathway catalogue and the services directory it
// read, before it asks the database again. Both change by an import or a rule-set publication,
// a few times a year; a page may show a pathway's or a service's old words for this long after,
// on a replica that did not make the change. Decisions never read through this cache.
const catalogueTTL = 30 * time.Second

// pageCatalogue keeps what the pages look up on nearly every request and what changes rarely:
// the pathway catalogue and the services a letter describes. Published forms are cached by the
// form store itself, since a published version never changes.
type pageCatalogue struct {
	mu         sync.Mutex
	pathways   map[string]rules.Pathway
	pathwaysAt time.Time

	index    *directory.Index // the directory as last checked against its change marker
	indexAt  time.Time
	services map[string]*letterService // the letters' view of index's services, as read
}

// pathways is the pathway catalogue by id, read from the store at most once per catalogueTTL.
func (s *Server) pathways(ctx context.Context) (map[string]rules.Pathway, error) {
	c := &s.catalogue
	now := s.Engine.Now()
	c.mu.Lock()
	if c.pathways != nil && fresh(c.pathwaysAt, now) {
		ps := c.pathways
		c.mu.Unlock()
		return ps, nil
	}
	c.mu.Unlock()
	list, err := s.Rules.Pathways(ctx)
	if err != nil {
		return nil, err
	}
	ps := make(map[string]rules.Pathway, len(list))
	for _, p := range list {
		ps[p.ID] = p
	}
	c.mu.Lock()
	c.pathways, c.pathwaysAt = ps, now
	c.mu.Unlock()
	return ps, nil
}

// pathway is the catalogue's entry for id, or one named by its id when the catalogue lacks it
// or cannot be read: a page still shows the decision.
func (s *Server) pathway(ctx context.Context, id string) rules.Pathway {
	if ps, err := s.pathways(ctx); err == nil {
		if p, ok := ps[id]; ok {
			return p
		}
	}
	return rules.Pathway{ID: id, Name: id}
}

// letterService is what a letter says of service id, or nil when the directory lacks it. The
// directory is checked against its change marker at most once per catalogueTTL, and each
// service's view is made once per directory.
func (s *Server) letterService(ctx context.Context, id string) *letterService {
	p := s.Engine.Placement
	if p == nil || p.Directory == nil {
		return nil
	}
	c := &s.catalogue
	now := s.Engine.Now()
	c.mu.Lock()
	ix := c.index
	if ix == nil || !fresh(c.indexAt, now) {
		c.mu.Unlock()
		got, err := p.Directory.Index(ctx)
		if err != nil {
			return nil
		}
		c.mu.Lock()
		if got != c.index {
			c.index, c.services = got, map[string]*letterService{}
		}
		c.indexAt, ix = now, got
	}
	if ls, ok := c.services[id]; ok {
		c.mu.Unlock()
		return ls
	}
	c.mu.Unlock()
	var ls *letterService
	if svc, ok := ix.Service(id); ok {
		if b, err := json.Marshal(svc); err == nil {
			var v letterService
			if json.Unmarshal(b, &v) == nil {
				ls = &v
			}
		}
	}
	c.mu.Lock()
	if c.index == ix {
		c.services[id] = ls
	}
	c.mu.Unlock()
	return ls
}

// fresh reports whether something read at was read within catalogueTTL of now.
func fresh(at, now time.Time) bool {
	d := now.Sub(at)
	return d >= 0 && d < catalogueTTL
}
