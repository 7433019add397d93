package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bedside-health/bedside/e2ee"
)

// defaultChunkBytes is the upload chunk size when the server states none.
const defaultChunkBytes = 1 << 20

// Progress is called with the bytes transferred so far and the total. It
// runs on the transferring goroutine and must not block.
type Progress func(done, total int64)

// Upload describes an attachment to upload.
type Upload struct {
	ConversationID string
	Path           string
	// Name is the file name shown to recipients; default the base name of
	// Path.
	Name string
	// MediaType defaults to application/octet-stream.
	MediaType string
}

type uploadView struct {
	ID            string `json:"id"`
	Size          int64  `json:"size"`
	Offset        int64  `json:"offset"`
	Complete      bool   `json:"complete"`
	MaxChunkBytes int64  `json:"max_chunk_bytes"`
}

// UploadAttachment encrypts a file with a fresh attachment key while
// uploading it in chunks, and returns the reference to put in a message.
// The plaintext is read once per attempt and never held whole in memory.
// An interrupted upload of the same unchanged file to the same
// conversation resumes at the server's offset: the stream is encrypted
// again from the start (the encryption is deterministic for a key) and the
// bytes the server has are skipped.
func (c *Client) UploadAttachment(ctx context.Context, up Upload, progress Progress) (e2ee.AttachmentRef, error) {
	if _, err := c.activeKeys(); err != nil {
		return e2ee.AttachmentRef{}, err
	}
	info, err := os.Stat(up.Path)
	if err != nil {
		return e2ee.AttachmentRef{}, fmt.Errorf("attach: %w", err)
	}
	if !info.Mode().IsRegular() || info.Size() > e2ee.MaxAttachmentSize {
		return e2ee.AttachmentRef{}, fmt.Errorf("attach %s: not a regular file of at most %d bytes",
			up.Path, int64(e2ee.MaxAttachmentSize))
	}
	if up.Name == "" {
		up.Name = filepath.Base(up.Path)
	}
	if up.MediaType == "" {
		up.MediaType = "application/octet-stream"
	}
	abs, err := filepath.Abs(up.Path)
	if err != nil {
		return e2ee.AttachmentRef{}, err
	}
	pending := &uploadState{ConversationID: up.ConversationID, Path: abs, Size: info.Size(),
		ModTime: info.ModTime().UTC(), Name: up.Name, MediaType: up.MediaType}
	id, view, err := c.startUpload(ctx, pending)
	if err != nil {
		return e2ee.AttachmentRef{}, err
	}
	var key e2ee.AttachmentKey
	copy(key[:], pending.Key)

	digest, err := c.sendChunks(ctx, abs, key, view, progress)
	if err != nil {
		return e2ee.AttachmentRef{}, fmt.Errorf("attach %s: %w; run the command again to resume", up.Name, err)
	}
	err = c.doJSON(ctx, request{method: "POST", path: "/api/v1/attachments/" + id + "/complete", device: true}, nil)
	if err != nil {
		return e2ee.AttachmentRef{}, fmt.Errorf("complete upload: %w", err)
	}
	c.mu.Lock()
	delete(c.st.Uploads, id)
	err = c.saveLocked()
	c.mu.Unlock()
	return e2ee.AttachmentRef{ID: id, Name: up.Name, MediaType: up.MediaType, Size: info.Size(),
		Key: key, Digest: digest}, err
}

// startUpload resumes a matching pending upload, or creates one on the
// server and records it with a fresh key.
func (c *Client) startUpload(ctx context.Context, want *uploadState) (string, *uploadView, error) {
	c.mu.Lock()
	var resumeID string
	for id, u := range c.st.Uploads {
		if u.ConversationID == want.ConversationID && u.Path == want.Path && u.Size == want.Size &&
			u.ModTime.Equal(want.ModTime) && u.Name == want.Name && u.MediaType == want.MediaType {
			resumeID, want.Key = id, u.Key
		}
	}
	c.mu.Unlock()
	if resumeID != "" {
		var view uploadView
		err := c.doJSON(ctx, request{method: "GET", path: "/api/v1/attachments/" + resumeID + "/upload",
			device: true}, &view)
		if err == nil {
			c.log.Debug("resuming upload", "attachment", resumeID, "offset", view.Offset)
			return resumeID, &view, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return "", nil, fmt.Errorf("upload status: %w", err)
		}
		c.mu.Lock()
		delete(c.st.Uploads, resumeID) // expired on the server: start over
		c.mu.Unlock()
	}

	key, err := e2ee.NewAttachmentKey(nil)
	if err != nil {
		return "", nil, err
	}
	want.Key = key[:]
	var view uploadView
	err = c.doJSON(ctx, request{method: "POST", path: "/api/v1/attachments", device: true,
		body: map[string]any{"conversation_id": want.ConversationID,
			"size": e2ee.AttachmentCiphertextSize(want.Size)}}, &view)
	if err != nil {
		return "", nil, fmt.Errorf("create upload: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Uploads[view.ID] = want
	return view.ID, &view, c.saveLocked()
}

// sendChunks encrypts the file into a pipe and uploads the stream from
// view.Offset in chunks. It returns the digest of the whole stream.
func (c *Client) sendChunks(ctx context.Context, path string, key e2ee.AttachmentKey, view *uploadView,
	progress Progress) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	digestc := make(chan [32]byte, 1)
	done := make(chan struct{})
	// Closing the reader stops the encrypting goroutine, which is waited
	// for before the file closes.
	defer func() {
		pr.Close()
		<-done
	}()
	go func() {
		defer close(done)
		w, err := e2ee.NewAttachmentWriter(pw, key)
		if err == nil {
			_, err = io.Copy(w, f)
		}
		if err == nil {
			err = w.Close()
		}
		if err == nil {
			digestc <- w.Digest()
		}
		pw.CloseWithError(err)
	}()

	if _, err := io.CopyN(io.Discard, pr, view.Offset); err != nil {
		return [32]byte{}, fmt.Errorf("skip uploaded bytes: %w", err)
	}
	chunk := view.MaxChunkBytes
	if chunk <= 0 || chunk > defaultChunkBytes {
		chunk = defaultChunkBytes
	}
	buf := make([]byte, chunk)
	offset := view.Offset
	if progress != nil {
		progress(offset, view.Size)
	}
	for offset < view.Size {
		n, err := io.ReadFull(pr, buf[:min(chunk, view.Size-offset)])
		if err != nil {
			return [32]byte{}, fmt.Errorf("encrypt attachment: %w", err)
		}
		if err := c.putChunk(ctx, view.ID, offset, buf[:n]); err != nil {
			return [32]byte{}, err
		}
		offset += int64(n)
		if progress != nil {
			progress(offset, view.Size)
		}
	}
	if _, err := io.Copy(io.Discard, pr); err != nil {
		return [32]byte{}, fmt.Errorf("encrypt attachment: %w", err)
	}
	select {
	case d := <-digestc:
		return d, nil
	default:
		return [32]byte{}, errors.New("encrypt attachment: the stream ended without a digest")
	}
}

func (c *Client) putChunk(ctx context.Context, id string, offset int64, data []byte) error {
	resp, err := c.do(ctx, request{
		method:      "PUT",
		path:        "/api/v1/attachments/" + id + "/chunks?offset=" + strconv.FormatInt(offset, 10),
		bodyReader:  bytes.NewReader(data),
		contentType: "application/octet-stream",
		device:      true,
	})
	if err != nil {
		return fmt.Errorf("upload chunk at offset %d: %w", offset, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	return resp.Body.Close()
}

// DownloadAttachment downloads an attachment, decrypting and checking it
// while streaming into a temporary file next to dst, which becomes dst
// only when the whole stream authenticated and its digest matched. An
// existing dst is replaced.
func (c *Client) DownloadAttachment(ctx context.Context, ref e2ee.AttachmentRef, dst string,
	progress Progress) (int64, error) {
	if _, err := c.activeKeys(); err != nil {
		return 0, err
	}
	resp, err := c.do(ctx, request{method: "GET", path: "/api/v1/attachments/" + url.PathEscape(ref.ID),
		device: true})
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", ref.ID, err)
	}
	defer resp.Body.Close()
	total := e2ee.AttachmentCiphertextSize(ref.Size)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("download %s: status %d", ref.ID, resp.StatusCode)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part*")
	if err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return 0, err
	}
	body := &countingReader{r: io.LimitReader(resp.Body, total+1), total: total, progress: progress}
	n, err := e2ee.DecryptAttachment(tmp, body, ref.Key, ref.Digest)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", ref.ID, err)
	}
	if n != ref.Size {
		return 0, fmt.Errorf("download %s: %d bytes decrypted, the message states %d", ref.ID, n, ref.Size)
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	return n, nil
}

type countingReader struct {
	r        io.Reader
	n, total int64
	progress Progress
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	if cr.progress != nil && n > 0 {
		cr.progress(cr.n, cr.total)
	}
	return n, err
}

// FindAttachment reads the message at seq again without moving the read
// position and returns its attachment with the given index (from 0).
func (c *Client) FindAttachment(ctx context.Context, convID string, seq uint64, index int) (e2ee.AttachmentRef, error) {
	if seq == 0 {
		return e2ee.AttachmentRef{}, fmt.Errorf("message seq must be at least 1")
	}
	res, err := c.read(ctx, convID, ReadOptions{After: seq - 1, Limit: 1}, false)
	if err != nil {
		return e2ee.AttachmentRef{}, err
	}
	if len(res.Messages) == 0 || res.Messages[0].Seq != seq {
		return e2ee.AttachmentRef{}, fmt.Errorf("message %d of %s: %w", seq, convID, ErrNotFound)
	}
	m := res.Messages[0]
	if m.Err != nil {
		return e2ee.AttachmentRef{}, m.Err
	}
	if index < 0 || index >= len(m.Attachments) {
		return e2ee.AttachmentRef{}, fmt.Errorf("message %d has %d attachments, no index %d: %w",
			seq, len(m.Attachments), index, ErrNoSuchAttachment)
	}
	return m.Attachments[index], nil
}
