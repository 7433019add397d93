package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/decode.json from the vectors in decode_test.go")

// decodeVector is one message and the outcome Decode must give it. Rule
// names the MUST-reject rule of docs/signaling.md that a negative vector
// exercises.
type decodeVector struct {
	Name    string `json:"name"`
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
	Outcome string `json:"outcome"` // "ok", or the error code: bad-request, unknown-type
}

const ok = "ok"

var (
	bad     = string(CodeBadRequest)
	unknown = string(CodeUnknownType)
)

func decodeVectors() []decodeVector {
	long := func(n int) string { return strings.Repeat("a", n) }
	return []decodeVector{
		{"auth", "", `{"type":"auth","id":"1","token":"s3cr3t","device":"phone-1"}`, ok},
		{"auth without device", "", `{"type":"auth","token":"s3cr3t"}`, ok},
		{"join", "", `{"type":"join","consultation":"cons_01:a.b-c"}`, ok},
		{"join with resume", "", `{"type":"join","consultation":"c1","resume":"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}`, ok},
		{"join with new media", "", `{"type":"join","consultation":"c1","resume":"ABCDEFGHIJKLMNOPQRSTUVWXYZ","media":"new"}`, ok},
		{"join with empty media", "", `{"type":"join","consultation":"c1","media":""}`, ok},
		{"leave", "", `{"type":"leave"}`, ok},
		{"admit", "", `{"type":"admit","id":"a","participant":"ABC234"}`, ok},
		{"deny", "", `{"type":"deny","participant":"ABC234"}`, ok},
		{"remove", "", `{"type":"remove","participant":"ABC234"}`, ok},
		{"offer", "", `{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}`, ok},
		{"answer", "", `{"type":"answer","sdp":"v=0\r\n"}`, ok},
		{"candidate", "", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`, ok},
		{"candidate end", "", `{"type":"candidate","candidate":{"candidate":""}}`, ok},
		{"ping", "", `{"type":"ping","id":"p-1"}`, ok},
		{"presence away", "", `{"type":"presence","status":"away"}`, ok},
		{"turn", "", `{"type":"turn","id":"t1"}`, ok},
		{"end", "", `{"type":"end","id":"e1"}`, ok},
		{"empty id", "", `{"type":"ping","id":""}`, ok},

		{"not json", "R1", `hello`, bad},
		{"array", "R1", `[{"type":"ping"}]`, bad},
		{"string", "R1", `"ping"`, bad},
		{"null", "R2", `null`, bad},
		{"trailing data", "R1", `{"type":"ping"} {"type":"ping"}`, bad},
		{"truncated", "R1", `{"type":"ping"`, bad},
		{"empty", "R1", ``, bad},
		{"missing type", "R2", `{"id":"1"}`, bad},
		{"type not a string", "R2", `{"type":5}`, bad},
		{"unknown type", "R3", `{"type":"dance"}`, unknown},
		{"server type", "R3", `{"type":"auth-ok"}`, unknown},
		{"type case", "R3", `{"type":"PING"}`, unknown},
		{"unknown field", "R4", `{"type":"ping","extra":true}`, bad},
		{"field of another type", "R4", `{"type":"leave","consultation":"c1"}`, bad},
		{"turn with field", "R4", `{"type":"turn","participant":"P1"}`, bad},
		{"end with field", "R4", `{"type":"end","consultation":"c1"}`, bad},
		{"field name case", "R4", `{"type":"auth","TOKEN":"t"}`, bad},
		{"type name case", "R4", `{"TYPE":"ping"}`, bad},
		{"duplicate type", "R4", `{"type":"ping","type":"auth","token":"t"}`, bad},
		{"duplicate field", "R4", `{"type":"auth","token":"a","token":"b"}`, bad},
		{"duplicate candidate field", "R4", `{"type":"candidate","candidate":{"candidate":"","candidate":"x"}}`, bad},
		{"unknown candidate field", "R4", `{"type":"candidate","candidate":{"candidate":"","foo":1}}`, bad},
		{"token not a string", "R5", `{"type":"auth","token":42}`, bad},
		{"sdp not a string", "R5", `{"type":"offer","sdp":{"sdp":"v=0"}}`, bad},
		{"mline index negative", "R5", `{"type":"candidate","candidate":{"candidate":"","sdpMLineIndex":-1}}`, bad},
		{"mline index too large", "R5", `{"type":"candidate","candidate":{"candidate":"","sdpMLineIndex":65536}}`, bad},
		{"token missing", "R6", `{"type":"auth"}`, bad},
		{"token too long", "R6", `{"type":"auth","token":"` + long(maxTokenLen+1) + `"}`, bad},
		{"token with control byte", "R6", `{"type":"auth","token":"a\u0001b"}`, bad},
		{"device with slash", "R6", `{"type":"auth","token":"t","device":"a/b"}`, bad},
		{"consultation missing", "R6", `{"type":"join"}`, bad},
		{"consultation too long", "R6", `{"type":"join","consultation":"` + long(maxConsultationLen+1) + `"}`, bad},
		{"consultation with space", "R6", `{"type":"join","consultation":"c 1"}`, bad},
		{"resume with dot", "R6", `{"type":"join","consultation":"c1","resume":"a.b"}`, bad},
		{"join media kept", "R6", `{"type":"join","consultation":"c1","media":"kept"}`, bad},
		{"join media not a string", "R5", `{"type":"join","consultation":"c1","media":true}`, bad},
		{"participant missing", "R6", `{"type":"admit"}`, bad},
		{"participant with colon", "R6", `{"type":"remove","participant":"a:b"}`, bad},
		{"sdp missing", "R6", `{"type":"offer"}`, bad},
		{"sdp too long", "R6", `{"type":"answer","sdp":"` + long(maxSDPLen+1) + `"}`, bad},
		{"candidate too long", "R6", `{"type":"candidate","candidate":{"candidate":"` + long(maxCandidateLen+1) + `"}}`, bad},
		{"sdpMid too long", "R6", `{"type":"candidate","candidate":{"candidate":"","sdpMid":"` + long(maxSDPMidLen+1) + `"}}`, bad},
		{"presence unknown", "R6", `{"type":"presence","status":"busy"}`, bad},
		{"presence disconnected", "R6", `{"type":"presence","status":"disconnected"}`, bad},
		{"id too long", "R7", `{"type":"ping","id":"` + long(maxRequestIDLen+1) + `"}`, bad},
		{"id with space", "R7", `{"type":"ping","id":"a b"}`, bad},
		{"id not a string", "R7", `{"type":"ping","id":7}`, bad},
	}
}

// outcome returns the outcome of decoding msg in vector form.
func outcome(t testing.TB, msg []byte) string {
	req, err := Decode(msg)
	switch {
	case err == nil && req != nil:
		return ok
	case errors.Is(err, ErrUnknownType):
		return unknown
	case errors.Is(err, ErrMalformed):
		return bad
	}
	t.Fatalf("Decode(%q) returned %v, %v: want a message or an error wrapping ErrMalformed or ErrUnknownType", msg, req, err)
	return ""
}

func TestDecodeVectors(t *testing.T) {
	vectors := decodeVectors()
	path := filepath.Join("testdata", "decode.json")
	want, err := json.MarshalIndent(vectors, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read vectors: %v (run go test -run TestDecodeVectors -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the vectors in decode_test.go: run go test -run TestDecodeVectors -update", path)
	}

	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			if got := outcome(t, []byte(v.Message)); got != v.Outcome {
				t.Errorf("got %s, want %s", got, v.Outcome)
			}
		})
	}
}

func TestDecodeError(t *testing.T) {
	_, err := Decode([]byte(`{"type":"join","id":"r9","consultation":""}`))
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("got %v, want a *DecodeError", err)
	}
	if de.Type != TypeJoin || de.ID != "r9" {
		t.Errorf("got type %q id %q, want join r9", de.Type, de.ID)
	}
	if !strings.Contains(err.Error(), "missing field consultation") {
		t.Errorf("got %q, want it to name the missing field", err)
	}

	_, err = Decode([]byte(`{"type":"` + strings.Repeat("x", 1000) + `"}`))
	if len(err.Error()) > 200 {
		t.Errorf("got an error of %d bytes for a long type, want it truncated", len(err.Error()))
	}
}

func TestDecodeErrorHidesGoTypes(t *testing.T) {
	for _, msg := range []string{`[1]`, `"join"`, `{"type":1}`, `{"type":"join","id":[]}`, `{"type"`} {
		_, err := Decode([]byte(msg))
		if err == nil {
			t.Fatalf("Decode(%s): got nil error", msg)
		}
		if strings.Contains(err.Error(), "Go") || strings.Contains(err.Error(), "struct") {
			t.Errorf("Decode(%s): got %q, want an error without Go types", msg, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range decodeVectors() {
		f.Add([]byte(v.Message))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		req, err := Decode(msg)
		if (req == nil) == (err == nil) {
			t.Fatalf("Decode(%q) = %v, %v: want exactly one of a message and an error", msg, req, err)
		}
		if err != nil {
			outcome(t, msg)
			return
		}
		// A decoded message re-encodes to an equivalent valid message.
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("encode %T: %v", req, err)
		}
		req2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(%q) of a re-encoded valid message: %v", again, err)
		}
		if req2.header().Type != req.header().Type {
			t.Fatalf("got type %q after re-encoding, want %q", req2.header().Type, req.header().Type)
		}
	})
}
