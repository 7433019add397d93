package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

var (
	adminWith2FA    = &policy.Actor{UserID: "u-admin", Role: policy.RoleAdmin, SessionID: "s1", SecondFactor: true}
	adminWithout2FA = &policy.Actor{UserID: "u-admin2", Role: policy.RoleAdmin, SessionID: "s2"}
	clinician       = &policy.Actor{UserID: "u-clin", Role: policy.RoleClinician, SessionID: "s3", SecondFactor: true}
	patient         = &policy.Actor{UserID: "u-pat", Role: policy.RolePatient, SessionID: "s4"}
)

type apiFixture struct {
	l      *Log
	db     *store.DB
	clock  *fakeClock
	router *api.Router
}

func newAPIFixture(t *testing.T) *apiFixture {
	db := openDB(t)
	clock := newClock(wednesday10)
	l := newTestLog(t, db, detectorConfig(), Deps{Now: clock.Now})
	rt := api.NewRouter(nil)
	l.Register(rt)
	return &apiFixture{l: l, db: db, clock: clock, router: rt}
}

// do serves one request as actor (nil: unauthenticated).
func (f *apiFixture) do(t *testing.T, actor *policy.Actor, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = "192.0.2.44:51000"
	if actor != nil {
		req = req.WithContext(policy.WithActor(req.Context(), *actor))
	}
	w := httptest.NewRecorder()
	f.router.ServeHTTP(w, req)
	return w
}

func decodeBody[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	return v
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	return decodeBody[struct {
		Error struct{ Code string } `json:"error"`
	}](t, w).Error.Code
}

func TestAdminEndpointsDenyByDefault(t *testing.T) {
	f := newAPIFixture(t)
	f.l.Record(context.Background(), exportEvent()) // one alert to acknowledge
	flush(t, f.l)
	routes := []struct{ method, path, eventType string }{
		{"GET", "/api/v1/admin/alerts", TypeAlertList},
		{"POST", "/api/v1/admin/alerts/1/ack", TypeAlertAck},
		{"GET", "/api/v1/admin/audit", TypeAuditRead},
		{"GET", "/api/v1/admin/audit/export", TypeAuditExport},
	}
	callers := []struct {
		name   string
		actor  *policy.Actor
		status int
		code   string
	}{
		{"anonymous", nil, http.StatusUnauthorized, "unauthenticated"},
		{"patient", patient, http.StatusForbidden, "forbidden"},
		{"clinician", clinician, http.StatusForbidden, "forbidden"},
		{"admin without second factor", adminWithout2FA, http.StatusForbidden, "second_factor_required"},
		{"admin with second factor", adminWith2FA, http.StatusOK, ""},
	}
	for _, rt := range routes {
		for _, c := range callers {
			t.Run(rt.method+" "+rt.path+" as "+c.name, func(t *testing.T) {
				w := f.do(t, c.actor, rt.method, rt.path, "")
				if w.Code != c.status {
					t.Errorf("got status %d, want %d: %s", w.Code, c.status, w.Body.String())
				}
				if c.code != "" {
					if got := errorCode(t, w); got != c.code {
						t.Errorf("got code %q, want %q", got, c.code)
					}
				}
			})
		}
	}
	// Every denied call is in the log with outcome denied.
	flush(t, f.l)
	denied := map[string]int{}
	for _, r := range readAll(t, f.db) {
		if r.Outcome == OutcomeDenied {
			denied[r.Type]++
		}
	}
	for _, rt := range routes {
		if denied[rt.eventType] != 4 {
			t.Errorf("got %d denied %s records, want 4", denied[rt.eventType], rt.eventType)
		}
	}
}

func TestListAndAcknowledgeAlerts(t *testing.T) {
	f := newAPIFixture(t)
	for i := range 3 {
		f.l.Record(context.Background(), Event{Type: TypeDeviceRegister, ActorID: "u-" + strconv.Itoa(i),
			TargetID: "d-" + strconv.Itoa(i), Outcome: OutcomeSuccess,
			Detail: map[string]string{DetailRole: "nurse"}})
	}
	flush(t, f.l)

	w := f.do(t, adminWith2FA, "GET", "/api/v1/admin/alerts?unacknowledged=true", "")
	list := decodeBody[alertList](t, w)
	if w.Code != http.StatusOK || len(list.Alerts) != 3 {
		t.Fatalf("got status %d with %d alerts, want 200 with 3", w.Code, len(list.Alerts))
	}
	if list.Alerts[0].ID != "3" || list.Alerts[0].Type != AlertStaffDevice {
		t.Errorf("got first alert %+v, want the newest staff_device alert, id 3", list.Alerts[0])
	}

	f.clock.Advance(time.Minute)
	w = f.do(t, adminWith2FA, "POST", "/api/v1/admin/alerts/2/ack", "")
	acked := decodeBody[Alert](t, w)
	if w.Code != http.StatusOK || acked.AckedBy != "u-admin" || !acked.AckedAt.Equal(f.clock.Now()) {
		t.Fatalf("ack: got status %d and %+v, want 200 acknowledged by u-admin now", w.Code, acked)
	}
	f.clock.Advance(time.Minute)
	w = f.do(t, adminWith2FA, "POST", "/api/v1/admin/alerts/2/ack", "{}")
	again := decodeBody[Alert](t, w)
	if w.Code != http.StatusOK || !again.AckedAt.Equal(acked.AckedAt) {
		t.Errorf("second ack: got status %d, acked at %s; want 200 keeping %s", w.Code, again.AckedAt, acked.AckedAt)
	}

	list = decodeBody[alertList](t, f.do(t, adminWith2FA, "GET", "/api/v1/admin/alerts?unacknowledged=true", ""))
	if len(list.Alerts) != 2 || list.Alerts[0].ID != "3" || list.Alerts[1].ID != "1" {
		t.Errorf("got unacknowledged %+v, want ids 3 and 1", list.Alerts)
	}
	page := decodeBody[alertList](t, f.do(t, adminWith2FA, "GET", "/api/v1/admin/alerts?limit=2", ""))
	if len(page.Alerts) != 2 || page.NextBefore != "2" {
		t.Fatalf("got page %+v, want 2 alerts and next_before 2", page)
	}
	page = decodeBody[alertList](t, f.do(t, adminWith2FA, "GET", "/api/v1/admin/alerts?limit=2&before=2", ""))
	if len(page.Alerts) != 1 || page.Alerts[0].ID != "1" || page.NextBefore != "" {
		t.Errorf("got second page %+v, want alert 1 and no next_before", page)
	}

	flush(t, f.l)
	acks := 0
	for _, r := range readAll(t, f.db) {
		if r.Type == TypeAlertAck && r.Outcome == OutcomeSuccess && r.TargetID == "2" && r.ActorID == "u-admin" {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("got %d alert_ack records, want 1 for the first acknowledgement", acks)
	}
}

func TestAdminEndpointsRejectBadInput(t *testing.T) {
	f := newAPIFixture(t)
	tests := []struct {
		method, target, body string
		status               int
		code                 string
	}{
		{"POST", "/api/v1/admin/alerts/abc/ack", "", http.StatusBadRequest, "invalid_parameter"},
		{"POST", "/api/v1/admin/alerts/0/ack", "", http.StatusBadRequest, "invalid_parameter"},
		{"POST", "/api/v1/admin/alerts/99/ack", "", http.StatusNotFound, "not_found"},
		{"POST", "/api/v1/admin/alerts/1/ack", `{"note":"x"}`, http.StatusBadRequest, "malformed_json"},
		{"GET", "/api/v1/admin/alerts?limit=0", "", http.StatusBadRequest, "invalid_parameter"},
		{"GET", "/api/v1/admin/alerts?limit=501", "", http.StatusBadRequest, "invalid_parameter"},
		{"GET", "/api/v1/admin/alerts?unacknowledged=maybe", "", http.StatusBadRequest, "invalid_parameter"},
		{"GET", "/api/v1/admin/alerts?before=-1", "", http.StatusBadRequest, "invalid_parameter"},
		{"GET", "/api/v1/admin/audit?since=yesterday", "", http.StatusBadRequest, "invalid_parameter"},
		{"GET", "/api/v1/admin/audit?after=x", "", http.StatusBadRequest, "invalid_parameter"},
		{"GET", "/api/v1/admin/audit?limit=1001", "", http.StatusBadRequest, "invalid_parameter"},
		{"GET", "/api/v1/admin/audit/export?since=2025-13-01", "", http.StatusBadRequest, "invalid_parameter"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			w := f.do(t, adminWith2FA, tc.method, tc.target, tc.body)
			if w.Code != tc.status {
				t.Errorf("got status %d, want %d: %s", w.Code, tc.status, w.Body.String())
			}
			if got := errorCode(t, w); got != tc.code {
				t.Errorf("got code %q, want %q", got, tc.code)
			}
		})
	}
}

func TestReadAuditPages(t *testing.T) {
	f := newAPIFixture(t)
	for i := range 25 {
		f.clock.Advance(time.Minute)
		f.l.Record(context.Background(), loginEvent(i))
	}
	flush(t, f.l)

	var got []Record
	after := ""
	for range 10 {
		w := f.do(t, adminWith2FA, "GET", "/api/v1/admin/audit?limit=10&since=2025-03-12T10:05:00Z"+after, "")
		if w.Code != http.StatusOK {
			t.Fatalf("got status %d: %s", w.Code, w.Body.String())
		}
		p := decodeBody[Page](t, w)
		got = append(got, p.Records...)
		if p.NextAfter == 0 {
			break
		}
		after = "&after=" + strconv.FormatUint(p.NextAfter, 10)
	}
	// Records 5 to 25 are at or after 10:05; audit.read records of the
	// earlier pages may follow them.
	var logins []uint64
	for _, r := range got {
		if r.Type == TypeLogin {
			logins = append(logins, r.Seq)
		}
	}
	if len(logins) != 21 || logins[0] != 5 || logins[20] != 25 {
		t.Errorf("got login records %v, want 5 to 25", logins)
	}
}

func TestExportThroughAPIRaisesAlert(t *testing.T) {
	f := newAPIFixture(t)
	for i := range 5 {
		f.l.Record(context.Background(), loginEvent(i))
	}
	flush(t, f.l)

	w := f.do(t, adminWith2FA, "GET", "/api/v1/admin/audit/export", "")
	if w.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("got Content-Type %q, want application/x-ndjson", ct)
	}
	sc := bufio.NewScanner(w.Body)
	lines := 0
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		lines++
		if r.Seq != uint64(lines) {
			t.Errorf("line %d has seq %d", lines, r.Seq)
		}
	}
	if lines != 5 {
		t.Errorf("got %d lines, want 5", lines)
	}

	flush(t, f.l)
	alerts := allAlerts(t, f.db)
	if got := alertCounts(alerts); got[AlertAuditExport] != 1 || len(got) != 1 {
		t.Fatalf("got alerts %v, want one audit_export", got)
	}
	if a := alerts[0]; a.Subject != "u-admin" || a.Detail[DetailCount] != "5" || a.Address != "192.0.2.44" {
		t.Errorf("got alert %+v, want subject u-admin, count 5, address 192.0.2.44", a)
	}
}

// damageRecord flips a byte inside the stored hash of record seq.
func damageRecord(t *testing.T, db *store.DB, seq uint64) {
	t.Helper()
	err := db.Bolt().Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketAudit)
		v := bytes.Clone(b.Get(store.AuditKey(seq)))
		v[len(v)-1] ^= 1
		v[0] = 9 // unknown version: the record no longer decodes
		return b.Put(store.AuditKey(seq), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestExportOfDamagedLogFails(t *testing.T) {
	f := newAPIFixture(t)
	for i := range 3 {
		f.l.Record(context.Background(), loginEvent(i))
	}
	flush(t, f.l)
	damageRecord(t, f.db, 2)

	w := f.do(t, adminWith2FA, "GET", "/api/v1/admin/audit/export", "")
	if w.Code != http.StatusInternalServerError || errorCode(t, w) != "internal" {
		t.Errorf("got status %d %s, want 500 internal before any byte", w.Code, w.Body.String())
	}
	flush(t, f.l)
	if got := alertCounts(allAlerts(t, f.db)); got[AlertAuditExport] != 0 {
		t.Errorf("got alerts %v, want no audit_export alert for a failed export", got)
	}
}

func TestExportFailingMidwayAbortsConnection(t *testing.T) {
	f := newAPIFixture(t)
	const n = 1500 // well over the 64 KiB written before the damage
	for i := range n {
		f.l.Record(context.Background(), loginEvent(i))
	}
	flush(t, f.l)
	damageRecord(t, f.db, n-10)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.router.ServeHTTP(w, r.WithContext(policy.WithActor(r.Context(), *adminWith2FA)))
	}))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/api/v1/admin/audit/export")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200 before the damage", resp.StatusCode)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Error("reading the cut export succeeded, want an error")
	}
}
