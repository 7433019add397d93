package audit

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/bedside-health/bedside/store"
)

// ProblemKind names what Verify found wrong.
type ProblemKind string

// Problems Verify reports, in the order it checks each record.
const (
	// ProblemUnexpectedKey is a bbolt key that is not 8 bytes long: an
	// inserted entry.
	ProblemUnexpectedKey ProblemKind = "unexpected_key"
	// ProblemMalformed is a value that is not a valid record encoding.
	ProblemMalformed ProblemKind = "malformed"
	// ProblemSeqMismatch is a record stored under another sequence number
	// than it carries: records were moved or reordered.
	ProblemSeqMismatch ProblemKind = "sequence_mismatch"
	// ProblemGap is one or more missing sequence numbers: deleted records.
	ProblemGap ProblemKind = "sequence_gap"
	// ProblemHashMismatch is a record whose bytes do not hash to its
	// stored hash: the record was edited.
	ProblemHashMismatch ProblemKind = "hash_mismatch"
	// ProblemChainBroken is a record whose previous-hash field differs
	// from the previous record's hash: a record before it was replaced,
	// inserted or removed.
	ProblemChainBroken ProblemKind = "chain_broken"
	// ProblemCheckpointMalformed is a checkpoint that cannot be decoded or
	// is stored under another sequence number than it carries.
	ProblemCheckpointMalformed ProblemKind = "checkpoint_malformed"
	// ProblemCheckpointSignature is a checkpoint whose signature does not
	// verify under the public key: forged or signed by another server.
	ProblemCheckpointSignature ProblemKind = "checkpoint_signature"
	// ProblemCheckpointMismatch is a record whose hash differs from the
	// hash a valid checkpoint signed for it: the chain was rewritten.
	ProblemCheckpointMismatch ProblemKind = "checkpoint_mismatch"
	// ProblemCheckpointMissing is a valid checkpoint over a record that
	// no longer exists: the log was truncated.
	ProblemCheckpointMissing ProblemKind = "checkpoint_record_missing"
)

// maxProblems bounds Report.Problems.
const maxProblems = 100

// Problem is one finding of Verify.
type Problem struct {
	Seq     uint64      `json:"seq"`
	Kind    ProblemKind `json:"kind"`
	Message string      `json:"message"`
}

// Report is the result of Verify.
type Report struct {
	// Records is the number of entries in the audit bucket.
	Records uint64 `json:"records"`
	// LastSeq and LastHash describe the last record.
	LastSeq  uint64 `json:"last_seq"`
	LastHash Hash   `json:"last_hash"`
	// Checkpoints is the number of stored checkpoints.
	Checkpoints int `json:"checkpoints"`
	// SignedThrough is the highest record sequence number covered by a
	// valid checkpoint that matches the chain.
	SignedThrough uint64 `json:"signed_through"`
	// Unsigned is the number of records after SignedThrough. Removing
	// them leaves no trace, because only a signature binds the tail.
	Unsigned uint64 `json:"unsigned"`
	// Problems lists the findings in log order, records first, at most
	// 100; MoreProblems is set when there were more.
	Problems     []Problem `json:"problems"`
	MoreProblems bool      `json:"more_problems,omitempty"`
}

// OK reports whether the log passed every check.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// FirstBroken returns the first problem found, or nil when the log is
// intact.
func (r *Report) FirstBroken() *Problem {
	if len(r.Problems) == 0 {
		return nil
	}
	return &r.Problems[0]
}

// Err returns nil for an intact log and otherwise an error wrapping
// ErrTampered that names the first problem.
func (r *Report) Err() error {
	p := r.FirstBroken()
	if p == nil {
		return nil
	}
	return fmt.Errorf("%w: record %d: %s: %s (%d problems)", ErrTampered, p.Seq, p.Kind, p.Message,
		len(r.Problems))
}

func (r *Report) add(seq uint64, kind ProblemKind, format string, args ...any) {
	if len(r.Problems) >= maxProblems {
		r.MoreProblems = true
		return
	}
	r.Problems = append(r.Problems, Problem{Seq: seq, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// Verify checks the whole audit log in db. Every record must be
// well-formed, stored under its own sequence number with none missing,
// hash to its stored hash and link to the previous record. Every
// checkpoint must carry a valid signature under pub and match the record
// it covers. Verify returns an error only when the database cannot be
// read; findings are in the Report, and Report.Err turns them into an
// error. It reads each bucket in its own transaction, so it may run while
// the server writes.
func Verify(db *store.DB, pub ed25519.PublicKey) (Report, error) {
	v := verifier{expect: 1, prevKnown: true}
	var err error
	v.checkpoints, v.cpProblems, err = loadCheckpoints(db, pub, &v.rep)
	if err != nil {
		return v.rep, err
	}
	if err := db.ScanAudit(0, v.record); err != nil {
		return v.rep, fmt.Errorf("verify audit log: %w", err)
	}
	v.finish()
	if v.rep.Problems == nil {
		v.rep.Problems = []Problem{} // an intact log reports "problems": []
	}
	return v.rep, nil
}

// verifier carries the state of one Verify pass between records.
type verifier struct {
	rep         Report
	checkpoints map[uint64]Checkpoint // valid checkpoints not yet matched to a record
	cpProblems  []Problem
	expect      uint64 // sequence number the next record should carry
	prev        Hash   // stored hash of the previous record
	prevKnown   bool   // false after a record that could not be decoded
}

// record checks one stored entry and reports at most one problem for it,
// the first that applies.
func (v *verifier) record(e store.RawAuditEntry) error {
	v.rep.Records++
	if len(e.Key) != 8 {
		v.rep.add(v.expect, ProblemUnexpectedKey, "key %x is not a sequence number: an entry was inserted", e.Key)
		return nil
	}
	seq := binary.BigEndian.Uint64(e.Key)
	rec, computed, derr := decodeRecord(e.Value)
	switch {
	case derr != nil:
		v.rep.add(seq, ProblemMalformed, "%v", derr)
	case rec.Seq != seq:
		v.rep.add(seq, ProblemSeqMismatch, "record carries sequence number %d: records were moved or reordered", rec.Seq)
	case seq != v.expect:
		v.rep.add(seq, ProblemGap, "records %d to %d are missing", v.expect, seq-1)
	case computed != rec.Hash:
		v.rep.add(seq, ProblemHashMismatch, "stored hash does not match the record's bytes: the record was edited")
	case v.prevKnown && rec.PrevHash != v.prev:
		v.rep.add(seq, ProblemChainBroken, "previous hash does not match record %d: "+
			"that record was replaced or records were inserted or removed", seq-1)
	}

	if cp, ok := v.checkpoints[seq]; ok {
		delete(v.checkpoints, seq)
		if derr != nil || cp.RecordHash != rec.Hash {
			v.rep.add(seq, ProblemCheckpointMismatch, "record differs from the signed checkpoint: the chain was rewritten")
		} else {
			v.rep.SignedThrough = seq
		}
	}
	v.expect, v.prev, v.prevKnown = seq+1, rec.Hash, derr == nil
	v.rep.LastSeq, v.rep.LastHash = seq, rec.Hash
	return nil
}

// finish reports the checkpoints left over, which cover missing records,
// and the checkpoints that failed to load, after the record problems.
func (v *verifier) finish() {
	missing := make([]uint64, 0, len(v.checkpoints))
	for seq := range v.checkpoints {
		missing = append(missing, seq)
	}
	slices.Sort(missing)
	for _, seq := range missing {
		v.rep.add(seq, ProblemCheckpointMissing,
			"a signed checkpoint covers record %d, which is missing: the log was truncated", seq)
	}
	for _, p := range v.cpProblems {
		v.rep.add(p.Seq, p.Kind, "%s", p.Message)
	}
	v.rep.Unsigned = v.rep.LastSeq - min(v.rep.SignedThrough, v.rep.LastSeq)
}

// loadCheckpoints returns the checkpoints with valid signatures by
// sequence number, and problems for the others.
func loadCheckpoints(db *store.DB, pub ed25519.PublicKey, rep *Report) (map[uint64]Checkpoint, []Problem, error) {
	valid := make(map[uint64]Checkpoint)
	var problems []Problem
	err := db.ScanAuditCheckpoints(func(e store.RawAuditEntry) error {
		rep.Checkpoints++
		c, err := decodeCheckpoint(e.Value)
		switch {
		case err != nil || len(e.Key) != 8 || binary.BigEndian.Uint64(e.Key) != c.Seq:
			var seq uint64
			if len(e.Key) == 8 {
				seq = binary.BigEndian.Uint64(e.Key)
			}
			problems = append(problems, Problem{Seq: seq, Kind: ProblemCheckpointMalformed,
				Message: fmt.Sprintf("checkpoint under key %x cannot be read or is misplaced", e.Key)})
		case !c.verifySignature(pub):
			problems = append(problems, Problem{Seq: c.Seq, Kind: ProblemCheckpointSignature,
				Message: "checkpoint signature does not verify under the audit public key"})
		default:
			valid[c.Seq] = c
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("verify audit checkpoints: %w", err)
	}
	return valid, problems, nil
}
