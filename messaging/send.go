package messaging

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// SealedMediaType is the Content-Type of a sealed message body: the e2ee
// wire form, SealedMessage.Marshal.
const SealedMediaType = "application/octet-stream"

// ackView is the acknowledgement of a stored message. A retry of the same
// message returns the same acknowledgement.
type ackView struct {
	ConversationID string    `json:"conversation_id"`
	MessageID      string    `json:"message_id"`
	Seq            uint64    `json:"seq"`
	ReceivedAt     time.Time `json:"received_at"`
}

func ackOf(m *store.Message) ackView {
	return ackView{ConversationID: m.ConversationID, MessageID: e2ee.MessageID(m.ID).String(),
		Seq: m.Seq, ReceivedAt: m.ReceivedAt}
}

// commitOutcome is the result for one message of the batch transaction. Rejections are outcomes, not errors: an error would roll
// back every other message of the batch.
type commitOutcome struct {
	ack    ackView
	stored bool // a new message was stored
	replay bool // the same message was stored before
	reused bool // another message was stored under this id
	stale  *e2ee.RecipientMismatchError
}

// conversation parses id and checks with the directory that actor may
// perform action on it. An invalid id gets the same response as a missing
// one.
func (s *Service) conversation(ctx context.Context, actor policy.Actor, action policy.Action,
	id string) (Conversation, error) {
	conv, err := ParseConversationID(id)
	if err != nil {
		return Conversation{}, api.NotFound()
	}
	if err := s.dir.Authorize(ctx, actor, action, conv.Resource()); err != nil {
		return Conversation{}, err
	}
	return conv, nil
}

func (s *Service) handleSend(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	dev, err := s.callerDevice(r, actor)
	if err != nil {
		return err
	}
	conv, err := s.conversation(ctx, actor, policy.ActionConversationPost, r.PathValue("id"))
	if err != nil {
		return err
	}
	body, err := s.readSealed(w, r)
	if err != nil {
		return err
	}
	sealed, err := s.checkSealed(ctx, body, conv, dev)
	if err != nil {
		return err
	}
	members, err := s.dir.ConversationMembers(ctx, conv)
	if errors.Is(err, ErrConversationNotFound) {
		return api.NotFound()
	}
	if err != nil {
		return err
	}

	members = uniqueIDs(members, actor.UserID)
	out, err := s.commit(conv, sealed, body, members)
	switch {
	case err != nil:
		return err
	case out.stale != nil:
		s.log.LogAttrs(ctx, slog.LevelDebug, "message rejected: stale devices",
			slog.String("conversation", conv.ID), slog.Int("missing", len(out.stale.Missing)),
			slog.Int("stale", len(out.stale.Extra)))
		return errStaleDevices(out.stale)
	case out.reused:
		s.warn(ctx, "message id reused with other content",
			slog.String("conversation", conv.ID), slog.String("message", sealed.Header.MessageID.String()))
		return errMessageIDReused()
	}

	// A retry is notified again: the first notification may have been
	// lost when the server stopped right after the commit.
	if s.notifier != nil {
		s.notifier.NotifyMessage(members, conv.ID, out.ack.MessageID)
	}
	status := http.StatusOK
	if out.stored {
		status = http.StatusCreated
		s.record(ctx, audit.Event{Type: audit.TypeMessageSend, ActorID: actor.UserID, TargetID: conv.ID,
			Address: api.ClientAddr(r), Outcome: audit.OutcomeSuccess,
			Detail: map[string]string{
				"message_id":      out.ack.MessageID,
				audit.DetailBytes: strconv.Itoa(len(sealed.Ciphertext)),
				audit.DetailRole:  string(actor.Role),
			}})
		s.log.LogAttrs(ctx, slog.LevelDebug, "message stored", slog.String("conversation", conv.ID),
			slog.String("message", out.ack.MessageID), slog.Uint64("seq", out.ack.Seq))
	}
	api.WriteJSON(w, status, out.ack)
	return nil
}

// readSealed reads the whole body, at most MaxMessageBytes.
func (s *Service) readSealed(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := requireMediaType(r, SealedMediaType); err != nil {
		return nil, err
	}
	limit := s.cfg.MaxMessageBytes
	if r.ContentLength > limit {
		return nil, errBodyTooLarge(limit)
	}
	size := limit
	if r.ContentLength >= 0 {
		size = r.ContentLength
	}
	buf := make([]byte, 0, size+1)
	body, err := readAllInto(buf, http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errBodyTooLarge(limit)
	case err != nil:
		return nil, api.BadRequest("truncated_body",
			"the request body ended before its declared length: send the whole sealed message again")
	}
	return body, nil
}

// readAllInto is io.ReadAll into a caller-sized buffer.
func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// checkSealed parses the body and checks everything that needs no
// transaction: the header names this conversation and this device, the
// envelope count is within bounds, and the signature verifies under the
// device's registered signing key.
func (s *Service) checkSealed(ctx context.Context, body []byte, conv Conversation,
	dev *store.Device) (*e2ee.SealedMessage, error) {
	sealed, err := e2ee.ParseSealed(body)
	if err != nil {
		return nil, errInvalidMessage(err, "the body is not a valid sealed message: "+
			"send the e2ee wire form (SealedMessage.Marshal)")
	}
	h := &sealed.Header
	if h.ConversationID != conv.ID {
		return nil, api.BadRequest("conversation_mismatch",
			"the message header names another conversation than the request path: seal it for "+conv.ID)
	}
	if h.SenderUserID != dev.UserID || h.SenderDeviceID != dev.DeviceID {
		return nil, api.BadRequest("sender_mismatch",
			"the message header names another sender than your account and the "+DeviceHeader+" device")
	}
	if len(sealed.Envelopes) > s.cfg.MaxEnvelopes {
		return nil, errTooLarge("too_many_envelopes",
			fmt.Sprintf("the message has %d key envelopes, more than the limit of %d",
				len(sealed.Envelopes), s.cfg.MaxEnvelopes),
			map[string]int{"max_envelopes": s.cfg.MaxEnvelopes})
	}
	if err := sealed.VerifySignature(dev.SigningKey); err != nil {
		s.warn(ctx, "message signature does not verify",
			slog.String("user", dev.UserID), slog.String("device", dev.DeviceID),
			slog.String("conversation", conv.ID))
		return nil, errInvalidMessage(err,
			"the signature does not verify under this device's registered signing key")
	}
	return sealed, nil
}

// commit stores the message in a batched write transaction, after checking
// inside it that the id is new and the envelopes cover exactly the current
// devices of members, which must hold no duplicates. It returns once bbolt has committed and fsynced the
// batch, so a returned ack is durable.
func (s *Service) commit(conv Conversation, sealed *e2ee.SealedMessage, body []byte,
	members []string) (commitOutcome, error) {
	msg := &store.Message{
		ConversationID: conv.ID,
		ID:             sealed.Header.MessageID,
		SenderUserID:   sealed.Header.SenderUserID,
		SenderDeviceID: sealed.Header.SenderDeviceID,
		Digest:         sha256.Sum256(body),
		Header:         sealed.HeaderBytes,
		Commitment:     sealed.Commitment,
		Ciphertext:     sealed.Ciphertext,
		Signature:      sealed.Signature,
		Recipients:     make([]store.Recipient, len(sealed.Envelopes)),
	}
	envelopes := make([]store.Envelope, len(sealed.Envelopes))
	for i, env := range sealed.Envelopes {
		msg.Recipients[i] = store.Recipient{UserID: env.Recipient.UserID, DeviceID: env.Recipient.DeviceID}
		envelopes[i] = store.Envelope{UserID: env.Recipient.UserID, DeviceID: env.Recipient.DeviceID,
			Sealed: encodeEnvelope(env)}
	}
	var out commitOutcome
	// bbolt may run this function more than once (after another call in
	// the same batch failed), so it starts from a clean outcome each time.
	err := s.db.Bolt().Batch(func(tx *bolt.Tx) error {
		out = commitOutcome{}
		prev, err := store.MessageByIDTx(tx, conv.ID, msg.ID)
		switch {
		case err == nil && prev.Digest == msg.Digest:
			out.ack, out.replay = ackOf(prev), true
			return nil
		case err == nil:
			out.reused = true
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		want, err := currentDevices(tx, members)
		if err != nil {
			return err
		}
		var mismatch *e2ee.RecipientMismatchError
		if err := e2ee.CompareRecipients(sealed, want); errors.As(err, &mismatch) {
			out.stale = mismatch
			return nil
		} else if err != nil {
			return err
		}
		msg.ReceivedAt = s.now().UTC()
		if err := store.AppendMessageTx(tx, msg, envelopes); err != nil {
			return err
		}
		out.ack, out.stored = ackOf(msg), true
		return nil
	})
	if err != nil {
		return commitOutcome{}, fmt.Errorf("commit message %s to %s: %w", sealed.Header.MessageID, conv.ID, err)
	}
	return out, nil
}

// currentDevices returns the devices, not revoked, of every user in ids.
func currentDevices(tx *bolt.Tx, ids []string) ([]e2ee.DeviceRef, error) {
	var out []e2ee.DeviceRef
	for _, id := range ids {
		devs, err := store.CurrentDevicesTx(tx, id)
		if err != nil {
			return nil, err
		}
		for _, d := range devs {
			out = append(out, e2ee.DeviceRef{UserID: d.UserID, DeviceID: d.DeviceID})
		}
	}
	return out, nil
}

// uniqueIDs returns ids followed by more, without duplicates, in
// first-seen order, in a new slice.
func uniqueIDs(ids []string, more ...string) []string {
	seen := make(map[string]bool, len(ids)+len(more))
	out := make([]string, 0, len(ids)+len(more))
	for _, list := range [][]string{ids, more} {
		for _, id := range list {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
