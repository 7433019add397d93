package policy

import (
	"flag"
	"os"
	"testing"
)

//go:generate go test -run TestAccessControlDoc -update .

var update = flag.Bool("update", false, "rewrite the generated table in docs/access-control.md")

const docPath = "../docs/access-control.md"

func TestAccessControlDoc(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("read %s: %v", docPath, err)
	}
	if *update {
		out, err := ReplaceDocSection(doc)
		if err != nil {
			t.Fatalf("update %s: %v", docPath, err)
		}
		if err := os.WriteFile(docPath, out, 0o644); err != nil {
			t.Fatalf("write %s: %v", docPath, err)
		}
		doc = out
	}
	got, err := DocSection(doc)
	if err != nil {
		t.Fatalf("%s: %v", docPath, err)
	}
	if want := Markdown(); got != want {
		t.Errorf("%s differs from the rule table; run go generate ./policy\ngot:\n%s\nwant:\n%s",
			docPath, got, want)
	}
}

func TestParseDocTableRoundTrip(t *testing.T) {
	doc := []byte("intro\n" + DocBegin + "\n" + Markdown() + DocEnd + "\n")
	parsed, err := ParseDocTable(doc)
	if err != nil {
		t.Fatalf("ParseDocTable: %v", err)
	}
	if got, want := len(parsed), len(rules); got != want {
		t.Fatalf("got %d actions, want %d", got, want)
	}
	for _, r := range rules {
		for _, role := range Roles {
			if got, want := parsed[r.Action][role], r.Grants[role]; got != want {
				t.Errorf("%s for %s: got %q, want %q", r.Action, role, got, want)
			}
		}
	}
}

func TestParseDocTableRejectsBadCell(t *testing.T) {
	doc := []byte(DocBegin + "\n| `a.b` | owner | sometimes | — | — | — |\n" + DocEnd)
	if _, err := ParseDocTable(doc); err == nil {
		t.Fatal("got no error for the relation \"sometimes\", want one")
	}
}

func TestDocSectionMissingMarkers(t *testing.T) {
	if _, err := DocSection([]byte("no markers here")); err != ErrDocMarkers {
		t.Errorf("got %v, want ErrDocMarkers", err)
	}
}
