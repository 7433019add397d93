// Package policy is Bedside's one access policy: every endpoint, signaling
// message and operator path asks it whether an actor may perform an action
// on a resource, and handlers never decide on their own.
//
// A decision depends on the actor's role (Role), the action (Action) and
// the actor's relations to the resource (Relation: owner, care team,
// participant, host, correspondent). The rule table in table.go is data.
// docs/access-control.md shows the same table, and a test fails when the
// two differ. go generate ./policy rewrites the document's table.
//
// Use Check with a Resolver (package clinic provides the one backed by the
// store) and respond with Decision.Err, or call clinic.Service.Authorize,
// which also records denials in the audit log. Everything is denied by
// default: an anonymous actor, an unknown role or action, a staff session
// without a second factor (except for the few actions needed to enrol one),
// and a role or relation the table does not list.
//
// Denials on a specific resource the actor has no relation to answer
// api.NotFound, exactly as for an id that does not exist; denials where the
// actor knows the resource, and denials on collections, answer the one
// ForbiddenError body.
package policy
