package e2ee

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Attachment stream parameters.
const (
	// AttachmentChunkSize is the plaintext size of every chunk but the last.
	AttachmentChunkSize = 64 << 10
	// MaxAttachmentSize is the largest plaintext an attachment stream holds.
	MaxAttachmentSize = 1 << 30
	encChunkSize      = AttachmentChunkSize + aeadTagSize
)

// attachmentHeader starts every attachment stream: "BSA" and the version.
// It is also the associated data of every chunk.
var attachmentHeader = [4]byte{'B', 'S', 'A', Version}

// AttachmentKey is the random 256-bit key of one attachment. It is carried
// in the AttachmentRef of the message that references the attachment.
type AttachmentKey [32]byte

// NewAttachmentKey reads a fresh key from rand (crypto/rand when nil).
func NewAttachmentKey(rand io.Reader) (AttachmentKey, error) {
	var k AttachmentKey
	b, err := readKeyMaterial(rand, len(k))
	if err != nil {
		return k, fmt.Errorf("attachment key: %w", err)
	}
	copy(k[:], b)
	return k, nil
}

// AttachmentCiphertextSize returns the stream length for a plaintext of n
// bytes: the header, the plaintext and one tag per chunk (at least one).
func AttachmentCiphertextSize(n int64) int64 {
	chunks := max(1, (n+AttachmentChunkSize-1)/AttachmentChunkSize)
	return int64(len(attachmentHeader)) + n + chunks*aeadTagSize
}

func attachmentAEAD(key AttachmentKey) (cipher.AEAD, error) {
	chunkKey, err := hkdf.Key(sha256.New, key[:], nil, LabelAttachmentKey, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(chunkKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// chunkNonce returns the 11-byte big-endian chunk counter followed by the
// final-chunk flag (1 for the last chunk, 0 otherwise).
func chunkNonce(counter uint64, final bool) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[3:11], counter)
	if final {
		n[11] = 1
	}
	return n[:]
}

// AttachmentWriter encrypts a stream of plaintext into dst chunk by chunk,
// holding at most one chunk in memory. Close writes the final chunk; the
// stream is invalid without it. Not safe for concurrent use.
type AttachmentWriter struct {
	dst     io.Writer
	aead    cipher.AEAD
	hash    hash.Hash
	buf     []byte
	out     []byte
	counter uint64
	size    int64
	closed  bool
	err     error
}

// NewAttachmentWriter writes the stream header to dst and returns a writer
// for the plaintext.
func NewAttachmentWriter(dst io.Writer, key AttachmentKey) (*AttachmentWriter, error) {
	aead, err := attachmentAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("attachment writer: %w", err)
	}
	w := &AttachmentWriter{
		dst:  dst,
		aead: aead,
		hash: sha256.New(),
		buf:  make([]byte, 0, AttachmentChunkSize),
		out:  make([]byte, 0, encChunkSize),
	}
	if err := w.emit(attachmentHeader[:]); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *AttachmentWriter) emit(p []byte) error {
	w.hash.Write(p)
	if _, err := w.dst.Write(p); err != nil {
		w.err = fmt.Errorf("write attachment stream: %w", err)
		return w.err
	}
	return nil
}

// Write encrypts p. A full chunk is sealed only once more data follows it,
// so that Close can mark the last chunk final.
func (w *AttachmentWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("e2ee: write to closed attachment writer")
	}
	if w.size+int64(len(p)) > MaxAttachmentSize {
		w.err = fmt.Errorf("attachment of more than %d bytes: %w", int64(MaxAttachmentSize), ErrAttachmentTooLarge)
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if len(w.buf) == AttachmentChunkSize {
			if err := w.sealChunk(false); err != nil {
				return written, err
			}
		}
		n := copy(w.buf[len(w.buf):AttachmentChunkSize], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		written += n
		w.size += int64(n)
	}
	return written, nil
}

func (w *AttachmentWriter) sealChunk(final bool) error {
	w.out = w.aead.Seal(w.out[:0], chunkNonce(w.counter, final), w.buf, attachmentHeader[:])
	w.counter++
	w.buf = w.buf[:0]
	return w.emit(w.out)
}

// Close seals the final chunk. It does not close dst.
func (w *AttachmentWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	return w.sealChunk(true)
}

// Size returns the plaintext bytes written so far.
func (w *AttachmentWriter) Size() int64 { return w.size }

// Digest returns the SHA-256 of the stream written so far; after Close it
// is the digest to put in the AttachmentRef.
func (w *AttachmentWriter) Digest() [32]byte {
	var d [32]byte
	w.hash.Sum(d[:0])
	return d
}

// EncryptAttachment encrypts all of src into dst and returns the plaintext
// size and the stream digest.
func EncryptAttachment(dst io.Writer, src io.Reader, key AttachmentKey) (int64, [32]byte, error) {
	w, err := NewAttachmentWriter(dst, key)
	if err != nil {
		return 0, [32]byte{}, err
	}
	if _, err := io.Copy(w, src); err != nil {
		return 0, [32]byte{}, fmt.Errorf("encrypt attachment: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, [32]byte{}, err
	}
	return w.Size(), w.Digest(), nil
}

// AttachmentReader decrypts an attachment stream. Read returns plaintext
// only from chunks that authenticated; the digest is checked before the
// final chunk is released. Any error means the whole attachment is invalid:
// callers write to a temporary file and keep it only after io.EOF. Not safe
// for concurrent use.
type AttachmentReader struct {
	src     *bufio.Reader
	aead    cipher.AEAD
	hash    hash.Hash
	digest  [32]byte
	enc     []byte
	plain   []byte
	pending []byte
	counter uint64
	started bool
	done    bool
	err     error
}

// NewAttachmentReader returns a reader of the plaintext of the stream src,
// encrypted under key, whose SHA-256 must equal digest.
func NewAttachmentReader(src io.Reader, key AttachmentKey, digest [32]byte) (*AttachmentReader, error) {
	aead, err := attachmentAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("attachment reader: %w", err)
	}
	return &AttachmentReader{
		src:    bufio.NewReaderSize(src, encChunkSize+1),
		aead:   aead,
		hash:   sha256.New(),
		digest: digest,
		enc:    make([]byte, encChunkSize),
		plain:  make([]byte, 0, AttachmentChunkSize),
	}, nil
}

// Read implements io.Reader.
func (r *AttachmentReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// next reads and opens one chunk (and the header before the first one).
func (r *AttachmentReader) next() error {
	if !r.started {
		var h [len(attachmentHeader)]byte
		if _, err := io.ReadFull(r.src, h[:]); err != nil {
			return readError(err, "attachment header")
		}
		if h != attachmentHeader {
			return fmt.Errorf("attachment header %x: %w", h, ErrAttachmentHeader)
		}
		r.hash.Write(h[:])
		r.started = true
	}
	if r.counter*AttachmentChunkSize >= MaxAttachmentSize {
		return fmt.Errorf("attachment stream beyond %d bytes: %w", int64(MaxAttachmentSize), ErrAttachmentTooLarge)
	}
	n, err := io.ReadFull(r.src, r.enc)
	switch {
	case err == io.EOF:
		return fmt.Errorf("stream ends after chunk %d: %w", r.counter, ErrAttachmentTruncated)
	case err == io.ErrUnexpectedEOF:
		// A short chunk can only be the final one.
		return r.open(r.enc[:n], true)
	case err != nil:
		return fmt.Errorf("read attachment chunk %d: %w", r.counter, err)
	}
	_, peekErr := r.src.Peek(1)
	switch {
	case peekErr == io.EOF:
		return r.open(r.enc, true)
	case peekErr != nil:
		return fmt.Errorf("read attachment chunk %d: %w", r.counter, peekErr)
	}
	return r.open(r.enc, false)
}

// open authenticates one chunk with the final flag the stream layout
// implies. On failure it tries the other flag to tell truncation and
// extension apart from tampering.
func (r *AttachmentReader) open(chunk []byte, final bool) error {
	plain, err := r.aead.Open(r.plain[:0], chunkNonce(r.counter, final), chunk, attachmentHeader[:])
	if err != nil {
		if _, otherErr := r.aead.Open(r.plain[:0], chunkNonce(r.counter, !final), chunk, attachmentHeader[:]); otherErr == nil {
			if final {
				return fmt.Errorf("stream ends after chunk %d: %w", r.counter, ErrAttachmentTruncated)
			}
			return fmt.Errorf("data after final chunk %d: %w", r.counter, ErrAttachmentTrailing)
		}
		return fmt.Errorf("chunk %d: %w", r.counter, ErrAttachmentChunk)
	}
	if final && len(plain) == 0 && r.counter > 0 {
		return fmt.Errorf("empty final chunk %d after data: %w", r.counter, ErrAttachmentChunk)
	}
	r.hash.Write(chunk)
	r.counter++
	if final {
		var got [32]byte
		r.hash.Sum(got[:0])
		if subtle.ConstantTimeCompare(got[:], r.digest[:]) != 1 {
			return fmt.Errorf("attachment digest %x: %w", got, ErrAttachmentDigest)
		}
		r.done = true
	}
	r.pending = plain
	return nil
}

func readError(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w", what, ErrAttachmentTruncated)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// DecryptAttachment copies the plaintext of src to dst and returns its size.
func DecryptAttachment(dst io.Writer, src io.Reader, key AttachmentKey, digest [32]byte) (int64, error) {
	r, err := NewAttachmentReader(src, key, digest)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(dst, r)
	if err != nil {
		return n, fmt.Errorf("decrypt attachment: %w", err)
	}
	return n, nil
}
