package policy

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// The markers around the generated part of docs/access-control.md. Text
// outside them is written by hand.
const (
	DocBegin = "<!-- BEGIN GENERATED: policy.Markdown; edit policy/table.go, then run go generate ./policy -->"
	DocEnd   = "<!-- END GENERATED: policy.Markdown -->"
)

// ErrDocMarkers reports a document without the generated-section markers.
var ErrDocMarkers = errors.New("document lacks the generated-section markers")

const noGrant = "—"

// Markdown renders the rule table and the invitation table as Markdown, the
// generated part of docs/access-control.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| Action | Patient | Clinician | Nurse | Billing | Admin | Staff second factor | Allows |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "| `%s` ", r.Action)
		for _, role := range Roles {
			cell := noGrant
			if rel := r.Grants[role]; rel != RelNone {
				cell = rel.String()
			}
			fmt.Fprintf(&b, "| %s ", cell)
		}
		factor := "required"
		if r.NoSecondFactor {
			factor = "not required"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", factor, r.Summary)
	}
	b.WriteString("\nRoles an invitation may grant, by the inviter's role:\n\n")
	b.WriteString("| Inviter | May invite |\n| --- | --- |\n")
	for _, inviter := range Roles {
		names := make([]string, 0, len(inviteRoles[inviter]))
		for _, r := range inviteRoles[inviter] {
			names = append(names, string(r))
		}
		cell := noGrant
		if len(names) > 0 {
			cell = strings.Join(names, ", ")
		}
		fmt.Fprintf(&b, "| %s | %s |\n", inviter, cell)
	}
	return b.String()
}

// DocSection returns the text between the markers of doc.
func DocSection(doc []byte) (string, error) {
	begin := bytes.Index(doc, []byte(DocBegin))
	end := bytes.Index(doc, []byte(DocEnd))
	if begin < 0 || end < begin {
		return "", ErrDocMarkers
	}
	return strings.TrimPrefix(string(doc[begin+len(DocBegin):end]), "\n"), nil
}

// ReplaceDocSection returns doc with the text between its markers replaced
// by Markdown.
func ReplaceDocSection(doc []byte) ([]byte, error) {
	begin := bytes.Index(doc, []byte(DocBegin))
	end := bytes.Index(doc, []byte(DocEnd))
	if begin < 0 || end < begin {
		return nil, ErrDocMarkers
	}
	var out bytes.Buffer
	out.Write(doc[:begin+len(DocBegin)])
	out.WriteString("\n")
	out.WriteString(Markdown())
	out.Write(doc[end:])
	return out.Bytes(), nil
}

// ParseDocTable reads the action table from the generated section of doc:
// for each action, the relations granting it per role. It is the inverse of
// Markdown for the action table and lets tests take their expectations from
// the document itself.
func ParseDocTable(doc []byte) (map[Action]map[Role]Relation, error) {
	section, err := DocSection(doc)
	if err != nil {
		return nil, err
	}
	out := make(map[Action]map[Role]Relation)
	for i, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 1+len(Roles) {
			return nil, fmt.Errorf("line %d of the generated section: got %d cells, want at least %d",
				i+1, len(cells), 1+len(Roles))
		}
		action := Action(strings.Trim(strings.TrimSpace(cells[0]), "`"))
		grants := make(map[Role]Relation, len(Roles))
		for j, role := range Roles {
			rel, ok := ParseRelation(cells[1+j])
			if !ok {
				return nil, fmt.Errorf("line %d of the generated section: invalid relation %q for %s",
					i+1, strings.TrimSpace(cells[1+j]), role)
			}
			grants[role] = rel
		}
		out[action] = grants
	}
	return out, nil
}
