package cli

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fanout-go/fanout/cmd/fanout/internal/journal"
	"github.com/fanout-go/fanout/cmd/fanout/internal/procrun"
	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/lambdainvoke"
)

// httpResumable is `fanout http`'s part in --resume and --shard. A check's
// result depends on the method, the headers sent, the redirect policy and
// whether certificates are verified, and its outcome on the statuses
// --accept takes (accept, canonical: "" for all); not on timeouts or
// concurrency.
func httpResumable(flags *Resume, method string, header http.Header, noFollow bool, maxRedirects int, insecure bool, accept string) Resumable[httpcheck.Result] {
	fp := []string{"http", strings.ToUpper(method), strconv.FormatBool(insecure)}
	if accept != "" {
		fp = append(fp, "accept="+accept)
	}
	if noFollow {
		fp = append(fp, "no-follow")
	} else {
		fp = append(fp, "max-redirects="+strconv.Itoa(maxRedirects))
	}
	for _, name := range slices.Sorted(maps.Keys(header)) {
		for _, v := range header[name] {
			fp = append(fp, http.CanonicalHeaderKey(name)+": "+v)
		}
	}
	return Resumable[httpcheck.Result]{
		Flags:       flags,
		Fingerprint: fp,
		Outcome:     httpOutcome,
		Index:       func(r *httpcheck.Result) *int { return &r.Index },
	}
}

// httpOutcome: any answer is done, except the 429 and 503 that the checker
// retries (they say "come back later", not what the URL is), and a status
// --accept does not take, which fails for good. An invalid URL, a TLS
// failure or a redirect loop fail for good; every other error may pass.
func httpOutcome(r httpcheck.Result) journal.Outcome {
	later := r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable
	switch r.ErrorKind {
	case "":
		if later {
			return journal.Transient
		}
		return journal.Done
	case kindNotAccepted:
		if later {
			return journal.Transient
		}
		return journal.Failed
	case httpcheck.KindInvalidURL, httpcheck.KindTLS, httpcheck.KindTooManyRedirects:
		return journal.Failed
	}
	return journal.Transient
}

// lambdaResumable is `fanout lambda`'s part in --resume and --shard. A
// call's result depends on the function, its qualifier, the invocation
// and log types, the client context, and where the call goes (region,
// profile, endpoint).
func lambdaResumable(flags *Resume, tmpl lambdainvoke.Template, cfg lambdainvoke.Config) Resumable[lambdainvoke.Result] {
	return Resumable[lambdainvoke.Result]{
		Flags: flags,
		Fingerprint: []string{"lambda", tmpl.FunctionName, tmpl.Qualifier, string(tmpl.InvocationType),
			string(tmpl.LogType), string(tmpl.ClientContext), cfg.Region, cfg.Profile, cfg.EndpointURL},
		Outcome: lambdaJournalOutcome,
		Index:   func(r *lambdainvoke.Result) *int { return &r.Index },
	}
}

// lambdaJournalOutcome: an answer without a function error is done; a
// function error, a refused payload, a missing function, denied access or
// another 4xx fail for good; throttling, timeouts, connection and service
// errors and interruptions may pass.
func lambdaJournalOutcome(r lambdainvoke.Result) journal.Outcome {
	switch r.ErrorKind {
	case "":
		if r.FunctionError != "" {
			return journal.Failed
		}
		return journal.Done
	case lambdainvoke.KindInvalidPayload, lambdainvoke.KindTooLarge, lambdainvoke.KindNotFound, lambdainvoke.KindAccessDenied:
		return journal.Failed
	case lambdainvoke.KindOther:
		if r.Status >= 400 && r.Status < 500 {
			return journal.Failed
		}
	}
	return journal.Transient
}

// execOutcome: a job that exited 0 is done. One that could not start (no
// such program, no permission, a bad input line) or exited non-zero failed
// for good; one stopped by a timeout, a signal, --halt or an interrupt may
// pass another time.
func execOutcome(r ExecRecord) journal.Outcome {
	switch {
	case r.haltedOK:
		return journal.Transient
	case execSucceeded(r):
		return journal.Done
	}
	switch procrun.Kind(r.ErrorKind) {
	case procrun.KindTimeout, procrun.KindCanceled, procrun.KindSignal:
		return journal.Transient
	}
	return journal.Failed
}
