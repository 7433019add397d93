package audit

// Event types: the contract between the packages that emit events and the
// detectors that read them. docs/audit.md lists, for each type, what
// ActorID, TargetID and Detail hold. Emit these constants, never literals.
const (
	// TypeLogin is one step of a sign-in: the password or the second
	// factor. The account is TargetID, or ActorID when TargetID is empty
	// (empty when the credentials named no account). A failure (outcome
	// failure) counts towards the failed-login detectors; a success after
	// failures raises login_after_failures.
	TypeLogin = "auth.login"
	// TypeSecondFactor is a TOTP or recovery-code check after the
	// password; ActorID or TargetID is the account. A failure is not
	// counted as a failed sign-in, because the sign-in step that failed
	// is also recorded as an auth.login failure.
	TypeSecondFactor = "auth.second_factor"
	// TypeLockout is an account locked after failed attempts; TargetID is
	// the account.
	TypeLockout = "auth.lockout"
	// TypePasswordChange is a password changed by its owner.
	TypePasswordChange = "auth.password.change"
	// TypePasswordReset is a password set through a reset link.
	TypePasswordReset = "auth.password.reset"
	// TypeSecondFactorEnroll is a TOTP enrolment step; Detail "step".
	TypeSecondFactorEnroll = "auth.totp.enroll"
	// TypeSessionCreate is a session issued; TargetID is the session id.
	TypeSessionCreate = "auth.session.create"
	// TypeSessionRevoke is a session ended by logout, by its owner from
	// another session, by an administrator or by expiry; TargetID is the
	// session id, and Detail "reason" names the cause.
	TypeSessionRevoke = "auth.session.revoke"
	// TypeInvitationCreate and TypeInvitationAccept are account
	// invitations; Detail "role" is the role granted.
	TypeInvitationCreate = "auth.invitation.create"
	TypeInvitationAccept = "auth.invitation.accept"
	// TypeSignup is a patient creating their own account.
	TypeSignup = "auth.signup"

	// TypeAccountCreate is a new account; TargetID is the account,
	// Detail "role" its role.
	TypeAccountCreate = "account.create"
	// TypeRoleChange is a role change; TargetID is the account, Detail
	// "old_role" and "new_role" the roles.
	TypeRoleChange = "account.role_change"
	// TypeAdminAccount is an administrator's action on an account; Detail
	// "action" names it (disable, enable, unlock, reset_second_factor,
	// change_role with "new_role"). The role-change detector reads
	// change_role actions as well as TypeRoleChange.
	TypeAdminAccount = "admin.account"
	// TypeAccountDisable is an account disabled; TargetID is the account.
	TypeAccountDisable = "account.disable"
	// TypeAccountEnable is a disabled account enabled again.
	TypeAccountEnable = "account.enable"

	// TypeDeviceRegister is a device key added to an account; TargetID is
	// the device id, Detail "role" the role of the account owning it.
	TypeDeviceRegister = "device.register"
	// TypeDeviceRevoke is a device key revoked; TargetID is the device id.
	TypeDeviceRevoke = "device.revoke"

	// TypeConsultationCreate is a consultation scheduled; TargetID is the
	// consultation.
	TypeConsultationCreate = "consultation.create"
	// TypeConsultationJoin is a participant entering a consultation or its
	// waiting room; Detail "role" is the actor's role.
	TypeConsultationJoin = "consultation.join"
	// TypeConsultationLeave is a participant leaving or dropping out.
	TypeConsultationLeave = "consultation.leave"
	// TypeConsultationAdmit is a clinician admitting a patient from the
	// waiting room; Detail "role" is the actor's role.
	TypeConsultationAdmit = "consultation.admit"
	// TypeConsultationEnd is a host ending a consultation for everyone.
	TypeConsultationEnd = "consultation.end"
	// TypeConsultationDeny is a host turning a participant away from the
	// waiting room.
	TypeConsultationDeny = "consultation.deny"
	// TypeConsultationRemove is a host removing a participant from the call.
	TypeConsultationRemove = "consultation.remove"
	// TypeSignalingAuth is a WebSocket that failed to authenticate; Detail
	// "reason" says why.
	TypeSignalingAuth = "signaling.auth"

	// TypeMessageSend is an encrypted message accepted; TargetID is the
	// conversation, Detail "message_id", "bytes" (ciphertext size) and
	// "role" (the actor's role).
	TypeMessageSend = "message.send"
	// TypeMessageFetch is messages delivered to a device; Detail "count"
	// and "role".
	TypeMessageFetch = "message.fetch"
	// TypeAttachmentUpload is an encrypted attachment stored; Detail
	// "bytes" is its ciphertext size.
	TypeAttachmentUpload = "attachment.upload"
	// TypeAttachmentDownload is an encrypted attachment downloaded;
	// TargetID is the attachment, Detail "bytes" (decimal ciphertext bytes
	// sent) and "role" (the actor's role).
	TypeAttachmentDownload = "attachment.download"

	// TypeAuditRead is a page of the audit log read through the admin API.
	TypeAuditRead = "audit.read"
	// TypeAuditExport is an export of the audit log; it always raises an
	// alert.
	TypeAuditExport = "audit.export"
	// TypeAuditDropped is written by the audit log itself after events were
	// lost because its queue stayed full; Detail "count" is how many.
	TypeAuditDropped = "audit.dropped"
	// TypeInvalidEvent replaces the type of an event whose type was not a
	// valid dotted name.
	TypeInvalidEvent = "audit.invalid_event"

	// TypeAlertAck is an administrator acknowledging an alert; TargetID is
	// the alert id.
	TypeAlertAck = "admin.alert_ack"
	// TypeAlertList is a denied attempt to list alerts; successful
	// listings are not recorded, because admin screens poll them.
	TypeAlertList = "admin.alert_list"
	// AdminTypePrefix starts the type of every other administrative
	// action ("admin.account_update", "admin.backup"): emitters may add
	// types under it.
	AdminTypePrefix = "admin."

	// TypeServerStart is the server starting; Detail holds its non-secret
	// configuration (listen address, TLS on or off, version).
	TypeServerStart = "server.start"
	// TypeServerStop is an orderly shutdown.
	TypeServerStop = "server.stop"
)

// Detail keys with a meaning to the detectors or the admin screens.
const (
	DetailBytes    = "bytes"    // decimal byte count
	DetailCount    = "count"    // decimal count
	DetailRole     = "role"     // role of the actor, or of the device owner
	DetailOldRole  = "old_role" // role before an account.role_change
	DetailNewRole  = "new_role" // role after an account.role_change
	DetailMethod   = "method"   // second-factor method: totp or recovery
	DetailReason   = "reason"   // short machine-readable reason of a failure
	DetailAction   = "action"   // the action of an admin.account event
	DetailSince    = "since"    // RFC 3339 start time of an audit export
	DetailStripped = "stripped" // set by the log: detail entries it removed
)

// knownTypes are the types counted under their own name in metrics; any
// other type is counted as "other", which keeps label cardinality bounded.
var knownTypes = typeSet(
	TypeLogin, TypeSecondFactor, TypeLockout, TypePasswordChange, TypePasswordReset,
	TypeSecondFactorEnroll, TypeSessionCreate, TypeSessionRevoke, TypeInvitationCreate,
	TypeInvitationAccept, TypeSignup, TypeAccountCreate, TypeRoleChange, TypeAdminAccount,
	TypeAccountDisable, TypeAccountEnable, TypeDeviceRegister, TypeDeviceRevoke, TypeConsultationCreate,
	TypeConsultationJoin, TypeConsultationLeave, TypeConsultationAdmit, TypeConsultationEnd, TypeConsultationDeny,
	TypeConsultationRemove, TypeSignalingAuth, TypeMessageSend,
	TypeMessageFetch, TypeAttachmentUpload, TypeAttachmentDownload, TypeAuditRead,
	TypeAuditExport, TypeAuditDropped, TypeInvalidEvent, TypeAlertAck, TypeAlertList,
	TypeServerStart, TypeServerStop,
)

// phiTypes are the events that reach health information: the clinic-hours
// detector watches them.
var phiTypes = map[string]bool{
	TypeConsultationJoin:   true,
	TypeConsultationAdmit:  true,
	TypeMessageSend:        true,
	TypeMessageFetch:       true,
	TypeAttachmentUpload:   true,
	TypeAttachmentDownload: true,
}

func typeSet(types ...string) map[string]bool {
	m := make(map[string]bool, len(types))
	for _, t := range types {
		m[t] = true
	}
	return m
}

func metricType(t string) string {
	if knownTypes[t] {
		return t
	}
	return "other"
}
