package tools_test

import (
	"encoding/json"
	"fmt"

	"github.com/genesis-sci/genesis/tools"
)

// lookupIn is a tool's input: json tags name the fields, jsonschema tags
// describe and bound them, and a field without omitempty is required.
type lookupIn struct {
	Compound string `json:"compound" jsonschema:"description=the compound's name"`
	Limit    int    `json:"limit,omitempty" jsonschema:"minimum=1,maximum=10"`
}

// Define a tool from its typed input, show a model its schema, and decode
// a call: arguments that break the schema come back as an error to return
// to the model as an observation, before the tool runs.
func ExampleDefine() {
	spec := tools.Define[lookupIn]("lookup", "Look a compound up in the dataset.")
	fmt.Println(string(spec.Schema))

	in, err := tools.Decode[lookupIn](spec, json.RawMessage(`{"compound":"P3HT","limit":3}`))
	fmt.Printf("%+v %v\n", in, err)

	_, err = tools.Decode[lookupIn](spec, json.RawMessage(`{"limit":30}`))
	fmt.Println(err)
	// Output:
	// {"properties":{"compound":{"type":"string","description":"the compound's name"},"limit":{"type":"integer","maximum":10,"minimum":1}},"additionalProperties":false,"type":"object","required":["compound"]}
	// {Compound:P3HT Limit:3} <nil>
	// tool lookup: arguments does not match the schema: at /: missing property 'compound'; at /limit: maximum: got 30, want 10
}
