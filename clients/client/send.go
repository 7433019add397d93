package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// maxSendAttempts bounds how often Send seals again after the server
// responds with stale_devices.
const maxSendAttempts = 3

// SendResult describes a stored message.
type SendResult struct {
	MessageID  string
	Seq        uint64
	ReceivedAt time.Time
	// Recipients are the devices that got a key envelope.
	Recipients []e2ee.DeviceRef
	// NoDevices lists members without any device, who cannot read the
	// message.
	NoDevices []string
	Warnings  []*TrustWarning
	// Attempts counts the seals, more than 1 after stale_devices responses.
	Attempts int
}

// Send seals payload to every accepted, certified, current device of the
// conversation's members (this device included) and stores it. It fails
// with ErrIdentityChanged or ErrDeviceListRejected when a member's keys
// cannot be trusted, and with ErrNewDevices when a member has devices not
// accepted yet, unless Config.TrustNewDevices is set. When the server
// responds with stale_devices it fetches the device lists again and seals anew,
// at most maxSendAttempts times.
func (c *Client) Send(ctx context.Context, convID string, payload e2ee.Payload) (*SendResult, error) {
	keys, err := c.activeKeys()
	if err != nil {
		return nil, err
	}
	plain, err := payload.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	res := &SendResult{}
	for res.Attempts < maxSendAttempts {
		res.Attempts++
		members, err := c.conversationMembers(ctx, convID)
		if err != nil {
			return nil, err
		}
		recipients, err := c.recipients(ctx, keys, members, res)
		if err != nil {
			return nil, err
		}
		sealed, err := e2ee.Seal(nil, keys, e2ee.Message{ConversationID: convID, ContentType: e2ee.ContentMessage,
			Time: c.now(), Payload: plain}, recipients)
		if err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		ack, err := c.postMessage(ctx, convID, sealed.Marshal())
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict && apiErr.Code == "stale_devices" {
			if rogue := uncertifiedMissing(apiErr, res.Warnings); len(rogue) > 0 {
				return nil, fmt.Errorf("send: the server requires envelopes for %v: %w", rogue, ErrUncertifiedDevice)
			}
			c.log.Debug("stale devices, sealing again", "attempt", res.Attempts)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		res.MessageID, res.Seq, res.ReceivedAt = ack.MessageID, ack.Seq, ack.ReceivedAt
		res.Recipients = sealed.Recipients()
		return res, nil
	}
	return nil, fmt.Errorf("send to %s after %d attempts: %w", convID, res.Attempts, ErrStaleDevices)
}

// activeKeys returns the device keys of a registered, approved device.
func (c *Client) activeKeys() (*e2ee.DeviceKeys, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.st.Session == nil:
		return nil, fmt.Errorf("%w: run login first", ErrAuthRequired)
	case c.keys == nil:
		return nil, fmt.Errorf("%w: run login to create this device", ErrNoDevice)
	case c.st.Pending:
		return nil, fmt.Errorf("%w: approve it on an existing device, then run devices status here",
			ErrDeviceNotApproved)
	}
	return c.keys, nil
}

// recipients resolves every member and returns the devices to seal to.
// The warnings of the latest attempt replace those in res.
func (c *Client) recipients(ctx context.Context, keys *e2ee.DeviceKeys, members []string,
	res *SendResult) ([]e2ee.DevicePublic, error) {
	res.Warnings, res.NoDevices = nil, nil
	var out []e2ee.DevicePublic
	var unaccepted []*TrustWarning
	for _, member := range members {
		u, err := c.resolveUser(ctx, member)
		if err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		res.Warnings = append(res.Warnings, u.Warnings...)
		if len(u.Current) == 0 {
			res.NoDevices = append(res.NoDevices, member)
			continue
		}
		for _, w := range u.Warnings {
			if errors.Is(w, ErrNewDevices) {
				unaccepted = append(unaccepted, w)
			}
		}
		out = append(out, u.Current...)
	}
	if len(unaccepted) > 0 && !c.cfg.TrustNewDevices {
		return nil, fmt.Errorf("send: %w", errors.Join(warningErrors(unaccepted)...))
	}
	c.mu.Lock()
	for _, w := range unaccepted {
		c.acceptDevicesLocked(w.UserID, w.DeviceIDs)
	}
	err := c.saveLocked()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	self := keys.Public()
	if !slices.ContainsFunc(out, func(d e2ee.DevicePublic) bool { return d.Ref() == self.Ref() }) {
		out = append(out, self)
	}
	return out, nil
}

func warningErrors(ws []*TrustWarning) []error {
	out := make([]error, len(ws))
	for i, w := range ws {
		out[i] = w
	}
	return out
}

// uncertifiedMissing returns the devices a stale_devices response lists as
// missing that the trust checks flagged as uncertified.
func uncertifiedMissing(e *APIError, warnings []*TrustWarning) []string {
	missing, _ := e.Details["missing"].([]any)
	var out []string
	for _, m := range missing {
		ref, _ := m.(map[string]any)
		user, _ := ref["user_id"].(string)
		device, _ := ref["device_id"].(string)
		for _, w := range warnings {
			if errors.Is(w, ErrUncertifiedDevice) && w.UserID == user && slices.Contains(w.DeviceIDs, device) {
				out = append(out, user+"/"+device)
			}
		}
	}
	return out
}

type messageAck struct {
	MessageID  string    `json:"message_id"`
	Seq        uint64    `json:"seq"`
	ReceivedAt time.Time `json:"received_at"`
}

func (c *Client) postMessage(ctx context.Context, convID string, wire []byte) (*messageAck, error) {
	var ack messageAck
	err := c.doJSON(ctx, request{
		method:      "POST",
		path:        "/api/v1/conversations/" + url.PathEscape(convID) + "/messages",
		bodyReader:  bytes.NewReader(wire),
		contentType: "application/octet-stream",
		device:      true,
	}, &ack)
	if err != nil {
		return nil, err
	}
	return &ack, nil
}
