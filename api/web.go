package api

import (
	"embed"
	"net/http"
)

// openAPI is the OpenAPI 3 description served at /openapi.json; a test
// checks it against the route table.
//
//go:embed openapi.json
var openAPI []byte

// webFiles is the single-page web UI (no build step: plain HTML, CSS and
// JavaScript, embedded in the binary). Script and style are files of their
// own so the content security policy can forbid inline code.
//
//go:embed web/index.html web/app.js web/app.css
var webFiles embed.FS

// webAsset is one file of the web UI.
type webAsset struct {
	contentType string
	body        []byte
}

func (a webAsset) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(a.body)
}

// webAssets maps the UI's URL patterns to its files.
var webAssets = func() map[string]webAsset {
	read := func(name, ct string) webAsset {
		b, err := webFiles.ReadFile("web/" + name)
		if err != nil {
			panic(err) // embedded: cannot fail
		}
		return webAsset{ct, b}
	}
	return map[string]webAsset{
		"/{$}":     read("index.html", "text/html; charset=utf-8"),
		"/app.js":  read("app.js", "text/javascript; charset=utf-8"),
		"/app.css": read("app.css", "text/css; charset=utf-8"),
	}
}()
