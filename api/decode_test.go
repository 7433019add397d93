package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type innerFields struct {
	Amount int64 `json:"amount_minor"`
}

type decodeTarget struct {
	innerFields
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
	Ready *bool    `json:"ready"`
}

// TestDecodeJSONTypeErrors checks that a value of the wrong
// type is reported in JSON terms, without the Go type or struct names
// that the decoder puts in its own message.
func TestDecodeJSONTypeErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"array body", `[1]`, "the body must be a JSON object"},
		{"string body", `"x"`, "the body must be a JSON object"},
		{"float for integer", `{"amount_minor": 1.5}`, `field "amount_minor" must be a JSON integer`},
		{"string for integer", `{"amount_minor": "1"}`, `field "amount_minor" must be a JSON integer`},
		{"number for string", `{"name": 3}`, `field "name" must be a JSON string`},
		{"object for array", `{"tags": {}}`, `field "tags" must be a JSON array`},
		{"string for boolean", `{"ready": "yes"}`, `field "ready" must be a JSON boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			var v decodeTarget
			err := DecodeJSON(httptest.NewRecorder(), r, 0, &v)
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("got error %v, want an *Error", err)
			}
			if e.Status != http.StatusBadRequest || e.Code != "malformed_json" {
				t.Errorf("got %d %s, want 400 malformed_json", e.Status, e.Code)
			}
			if e.Message != tt.want {
				t.Errorf("got message %q, want %q", e.Message, tt.want)
			}
			for _, internal := range []string{"innerFields", "decodeTarget", "api.", "int64", "struct"} {
				if strings.Contains(e.Message, internal) {
					t.Errorf("message %q names the Go detail %q", e.Message, internal)
				}
			}
		})
	}
}
