package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlWord finds SQL in a string: a statement keyword as SQLite's
// documentation and this code write them, upper case.
var sqlWord = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA|VACUUM|BEGIN|COMMIT|ROLLBACK)\b`)

// TestOnlyStoreSpeaksSQL keeps the rule that pkg/store is the only package
// with SQL text: no string literal in a non-test Go file outside pkg/store
// may hold a statement keyword. Views and the schema stay in sql/*.sql.
func TestOnlyStoreSpeaksSQL(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	store := filepath.Join(root, "pkg", "store")
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case path == store, name == "testdata", name == "node_modules", name != "." && strings.HasPrefix(name, "."):
				return filepath.SkipDir
			case strings.HasSuffix(name, "test") && name != "e2e":
				// Test-helper packages (clitest, capturetest, ...) build
				// inputs for tests, foreign SQLite files among them, the way
				// a test file would.
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && sqlWord.MatchString(s) {
				t.Errorf("%s: SQL outside pkg/store: %q; add a query method to pkg/store", rel, s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("checked %d files under %s, want the whole module", files, root)
	}
}
