package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Signaling protocol constants (docs/signaling.md).
const (
	SignalingSubprotocol = "bedside.v1"
	maxSignalMessage     = 256 << 10
	signalWriteTimeout   = 10 * time.Second
)

// SignalMessage is one message from the signaling server: its type and
// the whole JSON object.
type SignalMessage struct {
	Type string
	ID   string
	Raw  json.RawMessage
}

// Decode unmarshals the message into v.
func (m SignalMessage) Decode(v any) error { return json.Unmarshal(m.Raw, v) }

// signalError is the body of an error message.
type signalError struct {
	Request string `json:"request"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// SignalConn is an authenticated WebSocket connection to the signaling
// hub. One goroutine reads into Messages; Send may be called from any
// goroutine.
type SignalConn struct {
	ws       *websocket.Conn
	messages chan SignalMessage
	done     chan struct{}
	readErr  error
	writeMu  sync.Mutex
	nextID   atomic.Uint64
	closeMu  sync.Once

	// User, Role and Connection come from the auth-ok message.
	User, Role, Connection string
}

// DialSignaling opens the WebSocket, sends the auth message with the
// session token first and waits for auth-ok. label is a device label the
// other participants see.
func (c *Client) DialSignaling(ctx context.Context, label string) (*SignalConn, error) {
	token, _ := c.credentials()
	if token == "" {
		return nil, fmt.Errorf("%w: run login first", ErrAuthRequired)
	}
	if c.base == nil {
		return nil, errors.New("no server URL: give --server on the first login")
	}
	u := *c.base
	u.Scheme = map[string]string{"https": "wss", "http": "ws"}[u.Scheme]
	u.Path = "/ws"
	dialer := websocket.Dialer{
		Subprotocols:     []string{SignalingSubprotocol},
		TLSClientConfig:  c.tlsConfig(),
		HandshakeTimeout: 10 * time.Second,
		NetDialContext:   c.cfg.DialContext,
	}
	ws, resp, err := dialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("open signaling connection: status %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("open signaling connection: %w", err)
	}
	ws.SetReadLimit(maxSignalMessage)
	s := &SignalConn{ws: ws, messages: make(chan SignalMessage, 64), done: make(chan struct{})}
	go s.readLoop()

	if err := s.Send(map[string]string{"type": "auth", "token": token, "device": label}); err != nil {
		s.Close()
		return nil, err
	}
	m, err := s.Expect(ctx, "auth-ok")
	if err != nil {
		s.Close()
		if errors.Is(err, ErrSignaling) {
			return nil, fmt.Errorf("%w: %w", ErrAuthRequired, err)
		}
		return nil, err
	}
	var ok struct {
		User       string `json:"user"`
		Role       string `json:"role"`
		Connection string `json:"connection"`
	}
	if err := m.Decode(&ok); err != nil {
		s.Close()
		return nil, fmt.Errorf("auth-ok: %w", err)
	}
	s.User, s.Role, s.Connection = ok.User, ok.Role, ok.Connection
	return s, nil
}

func (s *SignalConn) readLoop() {
	defer close(s.messages)
	for {
		_, data, err := s.ws.ReadMessage()
		if err != nil {
			s.readErr = err
			return
		}
		var head struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if err := json.Unmarshal(data, &head); err != nil || head.Type == "" {
			continue // not a protocol message: ignore it
		}
		select {
		case s.messages <- SignalMessage{Type: head.Type, ID: head.ID, Raw: data}:
		case <-s.done:
			return
		}
	}
}

// Messages returns the channel of incoming messages. It is closed when
// the connection ends; Err then returns the reason.
func (s *SignalConn) Messages() <-chan SignalMessage { return s.messages }

// Err returns the read error that ended the connection.
func (s *SignalConn) Err() error {
	var ce *websocket.CloseError
	if errors.As(s.readErr, &ce) {
		return fmt.Errorf("signaling connection closed: %d %s", ce.Code, ce.Text)
	}
	return s.readErr
}

// NewID returns a fresh request id.
func (s *SignalConn) NewID() string { return "c" + strconv.FormatUint(s.nextID.Add(1), 10) }

// Send writes one message, a struct or map that encodes to a JSON object
// with a "type" field.
func (s *SignalConn) Send(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode signaling message: %w", err)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.ws.SetWriteDeadline(time.Now().Add(signalWriteTimeout)); err != nil {
		return err
	}
	if err := s.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("send signaling message: %w", err)
	}
	return nil
}

// Expect waits for a message of type want. An error message is returned
// as an error wrapping ErrSignaling; other messages are dropped.
func (s *SignalConn) Expect(ctx context.Context, want string) (SignalMessage, error) {
	for {
		select {
		case <-ctx.Done():
			return SignalMessage{}, fmt.Errorf("waiting for %s: %w", want, ctx.Err())
		case m, ok := <-s.messages:
			if !ok {
				return SignalMessage{}, fmt.Errorf("waiting for %s: %w", want, s.Err())
			}
			if m.Type == want {
				return m, nil
			}
			if m.Type == "error" {
				return SignalMessage{}, m.asError()
			}
		}
	}
}

func (m SignalMessage) asError() error {
	var e signalError
	_ = m.Decode(&e)
	return fmt.Errorf("%w: %s: %s", ErrSignaling, e.Code, e.Message)
}

// Close sends a normal close frame and closes the connection.
func (s *SignalConn) Close() error {
	var err error
	s.closeMu.Do(func() {
		close(s.done)
		s.writeMu.Lock()
		_ = s.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
		s.writeMu.Unlock()
		err = s.ws.Close()
		for range s.messages {
		}
	})
	return err
}
