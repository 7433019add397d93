package clinic

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Bounds of billing fields.
const (
	maxServiceCode  = 32
	maxPayerRef     = 128
	maxAmountMinor  = 1_000_000_000_000 // 10^12 minor units
	billingLocation = "billing/%s/%s"   // consultation id, entry id
)

// BillingFields are the sensitive fields of a billing entry, sealed
// together at rest.
type BillingFields struct {
	// ServiceCode is the clinic's tariff code, 1 to 32 characters from
	// A-Z, a-z, 0-9, '.', '-' and '_'.
	ServiceCode string `json:"service_code"`
	// AmountMinor is the amount in the currency's minor unit (cents), 0 to
	// 10^12.
	AmountMinor int64 `json:"amount_minor"`
	// Currency is an ISO 4217 code such as "EUR".
	Currency string `json:"currency"`
	// PayerReference identifies the insurer or payer account, 1 to 128
	// printable characters.
	PayerReference string `json:"payer_reference"`
}

// BillingEntry is one billable item of a consultation, as the API shows it.
type BillingEntry struct {
	ID             string `json:"id"`
	ConsultationID string `json:"consultation_id"`
	PatientID      string `json:"patient_id"`
	BillingFields
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// billingRequest is the body that creates or corrects an entry.
// AmountMinor is a pointer so that a missing or null amount is rejected
// instead of becoming a charge of 0.
type billingRequest struct {
	ConsultationID string `json:"consultation_id,omitempty"`
	ServiceCode    string `json:"service_code"`
	AmountMinor    *int64 `json:"amount_minor"`
	Currency       string `json:"currency"`
	PayerReference string `json:"payer_reference"`
}

// fields returns the request's billing fields after validating them.
func (r billingRequest) fields() (BillingFields, error) {
	if r.AmountMinor == nil {
		return BillingFields{}, invalid("amount_minor is missing: give the amount in the currency's minor unit, 0 for no charge")
	}
	f := BillingFields{
		ServiceCode:    r.ServiceCode,
		AmountMinor:    *r.AmountMinor,
		Currency:       r.Currency,
		PayerReference: r.PayerReference,
	}
	return f, f.validate()
}

type billingList struct {
	ConsultationID string         `json:"consultation_id"`
	Entries        []BillingEntry `json:"entries"`
}

func (f BillingFields) validate() error {
	switch {
	case !validCode(f.ServiceCode):
		return invalid("service_code must be 1 to %d characters from A-Z, a-z, 0-9, '.', '-' and '_'", maxServiceCode)
	case f.AmountMinor < 0 || f.AmountMinor > maxAmountMinor:
		return invalid("amount_minor must be between 0 and %d minor units", int64(maxAmountMinor))
	case !validCurrency(f.Currency):
		return invalid("currency must be an ISO 4217 code of three capital letters, such as EUR")
	case !validPayerRef(f.PayerReference):
		return invalid("payer_reference must be 1 to %d printable characters", maxPayerRef)
	}
	return nil
}

func validCode(s string) bool {
	if len(s) == 0 || len(s) > maxServiceCode {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(validID(string(c)) || c == '.') {
			return false
		}
	}
	return true
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func validPayerRef(s string) bool {
	if s == "" || len(s) > maxPayerRef || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func billingResource(consultationID string) policy.Resource {
	return policy.Resource{Kind: policy.KindBilling, ConsultationID: consultationID}
}

// authorizeBilling checks action on the billing entries of the
// consultation named by the path, which must exist.
func (s *Service) authorizeBilling(r *http.Request, actor policy.Actor, action policy.Action) (*store.Consultation, error) {
	id, err := pathID(r, "id")
	if err != nil {
		id = "invalid-id"
	}
	if err := s.Authorize(r.Context(), actor, action, billingResource(id)); err != nil {
		return nil, err
	}
	return s.loadConsultation(id)
}

func (s *Service) handleListBilling(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	c, err := s.authorizeBilling(r, actor, policy.ActionBillingRead)
	if err != nil {
		return err
	}
	entries, err := s.billingEntries(c.ID)
	if err != nil {
		return err
	}
	s.record(r.Context(), "billing.read", actor, c.ID, audit.OutcomeSuccess,
		map[string]string{"entries": strconv.Itoa(len(entries))})
	api.WriteJSON(w, http.StatusOK, billingList{ConsultationID: c.ID, Entries: entries})
	return nil
}

func (s *Service) handleCreateBilling(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	var req billingRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	c, err := s.authorizeBilling(r, actor, policy.ActionBillingWrite)
	if err != nil {
		return err
	}
	if err := matchID(req.ConsultationID, c.ID); err != nil {
		return err
	}
	fields, err := req.fields()
	if err != nil {
		return err
	}
	existing, err := s.db.BillingEntries(c.ID)
	if err != nil {
		return err
	}
	if len(existing) >= s.cfg.MaxBillingEntries {
		return invalid("a consultation has at most %d billing entries: correct an existing one", s.cfg.MaxBillingEntries)
	}
	now := s.now()
	e := &store.BillingEntry{ID: newID(), ConsultationID: c.ID, PatientID: c.PatientID,
		CreatedBy: actor.UserID, CreatedAt: now, UpdatedBy: actor.UserID, UpdatedAt: now}
	if e.Sealed, err = s.sealBilling(e, fields); err != nil {
		return err
	}
	if err := s.db.CreateBillingEntry(e); err != nil {
		return err
	}
	s.record(r.Context(), "billing.written", actor, c.ID, audit.OutcomeSuccess,
		map[string]string{"operation": "create", "entry": e.ID})
	api.WriteJSON(w, http.StatusCreated, viewBilling(e, fields))
	return nil
}

func (s *Service) handleUpdateBilling(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	var req billingRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	c, err := s.authorizeBilling(r, actor, policy.ActionBillingWrite)
	if err != nil {
		return err
	}
	if err := matchID(req.ConsultationID, c.ID); err != nil {
		return err
	}
	entryID, err := pathID(r, "entry")
	if err != nil {
		return err
	}
	fields, err := req.fields()
	if err != nil {
		return err
	}
	e, err := s.db.UpdateBillingEntry(c.ID, entryID, func(e *store.BillingEntry) error {
		var err error
		e.UpdatedBy, e.UpdatedAt = actor.UserID, s.now()
		e.Sealed, err = s.sealBilling(e, fields)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	s.record(r.Context(), "billing.written", actor, c.ID, audit.OutcomeSuccess,
		map[string]string{"operation": "update", "entry": e.ID})
	api.WriteJSON(w, http.StatusOK, viewBilling(e, fields))
	return nil
}

func (s *Service) sealBilling(e *store.BillingEntry, f BillingFields) ([]byte, error) {
	plain, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode billing fields: %w", err)
	}
	return s.sealer.Seal(fmt.Sprintf(billingLocation, e.ConsultationID, e.ID), plain), nil
}

// billingEntries loads and opens the entries of a consultation. An entry
// that fails to open (tampered with or moved) is a server fault.
func (s *Service) billingEntries(consultationID string) ([]BillingEntry, error) {
	stored, err := s.db.BillingEntries(consultationID)
	if err != nil {
		return nil, err
	}
	out := make([]BillingEntry, 0, len(stored))
	for _, e := range stored {
		plain, err := s.sealer.Open(fmt.Sprintf(billingLocation, e.ConsultationID, e.ID), e.Sealed)
		if err != nil {
			return nil, fmt.Errorf("open billing entry %s: %w", e.ID, err)
		}
		var f BillingFields
		if err := json.Unmarshal(plain, &f); err != nil {
			return nil, fmt.Errorf("decode billing entry %s: %w", e.ID, err)
		}
		out = append(out, viewBilling(e, f))
	}
	return out, nil
}

func viewBilling(e *store.BillingEntry, f BillingFields) BillingEntry {
	return BillingEntry{ID: e.ID, ConsultationID: e.ConsultationID, PatientID: e.PatientID, BillingFields: f,
		CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt, UpdatedBy: e.UpdatedBy, UpdatedAt: e.UpdatedAt}
}

// billingSummary is one consultation in the billing overview: no
// participants, only what billing needs to find it.
type billingSummary struct {
	ConsultationID string    `json:"consultation_id"`
	PatientID      string    `json:"patient_id"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Status         Status    `json:"status"`
	Entries        int       `json:"entries"`
}

type billingOverview struct {
	From          time.Time        `json:"from"`
	To            time.Time        `json:"to"`
	Consultations []billingSummary `json:"consultations"`
	Truncated     bool             `json:"truncated"`
}

// handleBillingOverview lists the consultations starting in [from, to)
// with their number of billing entries, for billing staff and admins.
func (s *Service) handleBillingOverview(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	if err := s.Authorize(ctx, actor, policy.ActionBillingRead, policy.Resource{Kind: policy.KindBilling}); err != nil {
		return err
	}
	from, to, err := s.listRange(r)
	if err != nil {
		return err
	}
	found, err := s.db.ConsultationsBetween(from, to, s.cfg.MaxListItems+1)
	if err != nil {
		return err
	}
	view := billingOverview{From: from, To: to, Consultations: []billingSummary{}}
	if len(found) > s.cfg.MaxListItems {
		found, view.Truncated = found[:s.cfg.MaxListItems], true
	}
	for _, c := range found {
		entries, err := s.db.BillingEntries(c.ID)
		if err != nil {
			return err
		}
		view.Consultations = append(view.Consultations, billingSummary{ConsultationID: c.ID, PatientID: c.PatientID,
			Start: c.Start, End: c.End, Status: Status(c.Status), Entries: len(entries)})
	}
	s.record(ctx, "billing.read", actor, "", audit.OutcomeSuccess,
		map[string]string{"overview": strconv.Itoa(len(view.Consultations))})
	api.WriteJSON(w, http.StatusOK, view)
	return nil
}
