package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/coffer-drive/coffer/internal/api"
)

// httpError is an error with the HTTP status and API code to answer it with.
// Its message is shown to the client, so it must never carry a secret.
type httpError struct {
	status  int
	code    string
	message string
	// retryAfter, in whole seconds, is sent as Retry-After when positive.
	retryAfter int
}

func (e *httpError) Error() string { return e.message }

func badRequest(format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, code: api.CodeBadRequest, message: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = &httpError{status: http.StatusUnauthorized, code: api.CodeUnauthorized, message: "missing or invalid session token; log in again"}
	errExpired      = &httpError{status: http.StatusUnauthorized, code: api.CodeUnauthorized, message: "session expired; log in again"}
	// errAuthFailed is the one answer to every failed proof, whatever the
	// cause, so that answers do not tell which accounts exist.
	errAuthFailed = &httpError{status: http.StatusUnauthorized, code: api.CodeAuthFailed, message: "wrong user name or password"}
)

// decodeJSON reads one JSON object into v. It refuses other content types,
// bodies over api.MaxBodyBytes, unknown fields, trailing data and strings
// that are not valid UTF-8.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONLimit(w, r, v, api.MaxBodyBytes)
}

// decodeJSONLimit is decodeJSON with another size limit, for the few
// requests (batches, manifests) that are legitimately larger.
func decodeJSONLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &httpError{status: http.StatusUnsupportedMediaType, code: api.CodeUnsupported, message: "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &httpError{status: http.StatusRequestEntityTooLarge, code: api.CodeTooLarge, message: fmt.Sprintf("request body is larger than %d bytes", limit)}
		}
		return badRequest("read request body: %v", err)
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD silently; a name
	// mangled that way must be refused rather than stored.
	if !utf8.Valid(body) {
		return badRequest("request body is not valid UTF-8")
	}
	return unmarshalStrict(body, v)
}

// unmarshalStrict decodes exactly one JSON value with no unknown fields.
func unmarshalStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return badRequest("malformed JSON: trailing data after the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed JSON: trailing data after the object")
	}
	return nil
}

// APICSP is the Content-Security-Policy of the API's answers, JSON and
// raw blocks: none is a page, and this origin serves the link page too,
// so a browser led to one must neither run nor load anything from it.
const APICSP = "sandbox; default-src 'none'; frame-ancestors 'none'"

// setAPIHeaders sets the headers every API answer with a body carries: no
// type sniffing (a block is ciphertext, and JSON is JSON, whatever a
// browser guesses) and the CSP above.
func setAPIHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", APICSP)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	setAPIHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with the API error shape. Errors that are not
// *httpError are internal: the client sees a generic message and the log
// gets the detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		s.log.ErrorContext(r.Context(), "internal error", "err", err)
		he = &httpError{status: http.StatusInternalServerError, code: api.CodeInternal, message: "internal server error"}
	}
	if he.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(he.retryAfter))
	}
	writeJSON(w, he.status, api.ErrorBody{Error: api.ErrorDetail{Code: he.code, Message: he.message}})
}
