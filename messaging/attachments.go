package messaging

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Attachments are opaque encrypted streams (e2ee attachment format); the
// key and digest that decrypt and check them travel inside the message
// that references them. The server stores each as one file
// DataDir/attachments/<id> with mode 0600 and streams it in and out with a
// fixed-size buffer, never holding a whole attachment in memory.

// copyBufferSize is the buffer of every attachment copy.
const copyBufferSize = 32 << 10

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// createUploadRequest is the body of POST /api/v1/attachments.
type createUploadRequest struct {
	ConversationID string `json:"conversation_id"`
	// Size is the total ciphertext size in bytes.
	Size int64 `json:"size"`
}

// uploadView is an attachment upload as its owner sees it.
type uploadView struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Size           int64     `json:"size"`
	Offset         int64     `json:"offset"`
	Complete       bool      `json:"complete"`
	CreatedAt      time.Time `json:"created_at"`
	MaxChunkBytes  int64     `json:"max_chunk_bytes"`
}

func (s *Service) viewUpload(a *store.Attachment) uploadView {
	return uploadView{ID: a.ID, ConversationID: a.ConversationID, Size: a.Size, Offset: a.Received,
		Complete: a.Complete(), CreatedAt: a.CreatedAt, MaxChunkBytes: s.cfg.MaxChunkBytes}
}

func (s *Service) blobPath(id string) string { return filepath.Join(s.blobDir, id) }

// newAttachmentID returns 128 random bits in lower-case hex.
func newAttachmentID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validAttachmentID reports whether id has the shape newAttachmentID
// returns, so that it is safe as a file name.
func validAttachmentID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func (s *Service) handleCreateUpload(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	if _, err := s.callerDevice(r, actor); err != nil {
		return err
	}
	var req createUploadRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	conv, err := s.conversation(ctx, actor, policy.ActionAttachmentUpload, req.ConversationID)
	if err != nil {
		return err
	}
	if req.Size <= 0 {
		return api.BadRequest("invalid_size", "size must be the attachment's ciphertext size in bytes, at least 1")
	}
	if req.Size > s.cfg.MaxAttachmentBytes {
		return errTooLarge("attachment_too_large",
			fmt.Sprintf("the attachment of %d bytes exceeds the limit of %d bytes", req.Size, s.cfg.MaxAttachmentBytes),
			map[string]int64{"max_bytes": s.cfg.MaxAttachmentBytes})
	}

	a := &store.Attachment{ID: newAttachmentID(), ConversationID: conv.ID, OwnerID: actor.UserID,
		Size: req.Size, CreatedAt: s.now().UTC()}
	err = s.db.CreateAttachment(a, s.cfg.AttachmentQuotaBytes)
	var quota *store.QuotaError
	if errors.As(err, &quota) {
		return errTooLarge("quota_exceeded",
			fmt.Sprintf("your attachments use %d of %d bytes, so %d more do not fit: "+
				"wait for old attachments to expire or send a smaller file", quota.Used, quota.Quota, quota.Requested),
			map[string]int64{"used": quota.Used, "quota": quota.Quota, "requested": quota.Requested})
	}
	if err != nil {
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "upload created", slog.String("attachment", a.ID),
		slog.String("conversation", conv.ID), slog.Int64("size", a.Size))
	api.WriteJSON(w, http.StatusCreated, s.viewUpload(a))
	return nil
}

// ownUpload returns the attachment id if actor created it and the policy
// still lets him upload to its conversation, so an uploader who left the
// care team cannot finish. Anyone else gets api.NotFound, as for a missing
// id.
func (s *Service) ownUpload(r *http.Request, actor policy.Actor) (*store.Attachment, error) {
	id := r.PathValue("id")
	if !validAttachmentID(id) {
		return nil, api.NotFound()
	}
	a, err := s.db.Attachment(id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.OwnerID != actor.UserID) {
		return nil, api.NotFound()
	}
	if err != nil {
		return nil, err
	}
	if err := s.authorizeAttachment(r, actor, policy.ActionAttachmentUpload, a); err != nil {
		return nil, err
	}
	return a, nil
}

// authorizeAttachment checks with the directory that actor may perform
// action on attachment a, placed in its conversation.
func (s *Service) authorizeAttachment(r *http.Request, actor policy.Actor, action policy.Action,
	a *store.Attachment) error {
	conv, err := ParseConversationID(a.ConversationID)
	if err != nil {
		return api.NotFound()
	}
	res := conv.Resource()
	res.Kind, res.ID = policy.KindAttachment, a.ID
	return s.dir.Authorize(r.Context(), actor, action, res)
}

func (s *Service) handleUploadStatus(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	if _, err := s.callerDevice(r, actor); err != nil {
		return err
	}
	a, err := s.ownUpload(r, actor)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, s.viewUpload(a))
	return nil
}

// handleChunk writes the request body at the upload's current offset. The
// offset comes from the offset query parameter or a Content-Range header
// ("bytes 0-1023/4096"); it must equal the bytes received so far. Bytes
// that reached the disk before the client vanished count as received, so
// the client resumes from GET .../upload.
func (s *Service) handleChunk(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	if _, err := s.callerDevice(r, actor); err != nil {
		return err
	}
	a, err := s.ownUpload(r, actor)
	if err != nil {
		return err
	}
	if !s.lockUpload(a.ID) {
		return api.Conflict("upload_busy", "another chunk of this upload is being written: wait for it to finish")
	}
	defer s.unlockUpload(a.ID)
	// Read the record again under the lock: a chunk that just finished
	// has moved the offset.
	if a, err = s.db.Attachment(a.ID); err != nil {
		return err
	}
	if a.Complete() {
		return api.Conflict("upload_complete", "this upload is complete: it accepts no more bytes")
	}
	offset, length, err := chunkRange(r, a.Size)
	if err != nil {
		return err
	}
	if offset != a.Received {
		return errOffsetMismatch(a.Received)
	}
	if err := requireMediaType(r, "application/octet-stream"); err != nil {
		return err
	}
	limit := min(a.Size-offset, s.cfg.MaxChunkBytes)
	if length >= 0 {
		limit = min(limit, length)
	}
	if r.ContentLength > limit || length > limit {
		return errTooLarge("chunk_too_large",
			fmt.Sprintf("this chunk may hold at most %d bytes: the chunk limit or the rest of the declared size", limit),
			map[string]int64{"max_bytes": limit})
	}

	n, copyErr := s.writeChunk(w, r, a.ID, offset, limit)
	var tooLarge *http.MaxBytesError
	if errors.As(copyErr, &tooLarge) {
		// The bytes past the recorded offset are overwritten by the next
		// chunk and cut off at completion.
		return errTooLarge("chunk_too_large", fmt.Sprintf("this chunk may hold at most %d bytes", limit),
			map[string]int64{"max_bytes": limit})
	}
	if n > 0 {
		if a, err = s.db.SetAttachmentReceived(a.ID, offset, offset+n); err != nil {
			return err
		}
	}
	if copyErr != nil {
		s.warn(r.Context(), "attachment chunk cut short", slog.String("attachment", a.ID),
			slog.Int64("written", n), slog.String("err", copyErr.Error()))
		return api.BadRequest("truncated_body", fmt.Sprintf(
			"the chunk ended early; %d bytes were kept: resume at offset %d", n, offset+n))
	}
	api.WriteJSON(w, http.StatusOK, s.viewUpload(a))
	return nil
}

func errOffsetMismatch(received int64) *api.Error {
	return &api.Error{Status: http.StatusConflict, Code: "offset_mismatch",
		Message: fmt.Sprintf("the upload has %d bytes, so the next chunk starts at offset %d", received, received),
		Details: map[string]int64{"offset": received}}
}

// chunkRange returns the chunk's offset and, when a Content-Range header
// declares it, its length (otherwise -1).
func chunkRange(r *http.Request, size int64) (offset, length int64, err error) {
	length = -1
	offset = -1
	if raw := r.URL.Query().Get("offset"); raw != "" {
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || v < 0 {
			return 0, 0, api.BadRequest("invalid_query",
				"query parameter offset must be a non-negative decimal integer, got "+strconv.Quote(truncate(raw)))
		}
		offset = v
	}
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, total, ok := parseContentRange(cr)
		if !ok || end < start || (total >= 0 && total != size) {
			return 0, 0, api.BadRequest("invalid_content_range",
				fmt.Sprintf("Content-Range must be \"bytes START-END/%d\" with START <= END", size))
		}
		if offset >= 0 && offset != start {
			return 0, 0, api.BadRequest("invalid_content_range",
				"the offset parameter and the Content-Range start differ: send one of them")
		}
		offset, length = start, end-start+1
		if r.ContentLength >= 0 && r.ContentLength != length {
			return 0, 0, api.BadRequest("invalid_content_range",
				"Content-Length differs from the length Content-Range declares")
		}
	}
	if offset < 0 {
		return 0, 0, api.BadRequest("missing_offset",
			"give the chunk's offset in the offset query parameter or a Content-Range header")
	}
	return offset, length, nil
}

// parseContentRange parses "bytes START-END/TOTAL"; TOTAL may be "*",
// returned as -1.
func parseContentRange(v string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, totalText, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	startText, endText, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(startText, 10, 64)
	end, err2 = strconv.ParseInt(endText, 10, 64)
	total = -1
	if totalText != "*" {
		total, err3 = strconv.ParseInt(totalText, 10, 64)
	}
	ok = err1 == nil && err2 == nil && err3 == nil && start >= 0
	return start, end, total, ok
}

// writeChunk copies at most limit bytes of the body to the file at offset
// and fsyncs it. It returns the bytes written and the first error of the
// copy; the bytes written are on disk even when that error is not nil.
func (s *Service) writeChunk(w http.ResponseWriter, r *http.Request, id string, offset, limit int64) (int64, error) {
	f, err := os.OpenFile(s.blobPath(id), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open attachment file %s: %w", id, err)
	}
	defer f.Close()
	bufp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bufp)
	body := http.MaxBytesReader(w, r.Body, limit)
	n, copyErr := io.CopyBuffer(io.NewOffsetWriter(f, offset), body, *bufp)
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync attachment file %s: %w", id, err)
	}
	return n, copyErr
}

func (s *Service) lockUpload(id string) bool {
	s.uploadsMu.Lock()
	defer s.uploadsMu.Unlock()
	if s.uploads[id] {
		return false
	}
	s.uploads[id] = true
	return true
}

func (s *Service) unlockUpload(id string) {
	s.uploadsMu.Lock()
	defer s.uploadsMu.Unlock()
	delete(s.uploads, id)
}

// handleComplete finishes an upload once every declared byte arrived. A
// second call returns the same response.
func (s *Service) handleComplete(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	if _, err := s.callerDevice(r, actor); err != nil {
		return err
	}
	a, err := s.ownUpload(r, actor)
	if err != nil {
		return err
	}
	if !s.lockUpload(a.ID) {
		return api.Conflict("upload_busy", "a chunk of this upload is being written: wait for it to finish")
	}
	defer s.unlockUpload(a.ID)
	if a, err = s.db.Attachment(a.ID); err != nil {
		return err
	}
	if a.Complete() {
		api.WriteJSON(w, http.StatusOK, s.viewUpload(a))
		return nil
	}
	if a.Received != a.Size {
		return &api.Error{Status: http.StatusConflict, Code: "upload_incomplete",
			Message: fmt.Sprintf("%d of %d bytes were received: send the rest from offset %d", a.Received, a.Size, a.Received),
			Details: map[string]int64{"offset": a.Received, "size": a.Size}}
	}

	if err := s.finishFile(a); err != nil {
		return err
	}
	if a, err = s.db.CompleteAttachment(a.ID, s.now()); err != nil {
		return err
	}
	s.record(ctx, audit.Event{Type: audit.TypeAttachmentUpload, ActorID: actor.UserID, TargetID: a.ID,
		Address: api.ClientAddr(r), Outcome: audit.OutcomeSuccess,
		Detail: map[string]string{audit.DetailBytes: strconv.FormatInt(a.Size, 10),
			audit.DetailRole: string(actor.Role), "conversation": a.ConversationID}})
	api.WriteJSON(w, http.StatusOK, s.viewUpload(a))
	return nil
}

// finishFile cuts the file to the declared size, dropping bytes of a
// rejected chunk past it, and fsyncs it.
func (s *Service) finishFile(a *store.Attachment) error {
	f, err := os.OpenFile(s.blobPath(a.ID), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open attachment file %s: %w", a.ID, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat attachment file %s: %w", a.ID, err)
	}
	if info.Size() < a.Size {
		return fmt.Errorf("attachment file %s has %d bytes, fewer than the %d recorded as received",
			a.ID, info.Size(), a.Size)
	}
	if err := f.Truncate(a.Size); err != nil {
		return fmt.Errorf("truncate attachment file %s: %w", a.ID, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync attachment file %s: %w", a.ID, err)
	}
	return nil
}

// handleDownload streams a complete attachment to a member of its
// conversation. http.ServeContent handles Range requests. Anyone the
// policy denies gets the same not-found response as for a missing id.
func (s *Service) handleDownload(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	if _, err := s.callerDevice(r, actor); err != nil {
		return err
	}
	id := r.PathValue("id")
	if !validAttachmentID(id) {
		return api.NotFound()
	}
	a, err := s.db.Attachment(id)
	if errors.Is(err, store.ErrNotFound) {
		return api.NotFound()
	}
	if err != nil {
		return err
	}
	if err := s.authorizeAttachment(r, actor, policy.ActionAttachmentDownload, a); err != nil {
		return err
	}
	if !a.Complete() {
		return api.NotFound()
	}
	f, err := os.Open(s.blobPath(a.ID))
	if err != nil {
		return fmt.Errorf("open attachment file %s: %w", a.ID, err)
	}
	defer f.Close()

	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", "attachment")
	h.Set("Cache-Control", "no-store")
	h.Set("ETag", `"`+a.ID+`"`) // the bytes of an id never change
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, f)
	s.record(ctx, audit.Event{Type: audit.TypeAttachmentDownload, ActorID: actor.UserID, TargetID: a.ID,
		Address: api.ClientAddr(r), Outcome: audit.OutcomeSuccess,
		Detail: map[string]string{audit.DetailBytes: strconv.FormatInt(cw.n, 10),
			audit.DetailRole: string(actor.Role), "conversation": a.ConversationID}})
	return nil
}

// countingWriter counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}
