package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
)

// wakeSlot is how often, at most, each api process asks for an audit flush.
const wakeSlot = 150 * time.Millisecond

// AuditWaker asks the worker to flush the audit outbox soon after a request
// committed audit events, without putting Redis on the request's path.
// Notifications are coalesced: at most one audit:flush task per slot of
// 150 ms, with a task id per slot so many api processes add one task, not
// one each. A wake that fails is only logged: the events are safe in the
// outbox and the worker's cron sweep moves them.
type AuditWaker struct {
	client  *asynq.Client
	logger  *slog.Logger
	notify  chan struct{}
	quit    chan struct{}
	done    chan struct{}
	close   sync.Once
	lastErr time.Time
}

// NewAuditWaker starts a waker that enqueues through client; Close stops it.
func NewAuditWaker(client *asynq.Client, logger *slog.Logger) *AuditWaker {
	w := &AuditWaker{
		client: client,
		logger: logger,
		notify: make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go w.loop()
	return w
}

// Notify records that audit events were committed. It never blocks.
func (w *AuditWaker) Notify() {
	select {
	case w.notify <- struct{}{}:
	default: // a wake is already due
	}
}

// Close sends a last wake when one is due and stops the waker.
func (w *AuditWaker) Close() {
	w.close.Do(func() { close(w.quit) })
	<-w.done
}

func (w *AuditWaker) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.quit:
			select {
			case <-w.notify:
				w.wake()
			default:
			}
			return
		case <-w.notify:
		}
		w.wake()
		// Coalesce whatever arrives during the rest of the slot.
		select {
		case <-w.quit:
		case <-time.After(wakeSlot):
		}
	}
}

func (w *AuditWaker) wake() {
	slot := time.Now().UnixNano() / int64(wakeSlot)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := w.client.EnqueueContext(ctx, NewAuditFlushTask(asynq.MaxRetry(3)), asynq.TaskID(fmt.Sprintf("%s:wake:%d", TypeAuditFlush, slot)))
	if err == nil || errors.Is(err, asynq.ErrTaskIDConflict) {
		return
	}
	// Redis down means one failure per slot: log one a minute.
	if time.Since(w.lastErr) >= time.Minute {
		w.lastErr = time.Now()
		w.logger.Warn("audit wake failed; the worker's sweep will move the events", "error", err.Error())
	}
}
