package lambdatest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// exception is an error of the Invoke API as Lambda sends it: an HTTP
// status, the error type in the X-Amzn-ErrorType header and a JSON body.
// The message's JSON key follows the SDK's model ("message" for some types,
// "Message" for others), so that the deserialized error carries it.
type exception struct {
	status     int
	messageKey string
	message    string
}

// exceptions are the errors a payload's "error" may name, by exception name.
var exceptions = map[string]exception{
	"TooManyRequestsException":       {http.StatusTooManyRequests, "message", "Rate Exceeded."},
	"ResourceNotFoundException":      {http.StatusNotFound, "Message", "Function not found"},
	"AccessDeniedException":          {http.StatusForbidden, "Message", "User is not authorized to perform: lambda:InvokeFunction"},
	"UnrecognizedClientException":    {http.StatusForbidden, "message", "The security token included in the request is invalid."},
	"RequestTooLargeException":       {http.StatusRequestEntityTooLarge, "message", "Request must be smaller than 6291456 bytes for the InvokeFunction operation"},
	"InvalidRequestContentException": {http.StatusBadRequest, "message", "Could not parse request body into json"},
	"InvalidParameterValueException": {http.StatusBadRequest, "message", "Invalid parameter value"},
	"UnsupportedMediaTypeException":  {http.StatusUnsupportedMediaType, "message", "Unsupported media type"},
	"ResourceConflictException":      {http.StatusConflict, "message", "The operation cannot be performed at this time."},
	"ServiceException":               {http.StatusInternalServerError, "Message", "An internal error occurred."},
	"ResourceNotReadyException":      {http.StatusBadGateway, "message", "The function is not ready."},
	"EC2ThrottledException":          {http.StatusBadGateway, "Message", "Amazon EC2 throttled Lambda during initialization."},
	"KMSAccessDeniedException":       {http.StatusBadGateway, "Message", "Lambda could not decrypt the environment variables."},
}

// shortNames are the payload's short names for common exceptions.
var shortNames = map[string]string{
	"throttle":      "TooManyRequestsException",
	"not_found":     "ResourceNotFoundException",
	"access_denied": "AccessDeniedException",
	"too_large":     "RequestTooLargeException",
	"invalid":       "InvalidRequestContentException",
	"service":       "ServiceException",
	"not_ready":     "ResourceNotReadyException",
}

// apiError is one error answer to write.
type apiError struct {
	name       string // exception name, a key of exceptions
	message    string // "" for the table's
	reason     string // TooManyRequestsException's Reason
	retryAfter string // TooManyRequestsException's Retry-After header
}

// lookup returns the exception named by a payload's "error" (a short name or
// an exception name).
func lookup(name string) (string, bool) {
	if full, ok := shortNames[name]; ok {
		name = full
	}
	_, ok := exceptions[name]
	return name, ok
}

func (s *Server) writeError(w http.ResponseWriter, requestID string, e apiError) {
	ex := exceptions[e.name]
	msg := e.message
	if msg == "" {
		msg = ex.message
	}
	body := map[string]string{"Type": "User", ex.messageKey: msg}
	if ex.status >= 500 {
		body["Type"] = "Service"
	}
	h := w.Header()
	if e.name == "TooManyRequestsException" {
		s.throttled.Add(1)
		body["Reason"] = e.reason
		if e.retryAfter != "" {
			h.Set("Retry-After", e.retryAfter)
		}
	}
	b, _ := json.Marshal(body) // a map of strings always marshals
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", e.name)
	h.Set("X-Amzn-Requestid", requestID)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(ex.status)
	w.Write(b)
}
