// go_hello: the Go net/http peer of weir's HTTP hello benchmark (bench/http/run.sh).
//
//	go_hello PORT [WORKERS]    WORKERS: GOMAXPROCS (default 1)
//
// Answers every request with 200, Content-Type: text/plain, body "Hello, World!" (net/http adds
// Content-Length and Date), HTTP/1.1 keep-alive. Standard library only; one listener, a
// goroutine per connection, GOMAXPROCS = WORKERS. Prints "ready" once listening; exits 0 on
// SIGINT or SIGTERM.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

var hello = []byte("Hello, World!")

func handler(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Type"] = []string{"text/plain"}
	w.Write(hello)
}

func main() {
	workers := 1
	var err error
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: go_hello PORT [WORKERS]")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err == nil && len(os.Args) == 3 {
		workers, err = strconv.Atoi(os.Args[2])
	}
	if err != nil || port <= 0 || port > 65535 || workers < 1 {
		fmt.Fprintln(os.Stderr, "usage: go_hello PORT [WORKERS]")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(workers)

	ln, err := net.Listen("tcp4", ":"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_hello:", err)
		os.Exit(1)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		os.Exit(0)
	}()
	fmt.Println("ready")
	server := &http.Server{Handler: http.HandlerFunc(handler)}
	if err := server.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "go_hello:", err)
		os.Exit(1)
	}
}
