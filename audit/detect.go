package audit

import (
	"strconv"
	"time"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// droppedCooldown is the shortest time between two audit_dropped alerts:
// a sustained overload raises one alert per interval, and every record of
// it carries its count.
const droppedCooldown = 5 * time.Minute

// downloadWindow is the window of the download-volume detector.
const downloadWindow = time.Hour

// detectors hold the in-memory state of every detector. They see each
// committed record once, in sequence order, on the writer goroutine, so
// they need no locking. Their state per account or address is bounded by
// Config.MaxTrackedKeys and is lost on restart.
type detectors struct {
	cfg   *Config
	hours *clinicHours // nil: clinic-hours detector off

	failAccount *windows // failed sign-ins per account
	failAddress *windows // failed sign-ins per client address
	downloads   *windows // attachment bytes per account
	offHours    *windows // cooldown per account only
	dropped     windowState
}

func newDetectors(cfg *Config, hours *clinicHours) *detectors {
	return &detectors{
		cfg:         cfg,
		hours:       hours,
		failAccount: newWindows(cfg.FailedLoginWindow, cfg.MaxTrackedKeys),
		failAddress: newWindows(cfg.FailedLoginWindow, cfg.MaxTrackedKeys),
		downloads:   newWindows(downloadWindow, cfg.MaxTrackedKeys),
		offHours:    newWindows(cfg.OffHoursCooldown, cfg.MaxTrackedKeys),
	}
}

// observe runs every detector over r and returns the alerts it raises.
func (d *detectors) observe(r *Record) []*store.Alert {
	var out []*store.Alert
	add := func(a *store.Alert) {
		if a != nil {
			out = append(out, a)
		}
	}
	switch r.Type {
	case TypeLogin:
		if r.Outcome == OutcomeSuccess {
			add(d.loginSuccess(r))
		} else if r.Outcome == OutcomeFailure {
			add(d.loginFailureAccount(r))
			add(d.loginFailureAddress(r))
		}
	case TypeSecondFactor:
		if r.Outcome == OutcomeSuccess {
			add(d.loginSuccess(r))
		}
	case TypeAttachmentDownload:
		add(d.download(r))
	case TypeDeviceRegister:
		add(d.staffDevice(r))
	case TypeRoleChange:
		add(d.roleChange(r))
	case TypeAdminAccount:
		if r.Detail[DetailAction] == "change_role" {
			add(d.roleChange(r))
		}
	case TypeAuditExport:
		add(d.auditExport(r))
	case TypeAuditDropped:
		add(d.auditDropped(r))
	}
	if phiTypes[r.Type] {
		add(d.offHoursAccess(r))
	}
	return out
}

func newAlert(r *Record, typ string, sev Severity, subject string, detail map[string]string) *store.Alert {
	return &store.Alert{
		Type:     typ,
		Severity: string(sev),
		Time:     r.Time,
		Subject:  subject,
		Target:   r.TargetID,
		Address:  r.Address,
		EventSeq: r.Seq,
		Detail:   detail,
	}
}

// loginAccount is the account a sign-in event is about: the account the
// credentials named, or the actor when the emitter set only that.
func loginAccount(r *Record) string {
	if r.TargetID != "" {
		return r.TargetID
	}
	return r.ActorID
}

func (d *detectors) loginFailureAccount(r *Record) *store.Alert {
	acct := loginAccount(r)
	if acct == "" || d.cfg.FailedLoginThreshold < 0 && d.cfg.LoginAfterFailures < 0 {
		return nil
	}
	s := d.failAccount.get(acct)
	n := d.failAccount.add(s, r.Time, 1)
	if d.cfg.FailedLoginThreshold < 0 || n < int64(d.cfg.FailedLoginThreshold) ||
		!s.cooled(r.Time, d.cfg.FailedLoginWindow) {
		return nil
	}
	s.lastAlert = r.Time
	a := newAlert(r, AlertFailedLoginsAccount, SeverityWarning, acct, countDetail(n, d.cfg.FailedLoginWindow))
	a.Target = ""
	return a
}

func (d *detectors) loginFailureAddress(r *Record) *store.Alert {
	if r.Address == "" || d.cfg.FailedLoginThreshold < 0 {
		return nil
	}
	s := d.failAddress.get(r.Address)
	n := d.failAddress.add(s, r.Time, 1)
	if n < int64(d.cfg.FailedLoginThreshold) || !s.cooled(r.Time, d.cfg.FailedLoginWindow) {
		return nil
	}
	s.lastAlert = r.Time
	a := newAlert(r, AlertFailedLoginsAddress, SeverityWarning, "", countDetail(n, d.cfg.FailedLoginWindow))
	a.Target = ""
	return a
}

func countDetail(n int64, window time.Duration) map[string]string {
	return map[string]string{DetailCount: strconv.FormatInt(n, 10), "window": window.String()}
}

// loginSuccess raises an alert when an account signs in after at least
// LoginAfterFailures failures within the window, and starts its count over.
func (d *detectors) loginSuccess(r *Record) *store.Alert {
	acct := loginAccount(r)
	s := d.failAccount.peek(acct)
	if acct == "" || s == nil {
		return nil
	}
	n := d.failAccount.sum(s, r.Time)
	s.reset()
	if d.cfg.LoginAfterFailures < 0 || n < int64(d.cfg.LoginAfterFailures) {
		return nil
	}
	detail := map[string]string{"failures": strconv.FormatInt(n, 10), "window": d.cfg.FailedLoginWindow.String()}
	a := newAlert(r, AlertLoginAfterFailures, SeverityCritical, acct, detail)
	a.Target = ""
	return a
}

// download sums attachment bytes per account over the last hour and
// raises one alert per hour once the sum exceeds DownloadBytesPerHour.
func (d *detectors) download(r *Record) *store.Alert {
	if d.cfg.DownloadBytesPerHour < 0 || r.Outcome != OutcomeSuccess {
		return nil
	}
	n, err := strconv.ParseInt(r.Detail[DetailBytes], 10, 64)
	if err != nil || n <= 0 {
		return nil
	}
	key := r.ActorID
	if key == "" {
		key = "address:" + r.Address
	}
	s := d.downloads.get(key)
	sum := d.downloads.add(s, r.Time, n)
	if sum <= d.cfg.DownloadBytesPerHour || !s.cooled(r.Time, downloadWindow) {
		return nil
	}
	s.lastAlert = r.Time
	detail := map[string]string{
		DetailBytes: strconv.FormatInt(sum, 10),
		"threshold": strconv.FormatInt(d.cfg.DownloadBytesPerHour, 10),
		"window":    downloadWindow.String(),
	}
	return newAlert(r, AlertDownloadVolume, SeverityWarning, r.ActorID, detail)
}

// isStaff reports whether the role in an event's detail is a staff role.
// A missing or unknown role counts as staff, so an event without a role
// raises alerts rather than passing unseen.
func isStaff(detail map[string]string) bool {
	role, ok := detail[DetailRole]
	if !ok {
		return true
	}
	r, err := policy.ParseRole(role)
	return err != nil || r.IsStaff()
}

// offHoursAccess raises an alert when a staff account reaches health data
// outside clinic hours, at most once per OffHoursCooldown per account.
func (d *detectors) offHoursAccess(r *Record) *store.Alert {
	if d.hours == nil || r.Outcome != OutcomeSuccess || r.ActorID == "" ||
		!isStaff(r.Detail) || d.hours.open(r.Time) {
		return nil
	}
	s := d.offHours.get(r.ActorID)
	if !s.cooled(r.Time, d.cfg.OffHoursCooldown) {
		return nil
	}
	s.lastAlert = r.Time
	detail := map[string]string{
		"event_type": r.Type,
		"local_time": r.Time.In(d.hours.loc).Format("Mon 15:04"),
	}
	if role := r.Detail[DetailRole]; role != "" {
		detail[DetailRole] = role
	}
	return newAlert(r, AlertOffHours, SeverityWarning, r.ActorID, detail)
}

// staffDevice raises an alert for every device key added to a staff
// account: a device added by a compromised server or session could read
// that account's future messages.
func (d *detectors) staffDevice(r *Record) *store.Alert {
	if r.Outcome != OutcomeSuccess || !isStaff(r.Detail) {
		return nil
	}
	detail := map[string]string{}
	if role := r.Detail[DetailRole]; role != "" {
		detail[DetailRole] = role
	}
	return newAlert(r, AlertStaffDevice, SeverityWarning, r.ActorID, detail)
}

// roleChange raises an alert for every role change; a change to or from
// admin is critical.
func (d *detectors) roleChange(r *Record) *store.Alert {
	if r.Outcome != OutcomeSuccess {
		return nil
	}
	oldRole, newRole := r.Detail[DetailOldRole], r.Detail[DetailNewRole]
	sev := SeverityWarning
	if oldRole == string(policy.RoleAdmin) || newRole == string(policy.RoleAdmin) {
		sev = SeverityCritical
	}
	detail := map[string]string{DetailOldRole: oldRole, DetailNewRole: newRole, "changed_by": r.ActorID}
	return newAlert(r, AlertRoleChange, sev, r.TargetID, detail)
}

// auditExport raises an alert for every completed export of the audit log.
func (d *detectors) auditExport(r *Record) *store.Alert {
	if r.Outcome != OutcomeSuccess {
		return nil
	}
	detail := map[string]string{}
	for _, k := range []string{DetailSince, DetailCount} {
		if v, ok := r.Detail[k]; ok {
			detail[k] = v
		}
	}
	return newAlert(r, AlertAuditExport, SeverityWarning, r.ActorID, detail)
}

// auditDropped raises a critical alert when the log itself lost events, at
// most once per droppedCooldown.
func (d *detectors) auditDropped(r *Record) *store.Alert {
	if !d.dropped.cooled(r.Time, droppedCooldown) {
		return nil
	}
	d.dropped.lastAlert = r.Time
	return newAlert(r, AlertAuditDropped, SeverityCritical, "",
		map[string]string{DetailCount: r.Detail[DetailCount]})
}
