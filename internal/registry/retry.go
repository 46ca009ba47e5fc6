package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DefaultBackoff is the retry budget: 8 tries, waiting 0.5 s, then 1.5
// times longer each time, up to 5.7 s: about 16 s of waiting in all (plus up
// to 10% jitter). It applies twice, at two levels that do not multiply:
//
//   - a request answered 408, 429 or 5xx is sent again, by our transport
//     (go-containerregistry does not retry a request inside a blob upload
//     or a manifest write), waiting at least what Retry-After asks, up to
//     MaxRetryAfter; and
//   - an upload whose connection was cut, or whose chunk (PATCH, which
//     cannot be sent twice) was refused, starts over from its existence
//     check, by go-containerregistry.
//
// Cap must stay zero: go-containerregistry stops retrying altogether once a
// wait would exceed it.
var DefaultBackoff = remote.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.1, Steps: 8}

// MaxRetryAfter is the longest wait a registry's Retry-After gets.
const MaxRetryAfter = 30 * time.Second

// retryStatusCodes are the answers worth sending a request again for.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// Retryable says whether go-containerregistry should try a failed
// operation again from the start: the connection timed out, was reset or
// dropped mid-body, or a blob upload must start over (its chunk was
// refused with a retried status, or the registry lost its upload session).
// Other refused requests are not: our transport already sent them again.
// Nothing is retried once the step's context is done.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return restartUpload(te)
	}
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && tmp.Temporary() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// restartUpload: a refused chunk, or an upload session the registry no
// longer knows (it expired, or a retried commit finds it already done).
func restartUpload(te *transport.Error) bool {
	if te.Request == nil || !strings.Contains(te.Request.URL.Path, "/blobs/uploads/") {
		return false
	}
	if te.Request.Method == http.MethodPatch && slices.Contains(retryStatusCodes, te.StatusCode) {
		return true
	}
	if te.StatusCode == http.StatusNotFound || te.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.BlobUploadUnknownErrorCode || d.Code == transport.BlobUploadInvalidErrorCode {
			return true
		}
	}
	return false
}

// retryTransport sends a request answered with a retried status again,
// with backoff, for every request that can be sent twice: all but PATCH
// (a chunk the registry may have half taken) and bodies that cannot be
// replayed. Waits end when the request's context does.
type retryTransport struct {
	base    http.RoundTripper
	backoff remote.Backoff
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if req.Method == http.MethodPatch || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		return resp, err
	}
	wait := t.backoff.Duration
	for try := 1; try < t.backoff.Steps; try++ {
		if err != nil || !slices.Contains(retryStatusCodes, resp.StatusCode) {
			return resp, err
		}
		d := jitter(wait, t.backoff.Jitter)
		if ra := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > d {
			d = ra
		}
		timer := time.NewTimer(d)
		select {
		case <-req.Context().Done():
			timer.Stop()
			resp.Body.Close()
			return nil, fmt.Errorf("answered %q, then %w before it could be sent again", resp.Status, context.Cause(req.Context()))
		case <-timer.C:
		}
		wait = time.Duration(float64(wait) * max(t.backoff.Factor, 1))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, gerr
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		resp, err = t.base.RoundTrip(req)
	}
	return resp, err
}

func jitter(d time.Duration, factor float64) time.Duration {
	if factor <= 0 {
		return d
	}
	return d + time.Duration(rand.Float64()*factor*float64(d))
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), at most
// MaxRetryAfter; 0 when absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(h); err == nil {
		d = time.Duration(s) * time.Second
	} else if at, err := http.ParseTime(h); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}
