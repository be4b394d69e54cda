package engines

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// LambdaService stands in for Lambda's Invoke API when the function
// invokes itself asynchronously (an async scan's next part): it accepts
// InvocationType Event with 202, queues the event, and runs it on the
// emulator, retrying a failed invocation twice as Lambda does for async
// events. Point the function at it with AWS_ENDPOINT_URL_LAMBDA.
type LambdaService struct {
	URL string

	em     *Emulator
	srv    *http.Server
	queue  chan []byte
	mu     sync.Mutex
	events []AsyncInvocation
	busy   sync.WaitGroup
}

// AsyncInvocation is one event run by the service, and how it ended.
type AsyncInvocation struct {
	Event    string
	Attempts int
	Err      error
	Answer   string
	Took     time.Duration
}

// StartLambdaService serves the Invoke API on a free port (its URL is
// the function's AWS_ENDPOINT_URL_LAMBDA); Run gives it the emulator.
func StartLambdaService() (*LambdaService, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &LambdaService{URL: "http://" + ln.Addr().String(), queue: make(chan []byte, 1024)}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go s.srv.Serve(ln)
	return s, nil
}

// Run runs the queued events on em, one at a time (one execution
// environment). Interrupt, when set, runs beside each attempt (a test
// kills the emulator from there).
func (s *LambdaService) Run(em *Emulator, interrupt func(n int, em *Emulator)) {
	s.em = em
	go s.run(interrupt)
}

func (s *LambdaService) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/invocations") {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("X-Amz-Invocation-Type") != "Event" {
		http.Error(w, `{"Type":"User","message":"this stand-in takes InvocationType Event only"}`, http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.busy.Add(1)
	s.queue <- body
	w.WriteHeader(http.StatusAccepted)
}

func (s *LambdaService) run(interrupt func(n int, em *Emulator)) {
	n := 0
	for ev := range s.queue {
		n++
		inv := AsyncInvocation{Event: string(ev)}
		for inv.Attempts < 3 { // the first try and Lambda's two retries
			inv.Attempts++
			stop := make(chan struct{})
			if interrupt != nil {
				go func(n int) {
					select {
					case <-stop:
					default:
						interrupt(n, s.em)
					}
				}(n)
			}
			start := time.Now()
			out, err := s.em.Invoke(context.Background(), ev)
			close(stop)
			inv.Took, inv.Err, inv.Answer = time.Since(start), err, string(out)
			if err == nil {
				break
			}
			if errors.Is(err, ErrServiceException) {
				s.em.Kill()
				if serr := s.em.Start(); serr != nil {
					inv.Err = serr
					break
				}
			}
		}
		s.mu.Lock()
		s.events = append(s.events, inv)
		s.mu.Unlock()
		s.busy.Done()
	}
}

// Wait waits until every queued event (and those they queue) has run, or
// ctx ends.
func (s *LambdaService) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.busy.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Invocations are the events run so far.
func (s *LambdaService) Invocations() []AsyncInvocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AsyncInvocation(nil), s.events...)
}

// Close stops serving.
func (s *LambdaService) Close() error { return s.srv.Close() }
