package messaging

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// TypeConversationDelete is the audit event of an administrator deleting a
// conversation's history; TargetID is the conversation, Detail "count" the
// messages and "attachments" the attachments removed.
const TypeConversationDelete = audit.AdminTypePrefix + "conversation_delete"

// orphanAge is the minimum age of a file without a record in the
// attachment directory before the sweep removes it. Records are written before their
// files, so a younger file may belong to an upload being created.
const orphanAge = time.Hour

// sweepBatch bounds the attachments handled per store query.
const sweepBatch = 500

// SweepResult counts what one Sweep removed.
type SweepResult struct {
	Messages    int // messages past the retention period
	Attachments int // attachments past the retention period
	Uploads     int // unfinished uploads older than UploadExpiry
	Orphans     int // attachment files without a record
}

// Start runs Sweep once and then every SweepInterval in a background
// goroutine, until ctx ends or Close is called. Starting twice is an error.
func (s *Service) Start(ctx context.Context) error {
	s.jobMu.Lock()
	defer s.jobMu.Unlock()
	if s.jobStop != nil {
		return errors.New("messaging: Start called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.jobStop, s.jobDone = cancel, make(chan struct{})
	go s.runSweeps(ctx, s.jobDone)
	s.log.LogAttrs(ctx, slog.LevelInfo, "messaging retention job started",
		slog.Int("retention_days", s.cfg.RetentionDays), slog.String("interval", s.cfg.SweepInterval.String()))
	return nil
}

func (s *Service) runSweeps(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(s.cfg.SweepInterval)
	defer ticker.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelError, "messaging sweep failed", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Close stops the background job and waits for a running sweep to finish.
// It is safe to call without Start and more than once.
func (s *Service) Close() error {
	s.jobMu.Lock()
	stop, done := s.jobStop, s.jobDone
	s.jobMu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-done
	return nil
}

// Sweep deletes messages and attachments past the retention period (when
// RetentionDays is set), unfinished uploads older than UploadExpiry, and
// attachment files that have no record. It is what the background job
// runs; calling it directly is safe at any time.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := s.now()
	if s.cfg.RetentionDays > 0 {
		cutoff := now.Add(-time.Duration(s.cfg.RetentionDays) * 24 * time.Hour)
		n, err := s.db.DeleteMessagesBefore(cutoff, 0)
		res.Messages = n
		if err != nil {
			return res, err
		}
		if res.Attachments, err = s.deleteAttachmentsBefore(ctx, cutoff, false); err != nil {
			return res, err
		}
	}
	var err error
	if res.Uploads, err = s.deleteAttachmentsBefore(ctx, now.Add(-s.cfg.UploadExpiry), true); err != nil {
		return res, err
	}
	if res.Orphans, err = s.removeOrphans(now); err != nil {
		return res, err
	}
	if res != (SweepResult{}) {
		s.log.LogAttrs(ctx, slog.LevelInfo, "messaging sweep removed data",
			slog.Int("messages", res.Messages), slog.Int("attachments", res.Attachments),
			slog.Int("uploads", res.Uploads), slog.Int("orphan_files", res.Orphans))
	}
	return res, nil
}

// deleteAttachmentsBefore removes attachments created before cutoff, only
// unfinished ones when unfinishedOnly is set. An upload with a chunk being
// written is skipped until the next sweep.
func (s *Service) deleteAttachmentsBefore(ctx context.Context, cutoff time.Time, unfinishedOnly bool) (int, error) {
	total := 0
	for ctx.Err() == nil {
		list, err := s.db.AttachmentsCreatedBefore(cutoff, unfinishedOnly, sweepBatch)
		if err != nil {
			return total, err
		}
		removed := 0
		for _, a := range list {
			ok, err := s.deleteAttachment(a.ID)
			if err != nil {
				return total, err
			}
			if ok {
				removed++
			}
		}
		total += removed
		if len(list) < sweepBatch || removed == 0 {
			break
		}
	}
	return total, nil
}

// deleteAttachment removes the record, then the file. A crash in between
// leaves a file without a record, which removeOrphans deletes later.
func (s *Service) deleteAttachment(id string) (bool, error) {
	if !s.lockUpload(id) {
		return false, nil
	}
	defer s.unlockUpload(id)
	if _, err := s.db.DeleteAttachment(id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if err := os.Remove(s.blobPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove attachment file %s: %w", id, err)
	}
	return true, nil
}

// removeOrphans deletes files in the attachment directory that are older
// than orphanAge and have no record.
func (s *Service) removeOrphans(now time.Time) (int, error) {
	entries, err := os.ReadDir(s.blobDir)
	if err != nil {
		return 0, fmt.Errorf("list attachment directory: %w", err)
	}
	n := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || now.Sub(info.ModTime()) < orphanAge {
			continue
		}
		if validAttachmentID(e.Name()) {
			_, err := s.db.Attachment(e.Name())
			if !errors.Is(err, store.ErrNotFound) {
				continue // a record exists, or the lookup failed: keep the file
			}
		}
		if err := os.Remove(s.blobPath(e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("remove orphan attachment file: %w", err)
		}
		n++
	}
	return n, nil
}

// deleteView is the response body of DELETE /api/v1/conversations/{id}.
type deleteView struct {
	Messages    int `json:"deleted_messages"`
	Attachments int `json:"deleted_attachments"`
}

// handleDeleteConversation deletes a conversation's messages, envelopes,
// markers and attachments. Only administrators may (conversation.delete);
// the conversation itself remains, and new messages continue its sequence.
func (s *Service) handleDeleteConversation(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	conv, err := s.conversation(ctx, actor, policy.ActionConversationDelete, r.PathValue("id"))
	if err != nil {
		return err
	}

	var out deleteView
	if out.Messages, err = s.db.DeleteConversationMessages(conv.ID, actor.UserID, s.now()); err != nil {
		return err
	}
	attachments, err := s.db.ConversationAttachments(conv.ID)
	if err != nil {
		return err
	}
	for _, a := range attachments {
		ok, err := s.deleteAttachment(a.ID)
		if err != nil {
			return err
		}
		if !ok {
			// NOTE: an upload with a chunk in flight is skipped and
			// survives this deletion; a second DELETE removes it.
			continue
		}
		out.Attachments++
	}

	s.record(ctx, audit.Event{Type: TypeConversationDelete, ActorID: actor.UserID, TargetID: conv.ID,
		Address: api.ClientAddr(r), Outcome: audit.OutcomeSuccess,
		Detail: map[string]string{audit.DetailCount: strconv.Itoa(out.Messages),
			"attachments": strconv.Itoa(out.Attachments), audit.DetailRole: string(actor.Role)}})
	s.log.LogAttrs(ctx, slog.LevelInfo, "conversation deleted", slog.String("conversation", conv.ID),
		slog.String("by", actor.UserID), slog.Int("messages", out.Messages), slog.Int("attachments", out.Attachments))
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}
