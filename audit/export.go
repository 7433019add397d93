package audit

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/bedside-health/bedside/store"
)

// Paging limits of ReadRecords.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// exportChunk is the number of records read per transaction during an
	// export, so a slow reader never holds a bbolt read transaction open
	// for long (a long one makes writers wait when the file must grow).
	exportChunk = 512
)

// Query selects audit records for ReadRecords.
type Query struct {
	// Since keeps records whose time is at or after it; zero keeps all.
	Since time.Time
	// After keeps records with a larger sequence number: the NextAfter of
	// the previous page.
	After uint64
	// Limit is the page size, 1 to MaxPageSize; zero means
	// DefaultPageSize.
	Limit int
}

// Page is one page of audit records in sequence order.
type Page struct {
	Records []Record `json:"records"`
	// NextAfter is the Query.After of the next page, or zero at the end.
	NextAfter uint64 `json:"next_after,omitempty"`
}

// ReadRecords returns the records q selects, in sequence order. Event
// times come from the emitters and may be slightly out of order, so Since
// filters record by record rather than seeking. A record that cannot be
// decoded fails the read with ErrMalformedRecord, and Verify locates it.
func ReadRecords(db *store.DB, q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	q.Limit = min(q.Limit, MaxPageSize)
	var page Page
	err := db.ScanAudit(q.After, func(e store.RawAuditEntry) error {
		r, err := decodeEntry(e)
		if err != nil {
			return err
		}
		if r.Time.Before(q.Since) {
			return nil
		}
		if len(page.Records) == q.Limit {
			page.NextAfter = page.Records[len(page.Records)-1].Seq
			return store.ErrStopScan
		}
		page.Records = append(page.Records, r)
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("read audit records: %w", err)
	}
	return page, nil
}

func decodeEntry(e store.RawAuditEntry) (Record, error) {
	if len(e.Key) != 8 {
		return Record{}, fmt.Errorf("%w: key %x is not a sequence number", ErrMalformedRecord, e.Key)
	}
	r, _, err := decodeRecord(e.Value)
	if err != nil {
		return Record{}, err
	}
	if r.Seq != binary.BigEndian.Uint64(e.Key) {
		return Record{}, fmt.Errorf("%w: record %d stored under key %x", ErrMalformedRecord, r.Seq, e.Key)
	}
	return r, nil
}

// Export writes every record whose time is at or after since (all records
// when since is zero) to w as JSON lines, one Record object per line, in
// sequence order. It reads the log in short transactions, so it may run
// while the server writes. Records appended during the export are included
// until it reaches the end. It stops with ctx's error when ctx ends. Export does not record an audit event: callers that
// expose it (the admin API) do.
func Export(ctx context.Context, db *store.DB, w io.Writer, since time.Time) error {
	_, err := export(ctx, db, w, since)
	return err
}

// export is Export returning the number of records written.
func export(ctx context.Context, db *store.DB, w io.Writer, since time.Time) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var after uint64
	count := 0
	for {
		if err := ctx.Err(); err != nil {
			return count, fmt.Errorf("export audit log: %w", err)
		}
		chunk := make([]Record, 0, exportChunk)
		err := db.ScanAudit(after, func(e store.RawAuditEntry) error {
			r, err := decodeEntry(e)
			if err != nil {
				return err
			}
			chunk = append(chunk, r)
			if len(chunk) == exportChunk {
				return store.ErrStopScan
			}
			return nil
		})
		if err != nil {
			return count, fmt.Errorf("export audit log: %w", err)
		}
		for _, r := range chunk {
			after = r.Seq
			if r.Time.Before(since) {
				continue
			}
			line, err := r.MarshalJSON()
			if err != nil {
				return count, fmt.Errorf("export audit record %d: %w", r.Seq, err)
			}
			if _, err := bw.Write(append(line, '\n')); err != nil {
				return count, fmt.Errorf("export audit log: %w", err)
			}
			count++
		}
		if len(chunk) < exportChunk {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return count, fmt.Errorf("export audit log: %w", err)
	}
	return count, nil
}
