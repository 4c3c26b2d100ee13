package sourcetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ignored reports whether f is excluded from every build (//go:build ignore).
func ignored(f *ast.File) bool {
	for _, g := range f.Comments {
		if g.Pos() >= f.Package {
			break
		}
		for _, c := range g.List {
			if strings.TrimSpace(c.Text) == "//go:build ignore" {
				return true
			}
		}
	}
	return false
}

// TestPackageDocs fails for a package of the module without a doc comment
// that starts "Package NAME " (or "Command DIR " for a program).
func TestPackageDocs(t *testing.T) {
	root := Root(t)
	n := 0
	err := filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); dir != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		pkg, documented := "", false
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				return err
			}
			if ignored(f) {
				continue // a script run with go run, not a package of the module
			}
			pkg = f.Name.Name
			if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), docStart(pkg, dir)) {
				documented = true
			}
		}
		if pkg == "" {
			return nil
		}
		n++
		if !documented {
			rel, _ := filepath.Rel(root, dir)
			t.Errorf("%s: package %s has no doc comment starting %q", filepath.ToSlash(rel), pkg, docStart(pkg, dir))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("found %d packages: is the module root right (%s)?", n, root)
	}
}

func docStart(pkg, dir string) string {
	if pkg == "main" {
		return "Command " + filepath.Base(dir) + " "
	}
	return "Package " + pkg + " "
}
