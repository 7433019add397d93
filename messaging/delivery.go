package messaging

import (
	"errors"
	"fmt"
	"time"

	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/store"
)

// errEnvelopeRecord reports a stored envelope that does not decode.
var errEnvelopeRecord = errors.New("malformed stored envelope")

// encodeEnvelope stores an e2ee envelope as u8 len(enc) || enc || ciphertext.
func encodeEnvelope(env e2ee.Envelope) []byte {
	out := make([]byte, 0, 1+len(env.Enc)+len(env.Ciphertext))
	out = append(out, byte(len(env.Enc)))
	out = append(out, env.Enc...)
	return append(out, env.Ciphertext...)
}

func decodeEnvelope(raw []byte) (enc, ciphertext []byte, err error) {
	if len(raw) == 0 || int(raw[0]) > len(raw)-1 {
		return nil, nil, errEnvelopeRecord
	}
	n := int(raw[0])
	return raw[1 : 1+n], raw[1+n:], nil
}

// messageView is one message as a device fetches it.
type messageView struct {
	Seq        uint64        `json:"seq"`
	MessageID  string        `json:"message_id"`
	Sender     deviceRefView `json:"sender"`
	ReceivedAt time.Time     `json:"received_at"`
	// Sealed is the e2ee wire form (SealedMessage.Marshal) as this device
	// receives it, in standard base64 (see deviceWireForm).
	Sealed []byte `json:"sealed"`
}

// deviceWireForm rebuilds the e2ee wire form of a stored message for one
// device. The recipient list stays whole, because the sender's signature
// covers it, but every envelope the device was not given is replaced by
// zero bytes of the same length: a recipient sees only its own key
// envelope, and e2ee.ParseSealed, VerifySignature and Open work on the
// result unchanged. The device that sent the message gets all its
// envelopes back.
func deviceWireForm(d store.DeliveredMessage) ([]byte, error) {
	m := d.Message
	given := make(map[store.Recipient][2][]byte, len(d.Envelopes))
	var encLen, ctLen int
	for _, e := range d.Envelopes {
		enc, ct, err := decodeEnvelope(e.Sealed)
		if err != nil {
			return nil, fmt.Errorf("message %x envelope for %s/%s: %w", m.ID, e.UserID, e.DeviceID, err)
		}
		given[store.Recipient{UserID: e.UserID, DeviceID: e.DeviceID}] = [2][]byte{enc, ct}
		encLen, ctLen = len(enc), len(ct)
	}
	sealed := e2ee.SealedMessage{
		HeaderBytes: m.Header,
		Commitment:  m.Commitment,
		Ciphertext:  m.Ciphertext,
		Signature:   m.Signature,
		Envelopes:   make([]e2ee.Envelope, len(m.Recipients)),
	}
	for i, r := range m.Recipients {
		env := e2ee.Envelope{Recipient: e2ee.DeviceRef{UserID: r.UserID, DeviceID: r.DeviceID}}
		if pair, ok := given[r]; ok {
			env.Enc, env.Ciphertext = pair[0], pair[1]
		} else {
			env.Enc, env.Ciphertext = make([]byte, encLen), make([]byte, ctLen)
		}
		sealed.Envelopes[i] = env
	}
	return sealed.Marshal(), nil
}

func viewMessage(d store.DeliveredMessage) (messageView, error) {
	wire, err := deviceWireForm(d)
	if err != nil {
		return messageView{}, err
	}
	m := d.Message
	return messageView{
		Seq:        m.Seq,
		MessageID:  e2ee.MessageID(m.ID).String(),
		Sender:     deviceRefView{UserID: m.SenderUserID, DeviceID: m.SenderDeviceID},
		ReceivedAt: m.ReceivedAt,
		Sealed:     wire,
	}, nil
}
