package apiclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/challenges"
)

// A refused request comes back as an *apiclient.Error with the HTTP status
// and the server's code, which names the field at fault. (The server here
// is the real handler without Temporal or tokens: a stand-in for
// `genesis dev`'s API at http://127.0.0.1:8080.)
func ExampleClient_StartCampaign() {
	cat, err := challenges.Builtin()
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer((&api.Server{Catalog: cat}).Handler())
	defer srv.Close()

	cl, err := apiclient.New(srv.URL, "gns_…")
	if err != nil {
		panic(err)
	}
	_, err = cl.StartCampaign(context.Background(), apiclient.StartRequest{Challenge: "crossed-barrel-toughness", Strategy: "bo", Batch: 65})
	var e *apiclient.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code)
	}
	// Output: 422 invalid_batch
}
