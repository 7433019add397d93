package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// DefaultMaxBody is the request body limit for JSON endpoints that set no
// other: 64 KiB.
const DefaultMaxBody = 64 << 10

// DecodeJSON reads one JSON object from the request body into v. It requires
// Content-Type application/json, reads at most maxBytes (DefaultMaxBody when
// zero), rejects unknown fields and trailing data, and returns an *Error
// that says which rule the body broke.
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &Error{
			Status:  http.StatusUnsupportedMediaType,
			Code:    "unsupported_media_type",
			Message: "send the request body as Content-Type: application/json",
		}
	}
	body := http.MaxBytesReader(w, r.Body, maxBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, maxBytes)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("malformed_json", "the body must hold exactly one JSON object")
	}
	return nil
}

func decodeError(err error, maxBytes int64) *Error {
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return &Error{
			Status:  http.StatusRequestEntityTooLarge,
			Code:    "body_too_large",
			Message: fmt.Sprintf("the request body exceeds the limit of %d bytes", maxBytes),
		}
	case errors.As(err, &syntax):
		return BadRequest("malformed_json", fmt.Sprintf("invalid JSON at byte %d", syntax.Offset))
	case errors.As(err, &typeErr):
		return typeError(typeErr)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("malformed_json", "the request body is empty or truncated")
	default:
		// json reports unknown fields as plain errors naming the field.
		return BadRequest("malformed_json", err.Error())
	}
}

// typeError describes a JSON value of the wrong type in JSON terms. The
// decoder's own message names Go types and struct names, which are
// internal detail.
func typeError(e *json.UnmarshalTypeError) *Error {
	want := jsonKind(e.Type)
	if e.Field == "" {
		return BadRequest("malformed_json", "the body must be a JSON "+want)
	}
	// Field is a dotted path that also names embedded Go structs, so only
	// its last element, the JSON name, is shown.
	name := e.Field[strings.LastIndex(e.Field, ".")+1:]
	return BadRequest("malformed_json", fmt.Sprintf("field %q must be a JSON %s", name, want))
}

// jsonKind returns the JSON type that decodes into a value of type t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return "value"
}
