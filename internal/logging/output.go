package logging

import (
	"io"
	"sync"
	"time"
)

// Output is a process's log destination shared by two kinds of line. A line
// written through Sync is on w when Write returns, behind every line logged
// before it. A line written through Async (the access log: one line per
// request) is appended to a buffer that a background goroutine writes every
// few milliseconds (linger) while lines keep coming, so under load many
// lines share one system call and one wake-up instead of costing one each;
// a line lands within linger. Lines keep the order they were logged in,
// whichever way they came. Close writes what is left; a crash loses at most
// the lines of the last linger.
type Output struct {
	w io.Writer
	// writing is held across each write to w, so buffered lines and a
	// synchronous line reach w in the order they were logged.
	writing sync.Mutex
	// mu guards buf, spare, pending and closed; it is never held across a
	// write, so an access line never waits for one.
	mu    sync.Mutex
	buf   []byte
	spare []byte
	// pending is set while the goroutine is awake: it writes the buffer
	// again within linger, so a line needs to wake it only when clear.
	pending bool
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

// linger is how long the goroutine waits, once woken by a line, for more
// lines to write with it, and then between writes while lines keep coming:
// under load, one system call and one timer wake-up per linger, whatever
// the request rate. Five milliseconds keeps the log live to a person
// reading it and costs the hot path nothing measurable (a millisecond cost
// it about 2% of its throughput in wake-ups).
const linger = 5 * time.Millisecond

// maxBuffered is how many bytes of access lines may wait: past it, the line
// that crosses it writes them all itself.
const maxBuffered = 256 << 10

// NewOutput returns an Output over w and starts its writer goroutine.
func NewOutput(w io.Writer) *Output {
	o := &Output{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go o.run()
	return o
}

// Async is o as a writer whose lines are written by o's goroutine.
func (o *Output) Async() io.Writer { return asyncWriter{o} }

// Close writes every waiting line and stops the goroutine; later lines are
// written synchronously.
func (o *Output) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	close(o.wake) // under mu: no writer is between its check and its send
	o.mu.Unlock()
	<-o.done
	return o.flush(nil)
}

func (o *Output) run() {
	defer close(o.done)
	for range o.wake {
		// Let the lines of the next linger join each write, and stay awake
		// while they keep coming: under load that is many requests' lines
		// per system call and no wake-up per line.
		for {
			time.Sleep(linger)
			if !o.flushWaiting() {
				break
			}
		}
	}
}

// flushWaiting writes the lines waiting, if any; when there are none (or o
// is closing) it clears pending, so the next line wakes the goroutine, and
// reports false.
func (o *Output) flushWaiting() bool {
	o.mu.Lock()
	if len(o.buf) == 0 || o.closed {
		o.pending = false
		o.mu.Unlock()
		return false
	}
	o.mu.Unlock()
	_ = o.flush(nil) // a log write that fails has nowhere to be reported
	return true
}

// release keeps b, a buffer of o's just written, for the next lines.
func (o *Output) release(b []byte) {
	o.mu.Lock()
	if cap(b) <= maxBuffered {
		o.spare = b[:0]
	}
	o.mu.Unlock()
}

// flush writes the waiting lines followed by line (if any), in one write.
func (o *Output) flush(line []byte) error {
	o.writing.Lock()
	defer o.writing.Unlock()
	o.mu.Lock()
	b := o.buf
	o.buf, o.spare = o.spare[:0], nil
	o.mu.Unlock()
	if len(line) > 0 {
		if len(b) == 0 {
			b = line
		} else {
			b = append(b, line...)
		}
	}
	var err error
	if len(b) > 0 {
		_, err = o.w.Write(b)
	}
	if len(line) == 0 || len(b) > len(line) { // b is a buffer of o's: reuse it
		o.release(b)
	}
	return err
}

// Write writes p, behind every line waiting, before it returns.
func (o *Output) Write(p []byte) (int, error) {
	if err := o.flush(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

type asyncWriter struct{ o *Output }

func (w asyncWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	if o.closed || len(o.buf)+len(p) > maxBuffered {
		o.mu.Unlock()
		return o.Write(p)
	}
	o.buf = append(o.buf, p...) // the handler reuses p: copy it now
	if !o.pending {
		o.pending = true
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	o.mu.Unlock()
	return len(p), nil
}
