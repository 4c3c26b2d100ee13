// Package sourcetest lets tests check the module's own Go source: Literals
// lists every string literal, so a vocabulary's test can fail on a copy of a
// value outside the package that owns it or on a value its table lacks, and
// its own test requires a doc comment on every package.
package sourcetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Literal is one string literal of the source.
type Literal struct {
	File  string // slash-separated, relative to the module root
	Line  int
	Value string
}

func (l Literal) String() string {
	return l.File + ":" + strconv.Itoa(l.Line) + ": " + strconv.Quote(l.Value)
}

// Root returns the module root: the nearest directory above the working
// directory holding go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("sourcetest: no go.mod above the working directory")
		}
		dir = up
	}
}

// Literals returns every string literal (import paths and struct tags
// excluded) of the module's .go files that are not tests.
func Literals(t testing.TB) []Literal {
	t.Helper()
	root := Root(t)
	var out []Literal
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
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
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		skip := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportSpec:
				skip[n.Path] = true
			case *ast.Field:
				if n.Tag != nil {
					skip[n.Tag] = true
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING || skip[n] {
					return true
				}
				v, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				out = append(out, Literal{File: rel, Line: fset.Position(n.Pos()).Line, Value: v})
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
