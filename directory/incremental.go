package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
)

// StoredService is one stored row of the directory: its key and its HSDS document as stored.
type StoredService struct {
	ID       string `db:"id"`
	Document []byte `db:"document"`
}

// DocumentStore is a Store that can list its rows undecoded, so that CachedIndex decodes and
// compiles only the services whose document changed since its last build: after an import of a
// handful of services into a large directory, the next decision waits for a handful of compiles
// instead of one per service.
type DocumentStore interface {
	ServiceDocuments(ctx context.Context) ([]StoredService, error)
}

// storedEntry is what an index remembers of the stored row a service was built from.
type storedEntry struct {
	digest digest
	at     int32 // position in Index.services
}

// digest identifies a stored document: its length and two 64-bit hashes under independent random
// seeds. A cryptographic hash of a 50,000-service directory (about 175 MB of documents) took
// longer than all the rest of a rebuild; these run at memory speed, and a publisher cannot aim a
// collision at seeds drawn by each replica at start and never shown.
type digest struct {
	n    int
	a, b uint64
}

// digestSeeds are the seeds an index and the indexes rebuilt from it hash documents with.
type digestSeeds struct{ a, b maphash.Seed }

func newDigestSeeds() *digestSeeds { return &digestSeeds{a: maphash.MakeSeed(), b: maphash.MakeSeed()} }

func (s *digestSeeds) digest(doc []byte) digest {
	return digest{n: len(doc), a: maphash.Bytes(s.a, doc), b: maphash.Bytes(s.b, doc)}
}

// decode reads the row's document as Services does.
func (r *StoredService) decode(into *Service) error {
	if err := json.Unmarshal(r.Document, into); err != nil {
		return fmt.Errorf("directory: stored service %q does not decode: %w", r.ID, err)
	}
	return nil
}

// storedBuild is a rebuild from stored rows with the changed rows decoded; it is split from the
// compile so that decoding fails as Services does and compiling as NewIndex does.
type storedBuild struct {
	rows     []StoredService
	seeds    *digestSeeds
	digests  []digest
	compiled []compiledService // aligned with rows; reused entries filled in
	changed  []int             // rows whose document is new or different
	services []Service         // canonical decoded service of each changed row, aligned with changed
}

// decodeStored digests every row and decodes those whose document prev was not built from; a
// row of prev with the same key and the same document digest keeps its compiled service. The
// compiled form of a service depends on its document alone (the eligibility compiler's cache
// shares programs but never changes a result, and the only checks across services are the
// duplicate ids and codes, which build repeats over every row), so reusing it cannot change the
// index. prev may be nil, or an index not built from stored rows; then every row is decoded.
func decodeStored(prev *Index, rows []StoredService) (*storedBuild, error) {
	b := &storedBuild{rows: rows, digests: make([]digest, len(rows)), compiled: make([]compiledService, len(rows))}
	if prev != nil && prev.seeds != nil {
		b.seeds = prev.seeds
	} else {
		b.seeds = newDigestSeeds()
	}
	for i := range rows {
		r := &rows[i]
		b.digests[i] = b.seeds.digest(r.Document)
		if prev != nil && prev.seeds == b.seeds {
			if e, ok := prev.stored[r.ID]; ok && e.digest == b.digests[i] {
				b.compiled[i] = prev.services[e.at]
				continue
			}
		}
		var s Service
		if err := r.decode(&s); err != nil {
			return nil, err
		}
		b.changed = append(b.changed, i)
		b.services = append(b.services, canonical(s))
	}
	return b, nil
}

// build compiles the changed rows and assembles the index. Any problem, in a changed service or
// between services, is reported by a full NewIndex over every row, so that the error names the
// same records and positions as a build from scratch would; a directory that does not compile
// is the rare case and may be slow.
func (b *storedBuild) build() (*Index, error) {
	if len(b.changed) > 0 {
		comp, err := newEligibilityCompiler()
		if err != nil {
			return nil, err
		}
		compiled, problems := compileServices(b.services, nil, comp)
		if len(problems) > 0 {
			return b.full()
		}
		for k, i := range b.changed {
			b.compiled[i] = compiled[k]
		}
	}
	if duplicated(b.compiled) {
		return b.full()
	}
	for i := range b.compiled {
		b.compiled[i].row = int32(i)
	}
	ix := assemble(b.compiled)
	ix.seeds = b.seeds
	ix.stored = make(map[string]storedEntry, len(ix.services))
	for at := range ix.services {
		r := ix.services[at].row
		ix.stored[b.rows[r].ID] = storedEntry{digest: b.digests[r], at: int32(at)}
	}
	return ix, nil
}

// duplicated reports whether two services share an id or a code, the checks compileServices
// makes across services.
func duplicated(compiled []compiledService) bool {
	ids := make(map[string]struct{}, len(compiled))
	codes := make(map[string]struct{}, len(compiled))
	for i := range compiled {
		s := &compiled[i].svc
		if _, dup := ids[s.ID]; dup {
			return true
		}
		ids[s.ID] = struct{}{}
		if s.Code != "" && s.Code != s.ID {
			if _, dup := codes[s.Code]; dup {
				return true
			}
			codes[s.Code] = struct{}{}
		}
	}
	return false
}

// full builds the index from scratch over every row, in row order as Services lists them.
func (b *storedBuild) full() (*Index, error) {
	services := make([]Service, len(b.rows))
	for i := range b.compiled {
		services[i] = b.compiled[i].svc
	}
	for k, i := range b.changed {
		services[i] = b.services[k]
	}
	return NewIndex(services)
}

// ServiceDocuments lists every stored row undecoded, sorted by code as Services is.
func (s *SQLStore) ServiceDocuments(ctx context.Context) ([]StoredService, error) {
	var rows []StoredService
	if err := s.DB.SelectContext(ctx, &rows, `SELECT id, document FROM services ORDER BY id`); err != nil {
		return nil, fmt.Errorf("directory: unable to list services: %w", err)
	}
	return rows, nil
}
