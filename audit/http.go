package audit

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Paging limits of the alert list.
const (
	defaultAlertPage = 100
	maxAlertPage     = 500
)

// Register adds the admin endpoints of the audit log and alerts to rt
// (docs/api.md, "Audit"). Every endpoint requires an administrator signed
// in with a second factor (policy.ActionAuditRead, ActionAlertRead and
// ActionAlertAck).
func (l *Log) Register(rt *api.Router) {
	rt.HandleFunc("GET /api/v1/admin/alerts", l.handleListAlerts)
	rt.HandleFunc("POST /api/v1/admin/alerts/{id}/ack", l.handleAckAlert)
	rt.HandleFunc("GET /api/v1/admin/audit", l.handleReadAudit)
	rt.HandleFunc("GET /api/v1/admin/audit/export", l.handleExportAudit)
}

// authorize is the single access decision for every endpoint of this
// package: the access policy's rule for action on the audit log or the
// alerts, a collection that only administrators with a second factor
// reach. Denials answer api.Unauthorized, policy.SecondFactorError or
// policy.ForbiddenError, the same bodies as every other route.
func authorize(a policy.Actor, action policy.Action) error {
	kind := policy.KindAudit
	if action != policy.ActionAuditRead {
		kind = policy.KindAlert
	}
	return policy.Decide(a, action, policy.Resource{Kind: kind}, policy.RelNone).Err()
}

// admit runs authorize for r and, when it denies, records the attempt as
// an event of type eventType with outcome denied and writes the error.
func (l *Log) admit(w http.ResponseWriter, r *http.Request, action policy.Action, eventType string) (policy.Actor, bool) {
	a, _ := policy.ActorFrom(r.Context())
	if err := authorize(a, action); err != nil {
		l.Record(r.Context(), Event{
			Type: eventType, ActorID: a.UserID, Address: api.ClientAddr(r), Outcome: OutcomeDenied,
		})
		api.WriteError(w, r, l.log, err)
		return policy.Actor{}, false
	}
	return a, true
}

type alertList struct {
	Alerts []Alert `json:"alerts"`
	// NextBefore is the before parameter of the next page, absent at the
	// end.
	NextBefore string `json:"next_before,omitempty"`
}

func (l *Log) handleListAlerts(w http.ResponseWriter, r *http.Request) {
	if _, ok := l.admit(w, r, policy.ActionAlertRead, TypeAlertList); !ok {
		return
	}

	q := r.URL.Query()
	var query store.AlertQuery
	var err error
	if query.Unacknowledged, err = boolParam(q.Get("unacknowledged")); err != nil {
		api.WriteError(w, r, l.log, api.BadRequest("invalid_parameter",
			"unacknowledged must be true or false"))
		return
	}
	if query.Before, err = uintParam(q.Get("before")); err != nil {
		api.WriteError(w, r, l.log, api.BadRequest("invalid_parameter",
			"before must be an alert id from next_before"))
		return
	}
	if query.Limit, err = limitParam(q.Get("limit"), defaultAlertPage, maxAlertPage); err != nil {
		api.WriteError(w, r, l.log, err)
		return
	}

	stored, err := l.db.ListAlerts(query)
	if err != nil {
		api.WriteError(w, r, l.log, err)
		return
	}
	out := alertList{Alerts: make([]Alert, 0, len(stored))}
	for _, a := range stored {
		out.Alerts = append(out.Alerts, alertFromStore(a))
	}
	if len(stored) == query.Limit {
		out.NextBefore = strconv.FormatUint(stored[len(stored)-1].ID, 10)
	}
	api.WriteJSON(w, http.StatusOK, out)
}

func (l *Log) handleAckAlert(w http.ResponseWriter, r *http.Request) {
	actor, ok := l.admit(w, r, policy.ActionAlertAck, TypeAlertAck)
	if !ok {
		return
	}
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		api.WriteError(w, r, l.log, api.BadRequest("invalid_parameter",
			"the alert id must be a positive integer from the alert list"))
		return
	}
	// The body is optional; when present it must be an empty JSON object.
	if r.ContentLength != 0 {
		var empty struct{}
		if err := api.DecodeJSON(w, r, 0, &empty); err != nil {
			api.WriteError(w, r, l.log, err)
			return
		}
	}
	stored, changed, err := l.db.AckAlert(id, actor.UserID, l.now())
	if errors.Is(err, store.ErrNotFound) {
		api.WriteError(w, r, l.log, api.NotFound())
		return
	}
	if err != nil {
		api.WriteError(w, r, l.log, err)
		return
	}
	if changed {
		l.Record(r.Context(), Event{
			Type: TypeAlertAck, ActorID: actor.UserID, TargetID: strconv.FormatUint(id, 10),
			Address: api.ClientAddr(r), Outcome: OutcomeSuccess,
		})
	}
	api.WriteJSON(w, http.StatusOK, alertFromStore(stored))
}

func (l *Log) handleReadAudit(w http.ResponseWriter, r *http.Request) {
	actor, ok := l.admit(w, r, policy.ActionAuditRead, TypeAuditRead)
	if !ok {
		return
	}

	q := r.URL.Query()
	var query Query
	var err error
	if query.Since, err = timeParam(q.Get("since")); err != nil {
		api.WriteError(w, r, l.log, err)
		return
	}
	if query.After, err = uintParam(q.Get("after")); err != nil {
		api.WriteError(w, r, l.log, api.BadRequest("invalid_parameter",
			"after must be a sequence number from next_after"))
		return
	}
	if query.Limit, err = limitParam(q.Get("limit"), DefaultPageSize, MaxPageSize); err != nil {
		api.WriteError(w, r, l.log, err)
		return
	}

	page, err := ReadRecords(l.db, query)
	if err != nil {
		api.WriteError(w, r, l.log, err)
		return
	}
	if page.Records == nil {
		page.Records = []Record{}
	}
	l.Record(r.Context(), Event{
		Type: TypeAuditRead, ActorID: actor.UserID, Address: api.ClientAddr(r), Outcome: OutcomeSuccess,
		Detail: map[string]string{
			DetailCount: strconv.Itoa(len(page.Records)),
			"after":     strconv.FormatUint(query.After, 10),
		},
	})
	api.WriteJSON(w, http.StatusOK, page)
}

// handleExportAudit streams the log as JSON lines. The export is recorded
// when it ends, with its outcome and record count, and a successful one
// raises the audit_export alert. An export that fails midway aborts the
// connection, so the client sees an error rather than a short file.
func (l *Log) handleExportAudit(w http.ResponseWriter, r *http.Request) {
	actor, ok := l.admit(w, r, policy.ActionAuditRead, TypeAuditExport)
	if !ok {
		return
	}
	since, err := timeParam(r.URL.Query().Get("since"))
	if err != nil {
		api.WriteError(w, r, l.log, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `attachment; filename="bedside-audit.jsonl"`)
	cw := &countingWriter{w: w}
	n, err := export(r.Context(), l.db, cw, since)
	switch {
	case err != nil && cw.n == 0:
		// Nothing was sent yet, so the client can still get an error.
		h.Del("Content-Disposition")
		api.WriteError(w, r, l.log, err)
	case cw.n == 0:
		w.WriteHeader(http.StatusOK) // an empty export
	}

	detail := map[string]string{DetailCount: strconv.Itoa(n)}
	if !since.IsZero() {
		detail[DetailSince] = since.UTC().Format(time.RFC3339)
	}
	outcome := OutcomeSuccess
	if err != nil {
		outcome = OutcomeFailure
		l.log.Warn("audit export ended early", slog.String("err", err.Error()))
	}
	l.Record(r.Context(), Event{
		Type: TypeAuditExport, ActorID: actor.UserID, Address: api.ClientAddr(r),
		Outcome: outcome, Detail: detail,
	})
	if err != nil && cw.n > 0 {
		// Abort the connection: ending the response normally would make
		// a cut export look complete.
		panic(http.ErrAbortHandler)
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func boolParam(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}

func uintParam(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func limitParam(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, api.BadRequest("invalid_parameter",
			"limit must be an integer from 1 to "+strconv.Itoa(max))
	}
	return n, nil
}

func timeParam(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, api.BadRequest("invalid_parameter",
			"since must be an RFC 3339 time such as 2025-01-31T08:00:00Z")
	}
	return t, nil
}
