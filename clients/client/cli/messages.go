package cli

import (
	"context"
	"flag"
	"fmt"
	"mime"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bedside-health/bedside/clients/client"
	"github.com/bedside-health/bedside/e2ee"
)

func trustFlags(fs *flag.FlagSet, e *env) {
	fs.BoolVar(&e.trustNew, "trust-new-devices", false,
		"also encrypt to devices that correspondents added since you last accepted their device lists "+
			"(devices without a valid certificate are never used)")
}

func runConsultations(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usagef("consultations takes no arguments")
	}
	return e.withClient(func(c *client.Client) error {
		list, err := c.Consultations(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(e.io.Out, "no consultations")
		}
		for _, q := range list {
			var participants []string
			for _, p := range q.Participants {
				participants = append(participants, p.UserID+" ("+p.Kind+")")
			}
			fmt.Fprintf(e.io.Out, "%s  %s - %s  %-11s  conversation %s  participants: %s\n", q.ID,
				q.Start.Local().Format("2006-01-02 15:04"), q.End.Local().Format("15:04"), q.Status,
				q.ConversationID(), strings.Join(participants, ", "))
		}
		return nil
	})
}

func runConversations(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usagef("conversations takes no arguments")
	}
	return e.withClient(func(c *client.Client) error {
		list, err := c.Conversations(ctx)
		if err != nil {
			return err
		}
		for _, conv := range list {
			fmt.Fprintf(e.io.Out, "%s  messages %d  read %d\n", conv.ID, conv.LastSeq, conv.ReadSeq)
		}
		return nil
	})
}

func runSend(ctx context.Context, e *env, args []string) error {
	if len(args) < 2 {
		return usagef("send needs a conversation and the text")
	}
	text := strings.Join(args[1:], " ")
	return e.withClient(func(c *client.Client) error {
		return e.send(ctx, c, args[0], e2ee.Payload{Text: text})
	})
}

func (e *env) send(ctx context.Context, c *client.Client, conv string, p e2ee.Payload) error {
	res, err := c.Send(ctx, conv, p)
	if err != nil {
		return err
	}
	e.warn(res.Warnings)
	for _, u := range res.NoDevices {
		fmt.Fprintf(e.io.Err, "note: %s has no device yet and cannot read this message\n", u)
	}
	fmt.Fprintf(e.io.Out, "sent message %s (seq %d) to %d devices\n", res.MessageID, res.Seq, len(res.Recipients))
	return nil
}

type readOptions struct {
	all bool
}

func readFlags(fs *flag.FlagSet, e *env) {
	fs.BoolVar(&e.read.all, "all", false, "read the whole history instead of the new messages only")
}

func runRead(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("read needs one conversation")
	}
	return e.withClient(func(c *client.Client) error {
		res, err := c.Read(ctx, args[0], client.ReadOptions{FromStart: e.read.all})
		if err != nil {
			return err
		}
		e.warn(res.Warnings)
		failed := 0
		for _, m := range res.Messages {
			if m.Err != nil {
				failed++
				fmt.Fprintf(e.io.Err, "REJECTED message seq %d (claimed sender %s/%s): %v\n",
					m.Seq, m.SenderUserID, m.SenderDeviceID, m.Err)
				continue
			}
			e.printMessage(m)
		}
		if len(res.Messages) == 0 {
			fmt.Fprintln(e.io.Out, "no new messages")
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d messages were rejected and not shown (see above)", failed, len(res.Messages))
		}
		return nil
	})
}

func (e *env) printMessage(m client.ReceivedMessage) {
	from := m.SenderUserID
	if m.Own {
		from = "me"
	}
	fmt.Fprintf(e.io.Out, "[%d] %s %s: %s\n", m.Seq, m.Time.Local().Format("2006-01-02 15:04:05"), from, m.Text)
	for i, a := range m.Attachments {
		fmt.Fprintf(e.io.Out, "     attachment %d: %s (%s, %d bytes): download with: download %d --index %d\n",
			i, a.Name, a.MediaType, a.Size, m.Seq, i)
	}
}

type attachOptions struct {
	text      string
	name      string
	mediaType string
}

func attachFlags(fs *flag.FlagSet, e *env) {
	trustFlags(fs, e)
	fs.StringVar(&e.attach.text, "text", "", "text of the message that carries the file")
	fs.StringVar(&e.attach.name, "name", "", "file name shown to recipients (default the file's base name)")
	fs.StringVar(&e.attach.mediaType, "type", "", "media type such as image/jpeg (default from the file extension)")
}

func runAttach(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usagef("attach needs a conversation and a file")
	}
	conv, path := args[0], args[1]
	mediaType := e.attach.mediaType
	if mediaType == "" {
		mediaType, _, _ = mime.ParseMediaType(mime.TypeByExtension(filepath.Ext(path)))
	}
	return e.withClient(func(c *client.Client) error {
		bar := newProgressBar(e.io.Err, "upload")
		ref, err := c.UploadAttachment(ctx, client.Upload{ConversationID: conv, Path: path,
			Name: e.attach.name, MediaType: mediaType}, bar.update)
		bar.done()
		if err != nil {
			return err
		}
		return e.send(ctx, c, conv, e2ee.Payload{Text: e.attach.text, Attachments: []e2ee.AttachmentRef{ref}})
	})
}

type downloadOptions struct {
	index int
	out   string
}

func downloadFlags(fs *flag.FlagSet, e *env) {
	fs.IntVar(&e.download.index, "index", 0, "attachment index within the message, from 0")
	fs.StringVar(&e.download.out, "out", "", "output file (default the attachment's name in the current directory)")
}

func runDownload(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usagef("download needs a conversation and a message seq")
	}
	seq, err := strconv.ParseUint(args[1], 10, 64)
	if err != nil || seq == 0 {
		return usagef("message seq %q: want a positive integer, as read prints in brackets", args[1])
	}
	return e.withClient(func(c *client.Client) error {
		ref, err := c.FindAttachment(ctx, args[0], seq, e.download.index)
		if err != nil {
			return err
		}
		out := e.download.out
		if out == "" {
			out = filepath.Base(filepath.Clean("/" + ref.Name))
		}
		bar := newProgressBar(e.io.Err, "download")
		n, err := c.DownloadAttachment(ctx, ref, out, bar.update)
		bar.done()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.io.Out, "saved %s (%d bytes, %s)\n", out, n, ref.MediaType)
		return nil
	})
}

type safetyOptions struct {
	markVerified bool
	acceptNew    bool
}

func safetyFlags(fs *flag.FlagSet, e *env) {
	fs.BoolVar(&e.safety.markVerified, "mark-verified", false,
		"record that you compared the number with this person out of band")
	fs.BoolVar(&e.safety.acceptNew, "accept-new-identity", false,
		"accept the changed identity key the server serves for this person, after comparing the new number")
}

func runSafetyNumber(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("safety-number needs one user id")
	}
	user := args[0]
	return e.withClient(func(c *client.Client) error {
		if e.safety.acceptNew {
			if err := c.AcceptIdentity(user); err != nil {
				return err
			}
			fmt.Fprintf(e.io.Out, "accepted the new identity key of %s; compare the safety number again\n", user)
		}
		info, err := c.SafetyNumber(ctx, user)
		if err != nil {
			return err
		}
		if e.safety.markVerified {
			if info.Pending != nil {
				return fmt.Errorf("%s has a changed identity key waiting: %w", user, client.ErrIdentityChanged)
			}
			if err := c.MarkVerified(user); err != nil {
				return err
			}
			info.Verified = true
		}
		fmt.Fprintf(e.io.Out, "safety number with %s:\n  %s\n  %s\n", user, info.Number.DigitGroups(),
			strings.Join(info.Number.Words, " "))
		if info.Verified {
			fmt.Fprintln(e.io.Out, "verified: yes")
		} else {
			fmt.Fprintln(e.io.Out, "verified: no (compare it aloud, then run with --mark-verified)")
		}
		if info.Pending != nil {
			fmt.Fprintf(e.io.Out, "CHANGED identity key served by the server; new safety number:\n  %s\n  %s\n",
				info.Pending.DigitGroups(), strings.Join(info.Pending.Words, " "))
			return fmt.Errorf("%s: %w: compare the new number, then run with --accept-new-identity",
				user, client.ErrIdentityChanged)
		}
		return nil
	})
}
