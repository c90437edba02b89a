// Package tools defines how agents see tools: a name, a description and a
// JSON schema inferred from a typed Go input struct. Arguments from a model
// are validated against the schema before any tool runs; a bad call goes
// back to the agent as an observation, never as a crash.
//
// The tools themselves live in subpackages named for what they drive:
// tools/labclient (the lab service's client), tools/hpc (job executors),
// tools/dataset (SQL over a challenge's data) and tools/sim (the simulation
// program an HPC job runs). The optimizer_suggest tool wraps the top-level
// package optimizer, a numerics library that is not a tool of its own.
package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Spec describes one tool to a model.
type Spec struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"input_schema"`

	compiled *sjs.Schema
}

// SchemaFor infers a JSON schema from a Go type: json tags name fields,
// `jsonschema` tags add descriptions, enums and bounds, and fields without
// omitempty are required.
func SchemaFor(v any) json.RawMessage {
	r := &jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true, AllowAdditionalProperties: false}
	s := r.ReflectFromType(reflect.TypeOf(v))
	s.Version = ""
	s.ID = ""
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("tools: schema for %T: %v", v, err)) // a programming error in a static type
	}
	return b
}

// Define builds a spec whose input schema is inferred from In.
func Define[In any](name, description string) *Spec {
	var zero In
	s, err := NewSpec(name, description, SchemaFor(zero))
	if err != nil {
		panic(err) // a static type that does not compile to a schema is a programming error
	}
	return s
}

// NewSpec compiles a spec from a schema document.
func NewSpec(name, description string, schema json.RawMessage) (*Spec, error) {
	c, err := Compile(schema)
	if err != nil {
		return nil, fmt.Errorf("tool %s: %w", name, err)
	}
	return &Spec{Name: name, Description: description, Schema: schema, compiled: c}, nil
}

// Compile compiles a JSON schema document for validation.
func Compile(schema json.RawMessage) (*sjs.Schema, error) {
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	c := sjs.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("schema.json")
}

// Validate checks raw JSON against a compiled schema, with a short message
// a model can act on.
func Validate(s *sjs.Schema, raw []byte) error {
	v, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	if err := s.Validate(v); err != nil {
		msg := err.Error()
		if ve, ok := err.(*sjs.ValidationError); ok {
			msg = flatten(ve)
		}
		return fmt.Errorf("does not match the schema: %s", msg)
	}
	return nil
}

// english words a schema error the way the library's own output does; a
// bare ErrorKind prints as a Go struct ("&{[sql]}"), which a model cannot act on.
var english = message.NewPrinter(language.English)

func flatten(ve *sjs.ValidationError) string {
	var parts []string
	var walk func(e *sjs.ValidationError)
	walk = func(e *sjs.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			parts = append(parts, fmt.Sprintf("at %s: %s", loc, e.ErrorKind.LocalizedString(english)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(parts) > 5 {
		parts = append(parts[:5], fmt.Sprintf("and %d more", len(parts)-5))
	}
	return strings.Join(parts, "; ")
}

// Decode validates raw arguments against the spec and decodes them into In.
func Decode[In any](s *Spec, raw json.RawMessage) (In, error) {
	var in In
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	if err := Validate(s.compiled, raw); err != nil {
		return in, fmt.Errorf("tool %s: arguments %w", s.Name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("tool %s: arguments: %w", s.Name, err)
	}
	return in, nil
}
