package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ireports/ireports/internal/httpserve"
	"github.com/ireports/ireports/task"
)

// Client talks to a coordinator's API.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8080, or https://… when the coordinator serves TLS
	Token string
	HTTP  *http.Client // nil: http.DefaultClient, which trusts the system's CAs
}

// APIError is a non-2xx answer from the coordinator.
type APIError struct {
	Code int
	Msg  string
	// Base is the URL asked, and Foreign says that the answer did not come from a
	// coordinator (it lacked ServerHeader): another server on that address, such as viz,
	// whose default port is the coordinator's.
	Base    string
	Foreign bool
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("coordinator answered %d: %s", e.Code, e.Msg)
	if e.Foreign {
		base := e.Base
		if u, err := url.Parse(base); err == nil {
			base = u.Redacted() // a password in the URL stays out of the message
		}
		msg += fmt.Sprintf(" (%s does not answer as an ireports coordinator: is --coordinator or $%s right? viz also listens on port 8080 by default)", base, "IREPORTS_COORDINATOR")
	}
	return msg
}

// ServerHeader is the Server header of every answer of a coordinator's API, by which a
// client tells a coordinator from another server on the address it was given.
const ServerHeader = "ireports-coordinator"

// Transient reports whether err, from a Client call to a coordinator that answered before,
// may pass by itself: the coordinator is unreachable (it restarts, or a replacement comes
// up on its address; its host is gone), did not answer in time, broke the connection, or
// answered 502, 503 or 504 (it shuts down, or a proxy in front of it has no coordinator to
// send to). Anything else — 401, 404, a certificate this client does not trust, an answer it
// cannot read — stays until someone acts.
func Transient(err error) bool {
	var api *APIError
	switch {
	case err == nil, errors.Is(err, httpserve.ErrUntrusted):
		return false
	case errors.As(err, &api):
		return api.Code == http.StatusBadGateway || api.Code == http.StatusServiceUnavailable || api.Code == http.StatusGatewayTimeout
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	var ne net.Error // every failure of the transport: refused, reset, timed out, no route
	return errors.As(err, &ne)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	base := c.Base
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return httpserve.ClassifyTLS(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		var e struct{ Error string }
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		foreign := res.Header.Get("Server") != ServerHeader
		if r := []rune(e.Error); foreign && len(r) > 200 {
			e.Error = string(r[:200]) + "…" // another server's page, not a message of ours
		}
		return &APIError{Code: res.StatusCode, Msg: e.Error, Base: base, Foreign: foreign}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// Submit sends a job and returns its run id.
func (c *Client) Submit(ctx context.Context, src task.JobSource) (string, error) {
	var r submitResponse
	err := c.do(ctx, http.MethodPost, task.PathJobs, src, &r)
	return r.ID, err
}

// Job returns a job run's state.
func (c *Client) Job(ctx context.Context, id string) (JobStatus, error) {
	var j JobStatus
	err := c.do(ctx, http.MethodGet, task.PathJobs+"/"+id, nil, &j)
	return j, err
}

// Jobs lists the job runs, newest first.
func (c *Client) Jobs(ctx context.Context) ([]JobStatus, error) {
	var js []JobStatus
	err := c.do(ctx, http.MethodGet, task.PathJobs, nil, &js)
	return js, err
}

// Cancel asks the coordinator to stop a job.
func (c *Client) Cancel(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, task.PathJobs+"/"+id+"/cancel", nil, nil)
}
