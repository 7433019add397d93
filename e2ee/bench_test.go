package e2ee_test

import (
	"bytes"
	"crypto/ecdh"
	"fmt"
	"io"
	"testing"

	"github.com/bedside-health/bedside/e2ee"
)

// BenchmarkX25519 is the baseline of docs/benchmarks.md: one X25519 key
// agreement with crypto/ecdh. Sealing costs about two of these per
// recipient (HPKE encapsulation) and opening about one.
func BenchmarkX25519(b *testing.B) {
	a, err := ecdh.X25519().GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	peer, err := ecdh.X25519().GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ECDH(peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}

var benchPayload = bytes.Repeat([]byte("symptom diary "), 73) // about 1 KiB

func BenchmarkSeal(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			p := newParty(b, n)
			recipients := p.publics()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e2ee.Seal(nil, p.sender, testMessage(benchPayload), recipients); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen measures one recipient parsing and opening the wire form of
// a message sealed to n devices.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			p := newParty(b, n)
			m, err := e2ee.Seal(nil, p.sender, testMessage(benchPayload), p.publics())
			if err != nil {
				b.Fatal(err)
			}
			wire := m.Marshal()
			sender := p.sender.Public()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := openWire(wire, p.recipients[n-1], sender); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkServerValidate measures what the messaging server does per
// message: parse and verify the sender signature.
func BenchmarkServerValidate(b *testing.B) {
	p := newParty(b, 16)
	m, err := e2ee.Seal(nil, p.sender, testMessage(benchPayload), p.publics())
	if err != nil {
		b.Fatal(err)
	}
	wire := m.Marshal()
	key := p.sender.Public().SigningKey
	b.ReportAllocs()
	for b.Loop() {
		parsed, err := e2ee.ParseSealed(wire)
		if err != nil {
			b.Fatal(err)
		}
		if err := parsed.VerifySignature(key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAttachmentRoundTrip(b *testing.B) {
	plain := bytes.Repeat([]byte{7}, 4<<20)
	key, err := e2ee.NewAttachmentKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	var stream bytes.Buffer
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		stream.Reset()
		_, digest, err := e2ee.EncryptAttachment(&stream, bytes.NewReader(plain), key)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e2ee.DecryptAttachment(io.Discard, &stream, key, digest); err != nil {
			b.Fatal(err)
		}
	}
}
