package server

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/auth"
	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/messaging"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/sfu"
	"github.com/bedside-health/bedside/signaling"
)

// accountRoles gives the clinic the roles of accounts.
type accountRoles struct{ auth *auth.Service }

func (a accountRoles) UserRole(ctx context.Context, id string) (policy.Role, error) {
	acct, err := a.auth.Account(ctx, id)
	if err != nil {
		return "", err
	}
	return acct.Role, nil
}

// accountNames gives messaging the display names and roles of conversation
// members, and nothing else of their accounts.
type accountNames struct{ auth *auth.Service }

func (a accountNames) DisplayNames(ctx context.Context, ids []string) (map[string]messaging.Person, error) {
	out := make(map[string]messaging.Person, len(ids))
	for _, id := range ids {
		acct, err := a.auth.Account(ctx, id)
		if errors.Is(err, auth.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", id, err)
		}
		out[id] = messaging.Person{DisplayName: acct.DisplayName, Role: acct.Role}
	}
	return out, nil
}

// sessionAuth authenticates WebSocket connections and re-checks their
// sessions. A session the auth service rejects becomes
// signaling.ErrSessionInvalid, so the hub closes its connections. The hub
// retries after any other error, such as a storage failure.
type sessionAuth struct{ auth *auth.Service }

func (a sessionAuth) Authenticate(ctx context.Context, token string) (policy.Actor, error) {
	actor, err := a.auth.Authenticate(ctx, token)
	if errors.Is(err, auth.ErrSessionInvalid) {
		return policy.Actor{}, fmt.Errorf("%w: %w", signaling.ErrSessionInvalid, err)
	}
	return actor, err
}

// consultationRooms lets the hub ask the clinic who may join a room.
type consultationRooms struct{ clinic *clinic.Service }

func (c consultationRooms) AuthorizeJoin(ctx context.Context, actor policy.Actor, id string, now time.Time) (signaling.Grant, error) {
	g, err := c.clinic.AuthorizeJoin(ctx, actor, id, now)
	switch {
	case err == nil:
		return signaling.Grant{Host: g.Host, Role: g.Role}, nil
	case errors.Is(err, clinic.ErrNotFound), errors.Is(err, clinic.ErrSecondFactor):
		// The hub refuses staff sessions without a second factor at
		// authentication; should one get here, it learns nothing either.
		return signaling.Grant{}, fmt.Errorf("%w: %v", signaling.ErrNotFound, err)
	case errors.Is(err, clinic.ErrOutsideWindow), errors.Is(err, clinic.ErrNotJoinable):
		// A participant may learn that the appointment is not open now.
		return signaling.Grant{}, fmt.Errorf("%w: %v", signaling.ErrOutsideWindow, err)
	default:
		return signaling.Grant{}, err
	}
}

func (c consultationRooms) Consultation(ctx context.Context, id string) (signaling.ConsultationState, error) {
	cons, err := c.clinic.Consultation(ctx, id)
	if errors.Is(err, clinic.ErrNotFound) {
		return signaling.ConsultationState{}, fmt.Errorf("%w: %v", signaling.ErrNotFound, err)
	}
	if err != nil {
		return signaling.ConsultationState{}, err
	}
	return signaling.ConsultationState{
		Status:    hubStatus(cons.Status),
		JoinUntil: cons.End.Add(c.clinic.Config().JoinGrace),
	}, nil
}

// hubStatus maps a clinic status to the hub's. The hub never changes a
// requested, cancelled or no-show consultation, so those are all closed.
func hubStatus(st clinic.Status) signaling.Status {
	switch st {
	case clinic.StatusScheduled:
		return signaling.StatusScheduled
	case clinic.StatusWaiting:
		return signaling.StatusWaiting
	case clinic.StatusInProgress:
		return signaling.StatusInProgress
	case clinic.StatusCompleted:
		return signaling.StatusCompleted
	}
	return signaling.StatusClosed
}

// clinicStatus maps a status the hub reports to the clinic's.
func clinicStatus(st signaling.Status) (clinic.Status, error) {
	switch st {
	case signaling.StatusScheduled:
		return clinic.StatusScheduled, nil
	case signaling.StatusWaiting:
		return clinic.StatusWaiting, nil
	case signaling.StatusInProgress:
		return clinic.StatusInProgress, nil
	case signaling.StatusCompleted:
		return clinic.StatusCompleted, nil
	}
	return "", fmt.Errorf("unknown consultation status %q from the hub", st)
}

func (c consultationRooms) SetStatus(ctx context.Context, id string, st signaling.Status) error {
	to, err := clinicStatus(st)
	if err != nil {
		return err
	}
	return c.clinic.SetStatus(ctx, id, to)
}

// mediaRelay adapts the SFU to the hub's Media port.
type mediaRelay struct{ sfu *sfu.SFU }

func (m mediaRelay) Join(roomID, participantID string, sig signaling.MediaSignaler) (signaling.MediaPeer, error) {
	p, err := m.sfu.Join(roomID, participantID, sig)
	if err != nil {
		return nil, err
	}
	return mediaPeer{p}, nil
}

// mediaPeer adapts an SFU peer to the hub's MediaPeer port: the hub
// replaces the peer when the SFU reports a new client session.
type mediaPeer struct{ *sfu.Peer }

func (p mediaPeer) HandleOffer(sdp string) (string, error) {
	answer, err := p.Peer.HandleOffer(sdp)
	return answer, mediaError(err)
}

func (p mediaPeer) HandleAnswer(sdp string) error {
	return mediaError(p.Peer.HandleAnswer(sdp))
}

// mediaError wraps sfu.ErrNewSession in signaling.ErrNewMediaSession.
func mediaError(err error) error {
	if errors.Is(err, sfu.ErrNewSession) {
		return fmt.Errorf("%w: %w", signaling.ErrNewMediaSession, err)
	}
	return err
}

func (m mediaRelay) TURNCredentials(participantID string) (signaling.TURNCredentials, bool) {
	c, ok := m.sfu.TURNCredentials(participantID)
	if !ok {
		return signaling.TURNCredentials{}, false
	}
	return signaling.TURNCredentials{URLs: c.URLs, Username: c.Username, Credential: c.Credential, TTL: c.TTL}, true
}

// The adapted peer and the SFU's signaler match the hub's ports.
var (
	_ signaling.MediaPeer = mediaPeer{}
	_ sfu.Signaler        = signaling.MediaSignaler(nil)
)

// alertRelay pushes audit alerts to administrators through the hub, which
// is created after the audit log.
type alertRelay struct {
	hub atomic.Pointer[signaling.Hub]
}

func (r *alertRelay) NotifyAdmins(a audit.Alert) {
	if h := r.hub.Load(); h != nil {
		h.NotifyAdmins(signaling.Alert{ID: a.ID, Severity: string(a.Severity), Type: a.Type, Time: a.Time})
	}
}

// messageRelay tells online recipients about new messages through the hub,
// which is created after the messaging service.
type messageRelay struct {
	hub atomic.Pointer[signaling.Hub]
}

func (r *messageRelay) NotifyMessage(userIDs []string, conversationID, messageID string) {
	if h := r.hub.Load(); h != nil {
		h.NotifyMessage(userIDs, conversationID, messageID)
	}
}
