package audit

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/bedside-health/bedside/store"
)

// Checkpoint encoding, version 1 (docs/audit.md, "Checkpoints"):
//
//	body    = version:u8(1) seq:u64 time:i64 record_hash:[32]
//	message = checkpointSignContext || 0x00 || body
//	stored  = body || Ed25519(signing key, message):[64]
//
// The bbolt key is seq as 8 bytes big-endian, the last record covered.
const (
	checkpointVersion     = 1
	checkpointSignContext = "bedside audit checkpoint v1"
	checkpointBodySize    = 1 + 8 + 8 + len(Hash{})
	checkpointSize        = checkpointBodySize + ed25519.SignatureSize
)

// SigningKeyLabel is the HKDF label that derives the checkpoint signing
// seed from the server key.
const SigningKeyLabel = "bedside audit signing v1"

// SigningKey derives the Ed25519 key that signs checkpoints from the
// server key. The same server key always gives the same signing key.
func SigningKey(k *store.ServerKey) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(k.Derive(SigningKeyLabel, ed25519.SeedSize))
}

// PublicKey returns the key that verifies checkpoints signed under k, the
// one to pass to Verify.
func PublicKey(k *store.ServerKey) ed25519.PublicKey {
	return SigningKey(k).Public().(ed25519.PublicKey)
}

// Checkpoint is a signed statement that the log held Seq records whose
// last record hash was RecordHash at Time.
type Checkpoint struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	RecordHash Hash      `json:"record_hash"`
	Signature  []byte    `json:"signature"`
}

func (c *Checkpoint) body() []byte {
	b := make([]byte, 0, checkpointBodySize)
	b = append(b, checkpointVersion)
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixNano()))
	return append(b, c.RecordHash[:]...)
}

func signedMessage(body []byte) []byte {
	m := make([]byte, 0, len(checkpointSignContext)+1+len(body))
	m = append(m, checkpointSignContext...)
	m = append(m, 0)
	return append(m, body...)
}

// signCheckpoint returns the stored encoding of a checkpoint over the
// record seq with hash h, and sets c.Signature.
func signCheckpoint(key ed25519.PrivateKey, c *Checkpoint) []byte {
	body := c.body()
	c.Signature = ed25519.Sign(key, signedMessage(body))
	return append(body, c.Signature...)
}

// decodeCheckpoint parses a stored checkpoint without checking its
// signature. The result shares no memory with b.
func decodeCheckpoint(b []byte) (Checkpoint, error) {
	if len(b) != checkpointSize {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of %d bytes, want %d",
			ErrMalformedRecord, len(b), checkpointSize)
	}
	if b[0] != checkpointVersion {
		return Checkpoint{}, fmt.Errorf("%w: unknown checkpoint version %d", ErrMalformedRecord, b[0])
	}
	c := Checkpoint{
		Seq:       binary.BigEndian.Uint64(b[1:9]),
		Time:      time.Unix(0, int64(binary.BigEndian.Uint64(b[9:17]))).UTC(),
		Signature: append([]byte(nil), b[checkpointBodySize:]...),
	}
	copy(c.RecordHash[:], b[17:checkpointBodySize])
	return c, nil
}

// verifySignature checks c's signature under pub.
func (c *Checkpoint) verifySignature(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize &&
		ed25519.Verify(pub, signedMessage(c.body()), c.Signature)
}

// checkpointEntry builds the store entry for a checkpoint at seq.
func checkpointEntry(key ed25519.PrivateKey, seq uint64, h Hash, at time.Time) *store.AuditEntry {
	c := Checkpoint{Seq: seq, Time: at.UTC(), RecordHash: h}
	return &store.AuditEntry{Seq: seq, Value: signCheckpoint(key, &c)}
}
