// taskd_go: the Go peer of weir's taskd benchmark (bench/taskd/run.sh, issue 6).
//
//	taskd_go [-addr 127.0.0.1:3000] [-request-timeout 5s]
//
// The TaskScheduler of the "Alan builds a task scheduler" status quo story (an etcd-style
// scheduler: HTTP request -> bounded task queue -> one applier goroutine -> notifier -> HTTP
// response), written as the story's Go code is: standard library only, net/http, a request ID
// generator, a notifier (map of channels under a sync.RWMutex), an echo state machine under its
// own mutex, time.After timeouts. Without the story's per-request logging.
//
//	POST /echo {"kind":"create","message":"hello"}  ->  200 text/plain  SUCCESS create "hello"
//
// Other methods on /echo: 405; other paths: 404 (http.ServeMux). A body that is not JSON, or an
// unknown kind, is answered 200 with an error text, as in the story. Prints "listening on ADDR"
// once listening; SIGINT or SIGTERM: graceful shutdown (in-flight requests finish), then the
// applier is stopped, exit 0. GOMAXPROCS is left to the environment.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ---- request ID generator (etcd's pkg/idutil)

type Generator interface {
	next() uint64
}

type generator struct {
	prefix uint64
	suffix uint64
}

// newGenerator: the member ID in the top 16 bits, the low 40 bits of the start time in
// milliseconds shifted by 8 as the first suffix, as etcd's idutil.
func newGenerator(memberID uint64, now time.Time) Generator {
	unixMs := uint64(now.UnixNano()) / 1000000
	return &generator{
		prefix: memberID << (8 * 6),
		suffix: ((math.MaxUint64 >> 24) & unixMs) << 8,
	}
}

func (gen *generator) next() uint64 {
	// The story has atomic.SwapUint64(&gen.suffix, gen.suffix+1), which reads gen.suffix
	// non-atomically first: two concurrent calls can get the same suffix (then register fails
	// with "dup id"). AddUint64 is the atomic counter it means.
	suffix := atomic.AddUint64(&gen.suffix, 1) - 1
	id := gen.prefix | (suffix & (math.MaxUint64 >> 16))
	return id
}

// ---- notifier

type Notifier interface {
	register(id uint64) (<-chan string, error)
	trigger(id uint64, x string) error
}

type notifier struct {
	mu       sync.RWMutex
	requests map[uint64]chan string
}

func newNotifier() Notifier {
	return &notifier{requests: make(map[uint64]chan string)}
}

func (ntf *notifier) register(id uint64) (<-chan string, error) {
	ntf.mu.Lock()
	defer ntf.mu.Unlock()
	ch := ntf.requests[id]
	if ch != nil {
		return nil, fmt.Errorf("dup id %x", id)
	}

	ch = make(chan string, 1)
	ntf.requests[id] = ch
	return ch, nil
}

func (ntf *notifier) trigger(id uint64, x string) error {
	ntf.mu.Lock()
	ch, ok := ntf.requests[id]
	if ch == nil || !ok {
		ntf.mu.Unlock()
		return fmt.Errorf("request ID %d not found", id)
	}
	delete(ntf.requests, id)
	ntf.mu.Unlock()
	ch <- x
	close(ch)
	return nil
}

// ---- echo state machine

type EchoRequest struct {
	Kind    string `json:"kind"`
	Message string `json:"message,omitempty"`
}

type EchoManager interface {
	apply(req *EchoRequest) (string, error)
}

type echoManager struct {
	mu sync.RWMutex
}

func (ea *echoManager) apply(req *EchoRequest) (string, error) {
	ea.mu.Lock()
	defer ea.mu.Unlock()
	switch req.Kind {
	case "create":
		return fmt.Sprintf("SUCCESS create %q", req.Message), nil
	case "delete":
		return fmt.Sprintf("SUCCESS delete %q", req.Message), nil
	default:
		return "", fmt.Errorf("unknown request %q", req)
	}
}

// ---- applier (task queue + one applier goroutine)

type Request struct {
	echoRequest *EchoRequest
}

type Applier interface {
	start()
	stop() error
	apply(req Request) (string, error)
}

const queueCapacity = 1024

type applier struct {
	requestTimeout time.Duration

	requestIDGenerator Generator
	notifier           Notifier

	requestCh chan requestTuple

	stopCh chan struct{}
	doneCh chan struct{}

	echoManager EchoManager
}

type requestTuple struct {
	requestID uint64
	request   Request
}

func newApplier(requestTimeout time.Duration) Applier {
	return &applier{
		requestTimeout:     requestTimeout,
		requestIDGenerator: newGenerator(rand.New(rand.NewSource(time.Now().UnixNano())).Uint64(), time.Now()),
		notifier:           newNotifier(),
		requestCh:          make(chan requestTuple, queueCapacity),
		stopCh:             make(chan struct{}),
		doneCh:             make(chan struct{}),
		echoManager:        &echoManager{},
	}
}

func (ap *applier) start() {
	go func() {
		for {
			select {
			case tup := <-ap.requestCh:
				reqID := tup.requestID
				req := tup.request
				switch {
				case req.echoRequest != nil:
					rs, err := ap.echoManager.apply(req.echoRequest)
					if err != nil {
						rs = fmt.Sprintf("failed to apply %v", err)
					}
					if err = ap.notifier.trigger(reqID, rs); err != nil {
						fmt.Printf("failed to trigger %v", err)
					}
				default:
				}
			case <-ap.stopCh:
				ap.doneCh <- struct{}{}
				return
			}
		}
	}()
}

func (ap *applier) stop() error {
	select {
	case ap.stopCh <- struct{}{}:
	case <-time.After(5 * time.Second):
		return errors.New("took too long to signal stop")
	}
	select {
	case <-ap.doneCh:
	case <-time.After(5 * time.Second):
		return errors.New("took too long to receive done")
	}
	return nil
}

func (ap *applier) apply(req Request) (string, error) {
	reqID := ap.requestIDGenerator.next()
	respRx, err := ap.notifier.register(reqID)
	if err != nil {
		return "", err
	}

	select {
	case ap.requestCh <- requestTuple{requestID: reqID, request: req}:
	case <-time.After(ap.requestTimeout):
		if err = ap.notifier.trigger(reqID, fmt.Sprintf("failed to schedule %d in time", reqID)); err != nil {
			return "", err
		}
	}

	msg := ""
	select {
	case msg = <-respRx:
	case <-time.After(ap.requestTimeout):
		return "", errors.New("apply timeout")
	}

	return msg, nil
}

// ---- HTTP handler

func handleRequest(applier Applier, w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case "POST":
		var echoRequest EchoRequest
		err := json.NewDecoder(req.Body).Decode(&echoRequest)
		if err != nil {
			fmt.Fprintf(w, "failed to read request %v", err)
			return
		}
		s, err := applier.apply(Request{echoRequest: &echoRequest})
		if err != nil {
			fmt.Fprintf(w, "failed to apply request %v", err)
			return
		}
		fmt.Fprint(w, s)

	default:
		http.Error(w, "Method Not Allowed", 405)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address (host:port)")
	requestTimeout := flag.Duration("request-timeout", 5*time.Second, "request timeout")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}

	ap := newApplier(*requestTimeout)
	ap.start()

	serverMux := http.NewServeMux()
	serverMux.HandleFunc("/echo", func(w http.ResponseWriter, req *http.Request) {
		handleRequest(ap, w, req)
	})
	httpServer := &http.Server{Handler: serverMux}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "taskd_go:", err)
		os.Exit(1)
	}

	// The story's goroutine closes the server without waiting for the signal (it then serves
	// nothing); this one waits for SIGINT or SIGTERM, then shuts down gracefully.
	tch := make(chan os.Signal, 1)
	signal.Notify(tch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		<-tch
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := httpServer.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "taskd_go: shutdown:", err)
		}
		close(done)
	}()

	fmt.Println("listening on", ln.Addr().String())
	if err := httpServer.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "taskd_go: http server error:", err)
		os.Exit(1)
	}
	<-done

	if err := ap.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "taskd_go: failed to stop applier:", err)
		os.Exit(1)
	}
}
