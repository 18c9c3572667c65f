package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logHandler is a slog.Handler that writes one plain line per record, as
// fanout's other stderr messages: the message (which starts with
// "fanout: "), then key=value pairs. No time or level: stderr of a command
// is read by a person, now.
type logHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	attrs []slog.Attr
}

func newLogHandler(w io.Writer) *logHandler { return &logHandler{mu: new(sync.Mutex), w: w} }

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		v := a.Value.Resolve()
		s := v.String()
		if v.Kind() == slog.KindDuration {
			s = v.Duration().Round(time.Millisecond).String()
		}
		if s == "" || strings.ContainsAny(s, " \"=") || strings.IndexFunc(s, isControl) >= 0 {
			s = fmt.Sprintf("%q", s) // control characters escaped: none reaches the terminal
		}
		b.WriteString(s)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{mu: h.mu, w: h.w, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)}
}

// WithGroup is not used by fanout's loggers; groups are flattened.
func (h *logHandler) WithGroup(string) slog.Handler { return h }

// routeLog sends what the standard library logs on its own through w, as a
// message of fanout's, until restore is called. net/http logs a server's
// misbehaviour this way ("Unsolicited response received on idle HTTP
// channel"); written straight to stderr, such a line landed on the progress
// line and carried a timestamp no other message has.
func routeLog(w io.Writer) (restore func()) {
	out, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetOutput(w)
	log.SetFlags(0)
	log.SetPrefix("fanout: ")
	return func() {
		log.SetOutput(out)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	}
}
