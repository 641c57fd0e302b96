package main_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const sqlxPath = "github.com/jmoiron/sqlx"

// domainPackages compose through database.Tx and database.Querier; their exported API must not
// name the driver's handles, or callers would have to import the driver to use them.
var domainPackages = []string{
	"rules", "triage", "routing", "directory", "governance", "identity", "audit", "replay", "bulkimport", "privacy",
}

// driverHandles are the database/sql types that are as much the driver's business as sqlx's.
var driverHandles = []string{"DB", "Tx", "Conn", "Stmt"}

// TestOnlyDatabaseImportsSQLX holds the storage toolkit behind package database: any other package
// importing it would be a step back towards stores that hand sqlx values around.
func TestOnlyDatabaseImportsSQLX(t *testing.T) {
	for path, f := range sourceFiles(t) {
		if strings.HasPrefix(path, "database"+string(filepath.Separator)) {
			continue
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == sqlxPath {
				t.Errorf("%s imports %s; use database.Tx or database.Querier", path, sqlxPath)
			}
		}
	}
}

// TestDomainAPIsNameNoDriverType is the check that would have caught stores exposing *sqlx.Tx and
// sqlx.ExtContext in their exported signatures.
func TestDomainAPIsNameNoDriverType(t *testing.T) {
	files := sourceFiles(t)
	checked := 0
	for path, f := range files {
		if !slices.Contains(domainPackages, strings.Split(filepath.ToSlash(path), "/")[0]) {
			continue
		}
		checked++
		for _, leak := range driverLeaks(f) {
			t.Errorf("%s: %s", path, leak)
		}
	}
	if checked == 0 {
		t.Fatal("no domain package files found: the walk looked in the wrong place")
	}
}

// TestDriverLeaks holds the checker itself to what it must find and what it must let through.
func TestDriverLeaks(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "exported function taking a sqlx transaction",
			src:  `import "github.com/jmoiron/sqlx"; func AppendTx(tx *sqlx.Tx) error { return nil }`,
			want: []string{"AppendTx names sqlx.Tx"},
		},
		{
			name: "renamed import in an interface method",
			src:  `import x "github.com/jmoiron/sqlx"; type Store interface { Book(ex x.ExtContext) error }`,
			want: []string{"Store names sqlx.ExtContext"},
		},
		{
			name: "exported func type",
			src:  `import "github.com/jmoiron/sqlx"; type Booking func(tx *sqlx.Tx) error`,
			want: []string{"Booking names sqlx.Tx"},
		},
		{
			name: "exported method returning a database/sql handle",
			src:  `import "database/sql"; type S struct{}; func (S) Begin() (*sql.Tx, error) { return nil, nil }`,
			want: []string{"S.Begin names sql.Tx"},
		},
		{
			name: "exported struct field",
			src:  `import "database/sql"; type S struct { Pool *sql.DB; conn *sql.Conn }`,
			want: []string{"S.Pool names sql.DB"},
		},
		{
			name: "unexported names and ordinary database/sql types pass",
			src: `import ("database/sql"; "github.com/jmoiron/sqlx"); func lockHead(tx *sqlx.Tx) {}
type s struct{}; func (s) Begin(tx *sqlx.Tx) {}; func Scan(n sql.NullString) sql.Result { return nil }`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parser.ParseFile(token.NewFileSet(), "x.go", "package x; "+tt.src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			if got := driverLeaks(f); !slices.Equal(got, tt.want) {
				t.Errorf("driverLeaks = %q, want %q", got, tt.want)
			}
		})
	}
}

// sourceFiles parses every non-test Go file of the module, keyed by its path from the module root.
func sourceFiles(t *testing.T) map[string]*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string]*ast.File{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out[path] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// driverLeaks lists the exported functions, methods, types and struct fields of f whose types
// name sqlx or a database/sql handle, as "Name names pkg.Type".
func driverLeaks(f *ast.File) []string {
	// Imports may be renamed, so the file's own names for the two packages are looked up first.
	banned := map[string]func(string) bool{}
	pkgOf := map[string]string{} // the file's name for a package → the package's own name
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		base := p[strings.LastIndex(p, "/")+1:]
		name := base
		if imp.Name != nil {
			name = imp.Name.Name
		}
		pkgOf[name] = base
		switch p {
		case sqlxPath:
			banned[name] = func(string) bool { return true }
		case "database/sql":
			banned[name] = func(sel string) bool { return slices.Contains(driverHandles, sel) }
		}
	}
	var leaks []string
	report := func(owner string, n ast.Node) {
		if n == nil {
			return
		}
		ast.Inspect(n, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && banned[id.Name] != nil && banned[id.Name](sel.Sel.Name) {
				leaks = append(leaks, owner+" names "+pkgOf[id.Name]+"."+sel.Sel.Name)
			}
			return false
		})
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			owner := d.Name.Name
			if d.Recv != nil && len(d.Recv.List) > 0 {
				recv := receiverName(d.Recv.List[0].Type)
				if !ast.IsExported(recv) {
					continue
				}
				owner = recv + "." + owner
			}
			report(owner, d.Type)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok || !ts.Name.IsExported() {
					continue
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					report(ts.Name.Name, ts.Type)
					continue
				}
				for _, field := range st.Fields.List {
					for _, name := range field.Names {
						if name.IsExported() {
							report(ts.Name.Name+"."+name.Name, field.Type)
						}
					}
					if len(field.Names) == 0 { // an embedded field is promoted, so it is part of the API
						report(ts.Name.Name, field.Type)
					}
				}
			}
		}
	}
	return leaks
}

// receiverName is the base type name of a method receiver: T, *T, T[P] or *T[P].
func receiverName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
