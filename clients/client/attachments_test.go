package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bedside-health/bedside/clients/client"
	"github.com/bedside-health/bedside/e2ee"
)

func TestAttachmentUploadResumeAndDownload(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	conv := f.careConversation()

	// Three and a half chunks of 1 MiB, so the upload can stop after one.
	plain := make([]byte, 3<<20+512<<10)
	rand.Read(plain)
	src := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(src, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	up := client.Upload{ConversationID: conv, Path: src, MediaType: "image/jpeg"}

	ctx, cancel := context.WithCancel(testContext(t))
	_, err := pat.UploadAttachment(ctx, up, func(done, total int64) {
		if done > 0 {
			cancel() // stop after the first chunk
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: got %v, want context.Canceled", err)
	}
	var resumedAt int64 = -1
	ref, err := pat.UploadAttachment(testContext(t), up, func(done, total int64) {
		if resumedAt < 0 {
			resumedAt = done
		}
	})
	if err != nil {
		t.Fatalf("resumed upload: %v", err)
	}
	if resumedAt <= 0 {
		t.Errorf("resumed upload started at offset %d, want after the first chunk", resumedAt)
	}
	res, err := pat.Send(testContext(t), conv, e2ee.Payload{Text: "the photo", Attachments: []e2ee.AttachmentRef{ref}})
	if err != nil {
		t.Fatal(err)
	}

	found, err := clin.FindAttachment(testContext(t), conv, res.Seq, 0)
	if err != nil {
		t.Fatalf("find attachment: %v", err)
	}
	if found.Name != "photo.jpg" || found.MediaType != "image/jpeg" || found.Size != int64(len(plain)) {
		t.Errorf("attachment: got %s %s %d bytes, want photo.jpg image/jpeg %d", found.Name, found.MediaType,
			found.Size, len(plain))
	}
	dst := filepath.Join(t.TempDir(), "out.jpg")
	if _, err := clin.DownloadAttachment(testContext(t), found, dst, nil); err != nil {
		t.Fatalf("download: %v", err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("downloaded file differs from the uploaded one")
	}
	if _, err := clin.FindAttachment(testContext(t), conv, res.Seq, 1); !errors.Is(err, client.ErrNoSuchAttachment) {
		t.Errorf("attachment index 1: got %v, want ErrNoSuchAttachment", err)
	}
	// The message is still new for the clinician: finding it did not move
	// the read position.
	if texts := readTexts(t, clin, conv); len(texts) != 1 || texts[0] != "the photo" {
		t.Errorf("clinician read: got %q, want the photo message", texts)
	}

	// A wrong digest (a server serving other bytes) leaves no file.
	bad := found
	bad.Digest[0] ^= 1
	dst2 := filepath.Join(t.TempDir(), "bad.jpg")
	if _, err := clin.DownloadAttachment(testContext(t), bad, dst2, nil); !errors.Is(err, e2ee.ErrAttachmentDigest) {
		t.Errorf("download with a wrong digest: got %v, want ErrAttachmentDigest", err)
	}
	if _, err := os.Stat(dst2); !os.IsNotExist(err) {
		t.Errorf("a failed download left %s", dst2)
	}
	assertNoPlaintext(t, f.DataDir, string(plain[:64]), string(plain[2<<20:2<<20+64]))
}
