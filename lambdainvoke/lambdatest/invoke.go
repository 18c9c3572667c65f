package lambdatest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Lambda's documented limits.
const (
	SyncPayloadLimit   = 6 << 20 // bytes of a RequestResponse or DryRun payload
	EventPayloadLimit  = 1 << 20 // bytes of an Event payload
	ClientContextLimit = 3583    // bytes of the base64 client context
	LogTailLimit       = 4 << 10 // bytes of X-Amz-Log-Result, before base64
)

// behaviour is what a payload object asks of its call; see the package
// documentation.
type behaviour struct {
	ID         json.RawMessage `json:"id"`
	SleepMS    int             `json:"sleep_ms"`
	Fail       string          `json:"fail"`
	Error      string          `json:"error"`
	FailTimes  *int            `json:"fail_times"`
	RetryAfter *int            `json:"retry_after"`
	Reason     string          `json:"reason"`
	Log        string          `json:"log"`
	Response   json.RawMessage `json:"response"`
	Echo       string          `json:"echo"`
}

// call is one request as parsed.
type call struct {
	function       string
	qualifier      string
	version        string
	invocationType string
	logType        string
	clientContext  json.RawMessage
	payload        []byte
	b              behaviour
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	requestID := s.newRequestID()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	c, apiErr := s.parse(r)
	if apiErr != nil {
		s.writeError(w, requestID, *apiErr)
		return
	}

	// Payload-driven failures: an id's first fail_times calls fail.
	attempt := s.recordAttempt(c.b.ID)
	failing := c.b.FailTimes == nil || attempt <= *c.b.FailTimes
	if failing && c.b.Error != "" && c.b.Error != "drop" && c.b.Error != "reset" {
		name, ok := lookup(c.b.Error)
		if !ok {
			s.writeError(w, requestID, apiError{name: "InvalidParameterValueException",
				message: fmt.Sprintf("lambdatest: unknown error %q in the payload", c.b.Error)})
			return
		}
		e := apiError{name: name, reason: c.b.Reason}
		if name == "TooManyRequestsException" && e.reason == "" {
			e.reason = "FunctionInvocationRateLimitExceeded"
		}
		if c.b.RetryAfter != nil {
			e.retryAfter = strconv.Itoa(*c.b.RetryAfter)
		}
		s.writeError(w, requestID, e)
		return
	}

	switch c.invocationType {
	case "DryRun":
		w.Header().Set("X-Amzn-Requestid", requestID)
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		// Lambda queues an Event and answers at once; it runs later.
		s.ran(c.function)
		w.Header().Set("X-Amzn-Requestid", requestID)
		w.WriteHeader(http.StatusAccepted)
		return
	}

	if limit := s.limit.Load(); limit > 0 {
		n := s.running.Add(1)
		defer s.running.Add(-1)
		if n > limit {
			e := apiError{name: "TooManyRequestsException", reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}
			if d := time.Duration(s.retryAfter.Load()); d > 0 {
				e.retryAfter = strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
			}
			s.writeError(w, requestID, e)
			return
		}
	}
	s.ran(c.function)
	start := time.Now()
	if !s.sleep(r, time.Duration(s.delay.Load())+time.Duration(c.b.SleepMS)*time.Millisecond) {
		return // the client went away
	}
	if failing && (c.b.Error == "drop" || c.b.Error == "reset") {
		dropConnection(w, c.b.Error == "reset")
		return
	}

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Requestid", requestID)
	h.Set("X-Amz-Executed-Version", c.version)
	if c.logType == "Tail" {
		h.Set("X-Amz-Log-Result", logTail(requestID, c.version, c.b.Log, time.Since(start)))
	}
	body := c.result()
	if failing {
		switch strings.ToLower(c.b.Fail) {
		case "handled":
			h.Set("X-Amz-Function-Error", "Handled")
			body = functionError("HandledError", "the payload asked for a handled error")
		case "unhandled":
			h.Set("X-Amz-Function-Error", "Unhandled")
			body = functionError("Runtime.ExitError", "RequestId: "+requestID+" Error: Runtime exited with error: exit status 2")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// parse reads and checks a request as Lambda does, before any call runs.
func (s *Server) parse(r *http.Request) (*call, *apiError) {
	c := &call{invocationType: "RequestResponse", logType: "None"}
	var qualifier string
	c.function, qualifier = splitName(r.PathValue("name"))
	q := r.URL.Query().Get("Qualifier")
	if q != "" && qualifier != "" && q != qualifier {
		return nil, &apiError{name: "InvalidParameterValueException",
			message: "The derived qualifier from the function name does not match the specified qualifier."}
	}
	if q != "" {
		qualifier = q
	}
	c.qualifier = qualifier
	if s.functions != nil && !s.functions[c.function] {
		return nil, &apiError{name: "ResourceNotFoundException", message: "Function not found: " + arn(c.function, qualifier)}
	}
	switch {
	case qualifier == "" || qualifier == "$LATEST":
		c.version = "$LATEST"
	case isDigits(qualifier):
		c.version = qualifier
	default:
		v, ok := s.aliases[qualifier]
		if !ok {
			return nil, &apiError{name: "ResourceNotFoundException", message: "Function not found: " + arn(c.function, qualifier)}
		}
		c.version = v
	}
	if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" {
		if t != "RequestResponse" && t != "Event" && t != "DryRun" {
			return nil, &apiError{name: "InvalidParameterValueException", message: "Invalid invocation type: " + t}
		}
		c.invocationType = t
	}
	if t := r.Header.Get("X-Amz-Log-Type"); t != "" {
		if t != "None" && t != "Tail" {
			return nil, &apiError{name: "InvalidParameterValueException", message: "Invalid log type: " + t}
		}
		c.logType = t
	}
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		decoded, err := base64.StdEncoding.DecodeString(cc)
		if len(cc) > ClientContextLimit || err != nil || !json.Valid(decoded) {
			return nil, &apiError{name: "InvalidParameterValueException",
				message: "Client context must be a valid Base64-encoded JSON object of at most 3583 bytes."}
		}
		c.clientContext = decoded
	}

	limit := int64(SyncPayloadLimit)
	if c.invocationType == "Event" {
		limit = EventPayloadLimit
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &apiError{name: "InvalidRequestContentException", message: "could not read the request body"}
	}
	if int64(len(body)) > limit {
		io.Copy(io.Discard, r.Body) // let the client finish sending, so it reads the answer
		return nil, &apiError{name: "RequestTooLargeException",
			message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", limit)}
	}
	if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
		return nil, &apiError{name: "InvalidRequestContentException",
			message: "Could not parse request body into json: Unexpected character"}
	}
	c.payload = body
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '{' {
		// A payload whose fields have other types than the behaviour's
		// is a plain payload: echoed, no behaviour.
		if json.Unmarshal(body, &c.b) != nil {
			c.b = behaviour{}
		}
	}
	return c, nil
}

// result is the function's answer to a successful call.
func (c *call) result() []byte {
	switch {
	case c.b.Echo == "request":
		b, _ := json.Marshal(struct {
			Function        string          `json:"function"`
			Qualifier       string          `json:"qualifier"`
			ExecutedVersion string          `json:"executed_version"`
			InvocationType  string          `json:"invocation_type"`
			LogType         string          `json:"log_type"`
			ClientContext   json.RawMessage `json:"client_context"`
			Payload         json.RawMessage `json:"payload"`
		}{c.function, c.qualifier, c.version, c.invocationType, c.logType, orNull(c.clientContext), orNull(c.payload)})
		return b
	case c.b.Response != nil:
		return c.b.Response
	}
	return orNull(c.payload)
}

func orNull(b []byte) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func functionError(typ, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"errorType": typ, "errorMessage": msg})
	return b
}

// ran counts a call that runs the function.
func (s *Server) ran(function string) {
	s.invocations.Add(1)
	s.mu.Lock()
	s.calls[function]++
	s.mu.Unlock()
}

// recordAttempt notes a request with this id and returns how many there
// have been, this one included; 1 for a request without an id.
func (s *Server) recordAttempt(id json.RawMessage) int {
	if len(id) == 0 {
		return 1
	}
	key := string(id)
	var str string
	if json.Unmarshal(id, &str) == nil {
		key = str
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[key] = append(s.attempts[key], now)
	return len(s.attempts[key])
}

// sleep waits d, and reports false when the client left first. A server
// that closes aborts the handler: a closed server answers nothing.
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		panic(http.ErrAbortHandler)
	}
}

// dropConnection closes the connection without an answer, after the
// request was read: the client cannot tell whether the function ran. With
// reset, the close sends RST instead of FIN.
func dropConnection(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: aborting resets the stream
	}
	if tcp, ok := conn.(*net.TCPConn); ok && reset {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// logTail returns the base64 log tail of a call, at most LogTailLimit
// bytes before encoding, as Lambda's X-Amz-Log-Result.
func logTail(requestID, version, line string, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "START RequestId: %s Version: %s\n", requestID, version)
	if line != "" {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	ms := float64(took.Microseconds()) / 1000
	fmt.Fprintf(&b, "END RequestId: %s\nREPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB\t\n",
		requestID, requestID, ms, int64(ms)+1)
	tail := b.String()
	if len(tail) > LogTailLimit {
		tail = tail[len(tail)-LogTailLimit:]
	}
	return base64.StdEncoding.EncodeToString([]byte(tail))
}

// splitName splits a function name as Invoke accepts it (name, name:alias,
// 123456789012:function:name, or a full ARN) into name and qualifier.
func splitName(raw string) (name, qualifier string) {
	parts := strings.Split(raw, ":")
	switch {
	case len(parts) >= 7 && parts[0] == "arn":
		parts = parts[6:]
	case len(parts) >= 3 && parts[1] == "function":
		parts = parts[2:]
	}
	name = parts[0]
	if len(parts) > 1 {
		qualifier = parts[1]
	}
	return name, qualifier
}

func arn(name, qualifier string) string {
	a := "arn:aws:lambda:us-east-1:123456789012:function:" + name
	if qualifier != "" {
		a += ":" + qualifier
	}
	return a
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func (s *Server) newRequestID() string {
	n := s.requestSeq.Add(1)
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(n>>48), n&(1<<48-1))
}
