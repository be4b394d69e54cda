package s3access

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Throttling modes for GetObjectAcl (Options.Throttling).
const (
	// ThrottleAIMD is aclscan's controller: requests in flight are capped
	// by a limit that halves on throttling and grows back by one per round
	// trip's worth of successes (additive increase, multiplicative
	// decrease, as TCP does).
	ThrottleAIMD = "aimd"
	// ThrottleAdaptive is the AWS SDK's adaptive retry mode: a client-side
	// token bucket whose rate follows a CUBIC curve.
	ThrottleAdaptive = "adaptive"
	// ThrottleOff only retries with backoff (the SDK's standard mode).
	ThrottleOff = "off"
)

// ParseThrottling checks a throttling mode name.
func ParseThrottling(mode string) (string, error) {
	switch mode {
	case "", ThrottleAIMD:
		return ThrottleAIMD, nil
	case ThrottleAdaptive, ThrottleOff:
		return mode, nil
	}
	return "", &UsageError{Setting: SettingThrottling, Msg: fmt.Sprintf("%q: want aimd, adaptive or off", mode)}
}

var throttleChecks = retry.IsErrorThrottles(retry.DefaultThrottles)

// IsThrottle reports whether err is S3 asking the client to slow down
// (503 SlowDown, 429, Throttling...).
func IsThrottle(err error) bool {
	if err == nil {
		return false
	}
	if throttleChecks.IsErrorThrottle(err).Bool() {
		return true
	}
	return HTTPStatus(err) == 503 && ErrorCode(err) == "SlowDown"
}

// aimdLimiter caps the attempts in flight. The limit starts at the
// ceiling and only moves when the server throttles: it halves the
// attempts in flight, at most once per round trip (a throttle answering
// a request sent before the last cut says nothing new), and grows back by
// one for every limit's worth of successful answers.
type aimdLimiter struct {
	mu       sync.Mutex
	cond     *sync.Cond
	limit    float64
	ceiling  float64
	inFlight int
	lastCut  time.Time
}

func newAIMDLimiter(ceiling int) *aimdLimiter {
	l := &aimdLimiter{limit: float64(ceiling), ceiling: float64(ceiling)}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// acquire waits for a slot; it returns the time the attempt may be said
// to have been sent, to match against later cuts.
func (l *aimdLimiter) acquire(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight >= int(l.limit) {
		// Only the throttled path pays for a wake-up on cancellation.
		stop := context.AfterFunc(ctx, func() {
			l.mu.Lock()
			l.cond.Broadcast()
			l.mu.Unlock()
		})
		defer stop()
		for l.inFlight >= int(l.limit) {
			if err := ctx.Err(); err != nil {
				return time.Time{}, err
			}
			l.cond.Wait()
		}
	}
	l.inFlight++
	return time.Now(), nil
}

// release ends an attempt sent at sent; throttled says how it was answered.
func (l *aimdLimiter) release(sent time.Time, throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	switch {
	case throttled && sent.After(l.lastCut):
		// Halve what was really in flight (TCP halves its flight size,
		// RFC 5681): a limit far above the workers would otherwise take
		// several cuts before it slowed anything.
		l.limit = max(1, min(l.limit, float64(l.inFlight+1))/2)
		l.lastCut = time.Now()
	case !throttled && l.limit < l.ceiling:
		l.limit = min(l.ceiling, l.limit+1/l.limit)
	}
	l.cond.Broadcast()
}

// current returns the limit in force (for progress and tests).
func (l *aimdLimiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}
