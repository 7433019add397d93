package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// maxReadPages bounds the pages one Read fetches.
const maxReadPages = 100

// ReceivedMessage is one fetched message. When Err is set the message
// failed verification or decryption and only Seq, MessageID and the
// claimed sender are filled in.
type ReceivedMessage struct {
	Seq            uint64
	MessageID      string
	SenderUserID   string
	SenderDeviceID string
	Time           time.Time // the sender's clock, from the signed header
	ReceivedAt     time.Time // the server's clock
	Text           string
	Attachments    []e2ee.AttachmentRef
	// Own is set for messages sent by the signed-in user.
	Own bool
	// Again is set when this device had read the message before.
	Again bool
	Err   error
}

// ReadOptions selects the messages Read fetches.
type ReadOptions struct {
	// FromStart reads the whole history instead of the messages after
	// the last one read.
	FromStart bool
	// After, when not zero, reads the messages after this sequence
	// number; it overrides FromStart.
	After uint64
	// Limit stops after this many messages; 0 means no limit.
	Limit int
}

// ReadResult is the outcome of Read.
type ReadResult struct {
	Messages []ReceivedMessage
	Warnings []*TrustWarning
}

type messageView struct {
	Seq        uint64    `json:"seq"`
	MessageID  string    `json:"message_id"`
	ReceivedAt time.Time `json:"received_at"`
	Sender     struct {
		UserID   string `json:"user_id"`
		DeviceID string `json:"device_id"`
	} `json:"sender"`
	Sealed []byte `json:"sealed"`
}

type pageView struct {
	Messages   []messageView `json:"messages"`
	NextCursor uint64        `json:"next_cursor"`
	HasMore    bool          `json:"has_more"`
}

// Read fetches messages of a conversation, verifies and decrypts each
// one, and rejects replays. A message that fails is returned with Err set
// (wrapping ErrMessageRejected or ErrReplayedMessage) and nothing of its
// content. The read position and the replay state are saved, and the
// server's delivered marker is raised.
func (c *Client) Read(ctx context.Context, convID string, opts ReadOptions) (*ReadResult, error) {
	return c.read(ctx, convID, opts, true)
}

// read is Read; with advance false the cursor and the delivered marker
// stay where they are.
func (c *Client) read(ctx context.Context, convID string, opts ReadOptions, advance bool) (*ReadResult, error) {
	keys, err := c.activeKeys()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	after := c.st.conv(convID).Cursor
	c.mu.Unlock()
	if opts.FromStart {
		after = 0
	}
	if opts.After > 0 {
		after = opts.After
	}

	res := &ReadResult{}
	senders := newSenderCache(c)
	var delivered uint64 // the last message that opened
	var cursor uint64    // the last message that was not a replay
	for page := 0; page < maxReadPages; page++ {
		limit := 100
		if opts.Limit > 0 {
			limit = min(limit, opts.Limit-len(res.Messages))
		}
		var pv pageView
		path := "/api/v1/conversations/" + url.PathEscape(convID) + "/messages?after=" +
			strconv.FormatUint(after, 10) + "&limit=" + strconv.Itoa(limit)
		if err := c.doJSON(ctx, request{method: "GET", path: path, device: true}, &pv); err != nil {
			return nil, fmt.Errorf("read %s: %w", convID, err)
		}
		for _, mv := range pv.Messages {
			if mv.Seq <= after {
				continue // the server must page forward; ignore anything else
			}
			m := c.openMessage(ctx, keys, convID, mv, senders)
			res.Messages = append(res.Messages, m)
			after = mv.Seq
			if m.Err == nil {
				delivered = mv.Seq
			}
			// A replay under a made-up sequence number must not move the
			// read position past the genuine message of that number.
			if !errors.Is(m.Err, ErrReplayedMessage) {
				cursor = mv.Seq
			}
		}
		// A page may hold no message for this device while more follow:
		// the server's next cursor then skips past what it scanned. A
		// cursor that does not move forward ends the read.
		progressed := len(pv.Messages) > 0
		if len(pv.Messages) == 0 && pv.NextCursor > after {
			after = pv.NextCursor
			cursor = max(cursor, after)
			progressed = true
		}
		if !pv.HasMore || !progressed || (opts.Limit > 0 && len(res.Messages) >= opts.Limit) {
			break
		}
	}
	res.Warnings = senders.warnings
	if !advance {
		c.mu.Lock()
		defer c.mu.Unlock()
		return res, c.saveLocked()
	}
	return res, c.finishRead(ctx, convID, cursor, delivered)
}

// finishRead moves the cursor to last, past rejected messages too, and
// raises the server's delivered marker to the last message
// that opened. The marker is a convenience for the server's unread
// counts, so failing to raise it is logged, not returned.
func (c *Client) finishRead(ctx context.Context, convID string, last, delivered uint64) error {
	c.mu.Lock()
	cs := c.st.conv(convID)
	if last > cs.Cursor {
		cs.Cursor = last
	}
	err := c.saveLocked()
	c.mu.Unlock()
	if err != nil || delivered == 0 {
		return err
	}
	err = c.doJSON(ctx, request{method: "POST", device: true,
		path: "/api/v1/conversations/" + url.PathEscape(convID) + "/delivered",
		body: map[string]uint64{"seq": delivered}}, nil)
	if err != nil {
		c.log.Debug("raising the delivered marker failed", "conversation", convID, "err", err)
	}
	return nil
}

func rejected(err error) error { return fmt.Errorf("%w: %w", ErrMessageRejected, err) }

// openMessage runs the recipient checks of docs/e2ee.md section 3.6 on
// one message, then the replay check.
func (c *Client) openMessage(ctx context.Context, keys *e2ee.DeviceKeys, convID string, mv messageView,
	senders *senderCache) ReceivedMessage {
	out := ReceivedMessage{Seq: mv.Seq, MessageID: mv.MessageID, ReceivedAt: mv.ReceivedAt,
		SenderUserID: mv.Sender.UserID, SenderDeviceID: mv.Sender.DeviceID}
	sealed, err := e2ee.ParseSealed(mv.Sealed)
	if err != nil {
		out.Err = rejected(err)
		return out
	}
	h := sealed.Header
	out.SenderUserID, out.SenderDeviceID, out.Time = h.SenderUserID, h.SenderDeviceID, h.Time
	switch {
	case h.ConversationID != convID:
		out.Err = rejected(fmt.Errorf("header names conversation %q", h.ConversationID))
		return out
	case h.MessageID.String() != mv.MessageID:
		out.Err = rejected(fmt.Errorf("header names message %s, the server %q", h.MessageID, mv.MessageID))
		return out
	}
	sender, err := senders.device(ctx, h.SenderUserID, h.SenderDeviceID)
	if err != nil {
		out.Err = rejected(err)
		return out
	}
	plain, err := e2ee.Open(keys, sealed, sender)
	if err != nil {
		out.Err = rejected(err)
		return out
	}
	payload, err := e2ee.ParsePayload(plain)
	if err != nil {
		out.Err = rejected(err)
		return out
	}
	again, err := c.checkReplay(convID, &h, mv.Seq)
	if err != nil {
		out.Err = err
		return out
	}
	out.Again = again
	out.Own = h.SenderUserID == keys.Ref().UserID
	out.Text, out.Attachments = payload.Text, payload.Attachments
	return out
}

// checkReplay accepts a message id once. The same id at the same sequence
// number is a re-read of history; at another sequence number it is a
// replay by the server.
func (c *Client) checkReplay(convID string, h *e2ee.Header, seq uint64) (again bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := c.st.conv(convID)
	id := h.MessageID.String()
	if prev, ok := cs.Accepted[id]; ok {
		if prev == seq {
			return true, nil
		}
		return false, fmt.Errorf("%w: message %s was accepted at seq %d and is served again at seq %d",
			ErrReplayedMessage, id, prev, seq)
	}
	if err := c.replay.Accept(h); err != nil {
		return false, fmt.Errorf("%w: %w", ErrReplayedMessage, err)
	}
	cs.remember(id, seq)
	return false, nil
}

// senderCache resolves each sender user once per Read.
type senderCache struct {
	c        *Client
	users    map[string]*verifiedUser
	errs     map[string]error
	warnings []*TrustWarning
}

func newSenderCache(c *Client) *senderCache {
	return &senderCache{c: c, users: map[string]*verifiedUser{}, errs: map[string]error{}}
}

// device returns the certified keys of the sending device.
func (s *senderCache) device(ctx context.Context, userID, deviceID string) (e2ee.DevicePublic, error) {
	if err, ok := s.errs[userID]; ok {
		return e2ee.DevicePublic{}, err
	}
	u, ok := s.users[userID]
	if !ok {
		var err error
		u, err = s.c.resolveUser(ctx, userID)
		if err != nil {
			if !errors.Is(err, ErrIdentityChanged) && !errors.Is(err, ErrDeviceListRejected) {
				return e2ee.DevicePublic{}, err // a network or API error may pass
			}
			s.errs[userID] = err
			return e2ee.DevicePublic{}, err
		}
		s.users[userID] = u
		s.warnings = append(s.warnings, u.Warnings...)
	}
	if u.List != nil {
		if d, ok := u.List.Device(deviceID); ok {
			return d, nil
		}
	}
	s.c.mu.Lock()
	d, ok := s.c.knownDeviceLocked(userID, deviceID)
	s.c.mu.Unlock()
	if ok {
		return d, nil
	}
	return e2ee.DevicePublic{}, fmt.Errorf("sender device %s/%s: %w", userID, deviceID, ErrUncertifiedDevice)
}
