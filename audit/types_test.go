package audit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestKnownTypesListsEveryConstant keeps the metric label set in step with
// the Type constants declared in types.go.
func TestKnownTypesListsEveryConstant(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Type") {
					continue
				}
				declared++
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				if !knownTypes[v] {
					t.Errorf("%s (%q) is missing from knownTypes", name.Name, v)
				}
				if !typeSyntax.MatchString(v) {
					t.Errorf("%s (%q) is not a valid event type name", name.Name, v)
				}
			}
		}
	}
	if declared != len(knownTypes) {
		t.Errorf("got %d Type constants and %d known types, want equal counts", declared, len(knownTypes))
	}
}
