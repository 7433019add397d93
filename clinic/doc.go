// Package clinic owns care teams, consultations (appointments), schedules
// and billing entries, their HTTP handlers, and the store-backed side of the
// access policy.
//
// Service.Authorize is the one access check for the whole product: it
// resolves the actor's relations to a resource (care team membership,
// consultation participant lists) and calls package policy. Other packages
// call it instead of deciding on their own; the signaling hub calls
// AuthorizeJoin, which also enforces the appointment's time window, and
// SetStatus. Participants, IsParticipant, CareTeam, Consultation and
// ConversationMembers read clinic data for other packages without checking
// access, so call Authorize before them.
//
// Consultations carry no clinical content. The reason for a visit and any
// notes travel as end-to-end encrypted messages in the consultation's
// conversation; the API rejects unknown fields, so free text cannot slip
// into a server-readable record. Billing fields (service code, amount,
// currency, payer reference) are sealed at rest with store.Sealer, bound to
// each entry's location.
package clinic
