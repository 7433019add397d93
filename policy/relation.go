package policy

import "strings"

// Relation is a set of ways an actor relates to a resource. A Resolver
// computes it from the store; the rule table lists, per action and role,
// which relations grant the action.
type Relation uint8

// The relations. An actor may hold several at once: the patient of a
// consultation is both its owner and a participant.
const (
	// RelOwner: the resource is the actor's own: his account, his devices,
	// or, for a patient, his care team, consultations, conversations and
	// billing entries.
	RelOwner Relation = 1 << iota
	// RelCareTeam: the actor is in the care team of the patient the
	// resource is about.
	RelCareTeam
	// RelParticipant: the actor is listed as a participant of the
	// consultation the resource belongs to, of any kind (patient,
	// clinician or guest).
	RelParticipant
	// RelHost: the actor is a participant of kind clinician, a care team
	// member who runs the consultation. Every host is also a participant.
	RelHost
	// RelCorrespondent: the actor shares a conversation with the account
	// the resource belongs to, so he needs its device keys: both are
	// participants of one consultation, or both belong to one patient's
	// care thread (the patient and his care team).
	RelCorrespondent

	// RelAny is not computed by a Resolver. In a rule it grants the action
	// whatever the actor's relation to the resource, including none.
	RelAny Relation = 1 << 7
)

// RelNone is the empty set: no relation to the resource.
const RelNone Relation = 0

// Relations lists the computed relations in table order, for help text and
// matrix tests. RelAny is not among them.
var Relations = []Relation{RelOwner, RelCareTeam, RelParticipant, RelHost, RelCorrespondent}

var relationNames = []struct {
	rel  Relation
	name string
}{
	{RelAny, "any"},
	{RelOwner, "owner"},
	{RelCareTeam, "care team"},
	{RelParticipant, "participant"},
	{RelHost, "host"},
	{RelCorrespondent, "correspondent"},
}

// Has reports whether r contains every relation in other.
func (r Relation) Has(other Relation) bool { return r&other == other }

// String returns the relations as a comma-separated list such as
// "owner, participant", "none" for the empty set.
func (r Relation) String() string {
	if r == RelNone {
		return "none"
	}
	var names []string
	for _, n := range relationNames {
		if r&n.rel != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ", ")
}

// ParseRelation parses the String form of a relation set; "none" and "—"
// are the empty set.
func ParseRelation(s string) (Relation, bool) {
	s = strings.TrimSpace(s)
	if s == "none" || s == "—" || s == "" {
		return RelNone, true
	}
	var r Relation
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		found := false
		for _, n := range relationNames {
			if n.name == part {
				r |= n.rel
				found = true
			}
		}
		if !found {
			return 0, false
		}
	}
	return r, true
}
