package policy

// Kind names the type of a resource, for audit events and error context.
type Kind string

// The resource kinds of the product.
const (
	KindAccount      Kind = "account"
	KindInvitation   Kind = "invitation"
	KindPatient      Kind = "patient"
	KindConsultation Kind = "consultation"
	KindBilling      Kind = "billing"
	KindConversation Kind = "conversation"
	KindAttachment   Kind = "attachment"
	KindDevice       Kind = "device"
	KindAudit        Kind = "audit"
	KindAlert        Kind = "alert"
)

// Resource is the target of an action. Only the fields that place the
// resource matter to the policy; a Resolver derives the actor's relations
// from them:
//
//   - ConsultationID: the consultation it belongs to (a consultation, its
//     billing entries, its conversation and attachments).
//   - PatientID: the patient it is about when there is no consultation (a
//     patient's care team, his care thread conversation, a new
//     consultation for him).
//   - UserID: the account it belongs to (an account, its devices).
//
// A resource with none of the three set is a collection or a creation
// (listing alerts, inviting an account); only rules granting RelAny match
// it. ID is the resource's own id (a conversation, attachment or device
// id) and is used for audit events only.
type Resource struct {
	Kind           Kind
	ID             string
	ConsultationID string
	PatientID      string
	UserID         string
	// Role is the role an invitation grants, for ActionInvitationCreate.
	Role Role
}

// Specific reports whether r names one existing resource rather than a
// collection. Denials on a specific resource the actor has no relation to
// respond "not found", so guessing ids reveals nothing.
func (r Resource) Specific() bool {
	return r.ConsultationID != "" || r.PatientID != "" || r.UserID != ""
}

// TargetID returns the most precise id of r, for audit events.
func (r Resource) TargetID() string {
	for _, id := range []string{r.ID, r.ConsultationID, r.PatientID, r.UserID} {
		if id != "" {
			return id
		}
	}
	return ""
}

// Consultation returns the resource of consultation id.
func Consultation(id string) Resource {
	return Resource{Kind: KindConsultation, ID: id, ConsultationID: id}
}

// Patient returns the resource of patient id as a whole: his care team and
// the consultations to be created for him.
func Patient(id string) Resource {
	return Resource{Kind: KindPatient, ID: id, PatientID: id}
}

// Account returns the resource of account id.
func Account(id string) Resource {
	return Resource{Kind: KindAccount, ID: id, UserID: id}
}
