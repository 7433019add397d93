package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// encoding/json matches object keys case-insensitively and keeps the last
// of duplicate keys. checkKeys closes both gaps, so that no two parsers can
// read one message differently: every key must equal a field name exactly
// and appear once per object.

// fieldSets caches the JSON field names of each message struct.
var fieldSets sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields returns the JSON names of t's fields, with the fields of
// embedded structs promoted, mapped to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if v, ok := fieldSets.Load(t); ok {
		return v.(map[string]reflect.Type)
	}
	fields := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = f.Type
	}
	fieldSets.Store(t, fields)
	return fields
}

// checkKeys verifies the keys of the JSON object data against the fields
// of the struct type t. data must already be known to be valid JSON.
func checkKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	return walkObject(dec, t, "")
}

func walkObject(dec *json.Decoder, t reflect.Type, path string) error {
	if _, err := dec.Token(); err != nil { // the opening brace
		return err
	}
	fields := jsonFields(t)
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // object keys are always strings
		ft, ok := fields[key]
		switch {
		case !ok:
			return fmt.Errorf("unknown field %s%s", path, quote(key))
		case seen[key]:
			return fmt.Errorf("duplicate field %s%s", path, quote(key))
		}
		seen[key] = true
		if err := walkValue(dec, ft, path+key+"."); err != nil {
			return err
		}
	}
	_, err := dec.Token() // the closing brace
	return err
}

// walkValue checks a nested object of struct type t and skips any other
// value.
func walkValue(dec *json.Decoder, t reflect.Type, path string) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	return walkObject(json.NewDecoder(bytes.NewReader(raw)), t, path)
}
