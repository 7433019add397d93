package audit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/store"
)

const testWebhookSecret = "0123456789abcdef-webhook-secret"

// receiver is a webhook endpoint on loopback that checks signatures,
// fails the first failFirst requests and can block until released.
type receiver struct {
	t         *testing.T
	failFirst int
	block     chan struct{} // nil: respond at once

	mu       sync.Mutex
	calls    int
	payloads []WebhookPayload
	ids      []string
	badSigs  int
	arrived  chan struct{} // receives after each accepted delivery
	received chan struct{} // receives after each request, accepted or not
}

func newReceiver(t *testing.T, failFirst int) (*receiver, *httptest.Server) {
	r := &receiver{t: t, failFirst: failFirst,
		arrived: make(chan struct{}, 100), received: make(chan struct{}, 100)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read failed", http.StatusBadRequest)
		return
	}
	if rv.block != nil {
		select {
		case <-rv.block:
		case <-r.Context().Done():
			return
		}
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	defer func() { rv.received <- struct{}{} }()
	rv.calls++
	err = VerifyWebhookSignature([]byte(testWebhookSecret), r.Header.Get(SignatureHeader), body,
		time.Now(), time.Minute)
	if err != nil {
		rv.badSigs++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rv.calls <= rv.failFirst {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	rv.payloads = append(rv.payloads, p)
	rv.ids = append(rv.ids, r.Header.Get(AlertIDHeader))
	w.WriteHeader(http.StatusNoContent)
	rv.arrived <- struct{}{}
}

func (rv *receiver) waitArrivals(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(testDeadline)
	for range n {
		select {
		case <-rv.arrived:
		case <-deadline:
			t.Fatalf("webhook deliveries did not arrive within %s", testDeadline)
		}
	}
}

func webhookConfig(url string) Config {
	return Config{
		WebhookURL:        url,
		WebhookSecret:     testWebhookSecret,
		WebhookMinBackoff: 5 * time.Millisecond,
		WebhookMaxBackoff: 20 * time.Millisecond,
	}
}

func exportEvent() Event {
	return Event{Type: TypeAuditExport, ActorID: "u-admin", Outcome: OutcomeSuccess}
}

// waitDelivered polls the store until alert id is marked delivered.
func waitDelivered(t *testing.T, db *store.DB, id uint64) store.Alert {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for time.Now().Before(deadline) {
		a, err := db.Alert(id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Delivered {
			return a
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("alert %d not marked delivered within %s", id, testDeadline)
	return store.Alert{}
}

func TestWebhookDeliversSignedAlert(t *testing.T) {
	rv, srv := newReceiver(t, 0)
	db := openDB(t)
	l := newTestLog(t, db, webhookConfig(srv.URL), Deps{})
	l.Record(context.Background(), exportEvent())
	rv.waitArrivals(t, 1)

	rv.mu.Lock()
	p, id, bad := rv.payloads[0], rv.ids[0], rv.badSigs
	rv.mu.Unlock()
	if bad != 0 {
		t.Errorf("got %d requests with a bad signature, want 0", bad)
	}
	if p.Kind != "bedside.alert" || p.Alert.Type != AlertAuditExport || p.Alert.Subject != "u-admin" {
		t.Errorf("got payload %+v, want an audit_export alert about u-admin", p)
	}
	if id != p.Alert.ID || id == "" {
		t.Errorf("got %s %q, want the alert id %q", AlertIDHeader, id, p.Alert.ID)
	}
	n, _ := strconv.ParseUint(id, 10, 64)
	if a := waitDelivered(t, db, n); a.DeliveredAt.IsZero() {
		t.Error("delivered alert has no delivery time")
	}
	if pending, _ := db.PendingWebhookAlerts(10); len(pending) != 0 {
		t.Errorf("got %d pending alerts after delivery, want 0", len(pending))
	}
}

func TestWebhookRetriesUntilAccepted(t *testing.T) {
	rv, srv := newReceiver(t, 3)
	db := openDB(t)
	l := newTestLog(t, db, webhookConfig(srv.URL), Deps{})
	l.Record(context.Background(), exportEvent())
	rv.waitArrivals(t, 1)
	waitDelivered(t, db, 1)

	rv.mu.Lock()
	calls := rv.calls
	rv.mu.Unlock()
	if calls != 4 {
		t.Errorf("got %d requests, want 4: three failures and one success", calls)
	}
	if got := counterValue(t, l.met.failures); got != 3 {
		t.Errorf("got %v failures counted, want 3", got)
	}
	if got := counterValue(t, l.met.deliveries); got != 1 {
		t.Errorf("got %v deliveries counted, want 1", got)
	}
}

func TestSlowWebhookDoesNotBlockRecord(t *testing.T) {
	rv, srv := newReceiver(t, 0)
	rv.block = make(chan struct{})
	t.Cleanup(func() { close(rv.block) }) // runs after the log's Close
	db := openDB(t)
	cfg := webhookConfig(srv.URL)
	cfg.WebhookTimeout = time.Minute
	l := newTestLog(t, db, cfg, Deps{})

	for i := range 20 {
		l.Record(context.Background(), Event{Type: TypeRoleChange, ActorID: "u-admin",
			TargetID: "u-" + strconv.Itoa(i), Outcome: OutcomeSuccess,
			Detail: map[string]string{DetailOldRole: "patient", DetailNewRole: "nurse"}})
	}
	for i := range 1000 {
		l.Record(context.Background(), loginEvent(i))
	}
	flush(t, l) // fails the test if the stuck receiver held up the writer

	if got := len(allAlerts(t, db)); got != 20 {
		t.Errorf("got %d stored alerts, want 20", got)
	}
	if pending, _ := db.PendingWebhookAlerts(100); len(pending) != 20 {
		t.Errorf("got %d alerts pending delivery, want 20", len(pending))
	}
}

func TestWebhookRedeliversAfterRestart(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	t.Cleanup(down.Close)
	db := openDB(t)
	first, err := New(webhookConfig(down.URL), Deps{DB: db, SigningKey: testSigningKey()})
	if err != nil {
		t.Fatal(err)
	}
	first.Record(context.Background(), exportEvent())
	flush(t, first)
	closeLog(t, first)
	if pending, _ := db.PendingWebhookAlerts(10); len(pending) != 1 {
		t.Fatalf("got %d pending alerts after the outage, want 1", len(pending))
	}

	rv, srv := newReceiver(t, 0)
	newTestLog(t, db, webhookConfig(srv.URL), Deps{})
	rv.waitArrivals(t, 1)
	waitDelivered(t, db, 1)
}

func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	var mu sync.Mutex
	var redirected, target int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/elsewhere" {
			target++
			w.WriteHeader(http.StatusNoContent)
			return
		}
		redirected++
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	db := openDB(t)
	l := newTestLog(t, db, webhookConfig(srv.URL+"/hook"), Deps{})
	l.Record(context.Background(), exportEvent())

	deadline := time.Now().Add(testDeadline)
	for {
		mu.Lock()
		n := redirected
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d attempts within %s, want 3", n, testDeadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
	closeLog(t, l)
	mu.Lock()
	defer mu.Unlock()
	if target != 0 {
		t.Errorf("the redirect target got %d requests, want 0", target)
	}
	if pending, _ := db.PendingWebhookAlerts(10); len(pending) != 1 {
		t.Errorf("got %d pending alerts, want 1 still pending", len(pending))
	}
}

func TestVerifyWebhookSignature(t *testing.T) {
	secret := []byte(testWebhookSecret)
	body := []byte(`{"kind":"bedside.alert"}`)
	now := time.Unix(1_700_000_000, 0)
	good := SignWebhook(secret, now, body)
	mac := strings.SplitN(good, "v1=", 2)[1]
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		ok     bool
	}{
		{"valid", secret, good, body, true},
		{"valid among several v1", secret, "t=1700000000,v1=" + strings.Repeat("0", 64) + ",v1=" + mac, body, true},
		{"spaces after commas", secret, "t=1700000000, v1=" + mac, body, true},
		{"other secret", []byte("another-secret-of-16+"), good, body, false},
		{"changed body", secret, good, []byte(`{"kind":"bedside.alarm"}`), false},
		{"stale", secret, SignWebhook(secret, now.Add(-10*time.Minute), body), body, false},
		{"future", secret, SignWebhook(secret, now.Add(10*time.Minute), body), body, false},
		{"changed timestamp", secret, strings.Replace(good, "t=1700000000", "t=1700000001", 1), body, false},
		{"no v1", secret, "t=1700000000", body, false},
		{"no t", secret, "v1=" + mac, body, false},
		{"repeated t", secret, "t=1700000000,t=1700000000,v1=" + mac, body, false},
		{"short mac", secret, "t=1700000000,v1=abcd", body, false},
		{"not key=value", secret, "garbage", body, false},
		{"empty", secret, "", body, false},
		{"too long", secret, good + "," + strings.Repeat("x=y,", 300) + "x=y", body, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhookSignature(tc.secret, tc.header, tc.body, now, 5*time.Minute)
			if (err == nil) != tc.ok {
				t.Errorf("got %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadSignature) {
				t.Errorf("got %v, want it to wrap ErrBadSignature", err)
			}
		})
	}
}

func FuzzVerifyWebhookSignature(f *testing.F) {
	secret := []byte(testWebhookSecret)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"kind":"bedside.alert"}`)
	f.Add(SignWebhook(secret, now, body), body)
	f.Add("t=1700000000,v1=", []byte{})
	f.Add("t=-1,v1=zz,,=", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		err := VerifyWebhookSignature(secret, header, b, now, 5*time.Minute)
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("got %v, want it to wrap ErrBadSignature", err)
		}
		// A header that verifies must be bound to the secret.
		if err == nil && VerifyWebhookSignature([]byte("another-secret-of-16+"), header, b, now, 5*time.Minute) == nil {
			t.Fatalf("header %q verified under two secrets", header)
		}
	})
}
