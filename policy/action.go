package policy

// Action names one operation of the product. Every endpoint and every
// signaling message maps to exactly one Action and checks the policy before it
// acts. The string form is stable: it appears in audit events and in
// docs/access-control.md.
type Action string

// Accounts and invitations.
const (
	// ActionAccountReadSelf reads the caller's own account and sessions.
	ActionAccountReadSelf Action = "account.read-self"
	// ActionAccountUpdateSelf changes the caller's own password or second
	// factor, or revokes the caller's own sessions.
	ActionAccountUpdateSelf Action = "account.update-self"
	// ActionAccountRead reads another account's public profile (name, role).
	ActionAccountRead Action = "account.read"
	// ActionAccountManage lists, disables, unlocks and changes the role of
	// any account.
	ActionAccountManage Action = "account.manage"
	// ActionInvitationCreate invites a new account. Resource.Role carries the
	// role the invitation grants; InviteRoles limits it per inviter role.
	ActionInvitationCreate Action = "invitation.create"
)

// Care teams.
const (
	// ActionCareTeamRead lists a patient's care team.
	ActionCareTeamRead Action = "careteam.read"
	// ActionCareTeamManage adds or removes care team members of a patient.
	ActionCareTeamManage Action = "careteam.manage"
)

// Consultations (appointments).
const (
	// ActionConsultationList lists the caller's schedule. Each listed
	// consultation is also checked with ActionConsultationRead.
	ActionConsultationList Action = "consultation.list"
	// ActionConsultationCreate books a consultation for a patient.
	ActionConsultationCreate Action = "consultation.create"
	// ActionConsultationRequest requests a consultation as the patient.
	ActionConsultationRequest Action = "consultation.request"
	// ActionConsultationConfirm turns a requested consultation into a
	// scheduled one.
	ActionConsultationConfirm Action = "consultation.confirm"
	// ActionConsultationRead reads a consultation's times, status and
	// participants.
	ActionConsultationRead Action = "consultation.read"
	// ActionConsultationCancel cancels a consultation.
	ActionConsultationCancel Action = "consultation.cancel"
	// ActionConsultationReschedule moves a consultation to other times.
	ActionConsultationReschedule Action = "consultation.reschedule"
	// ActionConsultationInviteGuest adds a guest participant.
	ActionConsultationInviteGuest Action = "consultation.invite-guest"
	// ActionConsultationJoin enters a consultation's room (waiting room,
	// video, presence).
	ActionConsultationJoin Action = "consultation.join"
	// ActionConsultationAdmit lets waiting participants into the call.
	ActionConsultationAdmit Action = "consultation.admit"
)

// Billing.
const (
	// ActionBillingRead reads the billing entries of a consultation, or
	// lists consultations for billing when no consultation is named.
	ActionBillingRead Action = "billing.read"
	// ActionBillingWrite creates or corrects billing entries.
	ActionBillingWrite Action = "billing.write"
)

// Messaging.
const (
	// ActionConversationRead reads a conversation's messages (ciphertext).
	ActionConversationRead Action = "conversation.read"
	// ActionConversationPost sends a message to a conversation.
	ActionConversationPost Action = "conversation.post"
	// ActionConversationDelete deletes a conversation and its messages.
	ActionConversationDelete Action = "conversation.delete"
	// ActionAttachmentUpload uploads an encrypted attachment to a
	// conversation.
	ActionAttachmentUpload Action = "attachment.upload"
	// ActionAttachmentDownload downloads an encrypted attachment.
	ActionAttachmentDownload Action = "attachment.download"
	// ActionDeviceRegisterOwn registers a device key on the caller's own
	// account.
	ActionDeviceRegisterOwn Action = "device.register-own"
	// ActionDeviceList lists the public device keys of an account.
	ActionDeviceList Action = "device.list"
	// ActionDeviceRevoke removes a device from an account.
	ActionDeviceRevoke Action = "device.revoke"
)

// Audit log and alerts.
const (
	// ActionAuditRead reads and verifies the audit log.
	ActionAuditRead Action = "audit.read"
	// ActionAlertRead lists alerts and subscribes to new ones.
	ActionAlertRead Action = "alert.read"
	// ActionAlertAck acknowledges an alert.
	ActionAlertAck Action = "alert.ack"
)
