package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/trace"
)

// maxPayloadLine is the longest input line `fanout lambda` reads: Lambda's
// limit for a synchronous payload. A longer line becomes a too_large record
// without being held in memory.
const maxPayloadLine = lambdainvoke.SyncPayloadLimit

func runLambda(ctx context.Context, env Env, args []string) error {
	var (
		common        Common
		tmpl          lambdainvoke.Template
		cfg           lambdainvoke.Config
		payloads      stringList
		invocation    string
		logType       string
		clientContext string
		resume        Resume
		noSign        bool
	)
	fs := NewFlagSet("lambda", "fanout lambda --function NAME [flags]\n\n"+
		"Invokes an AWS Lambda function once per JSON payload, concurrently, and writes one record per payload.\n"+
		"Payloads come from --payload, from -i FILE, or from stdin: one JSON document per line, blank lines skipped.\n"+
		"Credentials, region and endpoint come from the usual AWS configuration (AWS_* variables, ~/.aws files, roles);\n"+
		"to try it without AWS, run a local Invoke API server (such as the Lambda Runtime Interface Emulator) and give\n"+
		"--endpoint-url http://127.0.0.1:PORT --region us-east-1 --no-sign-request.")
	common.Register(fs, env, Defaults{
		Concurrency: 10,
		Timeout:     0, // a synchronous call may run 15 minutes
		Retries:     3,
		InputHelp:   "read payloads from FILE, one JSON document per line (- for stdin)",
	})
	fs.StringVar(&tmpl.FunctionName, "", "function", "NAME", "", "the function's name, name:alias or ARN (required)")
	fs.Var(&payloads, "", "payload", "JSON", "a payload to send (repeatable); instead of -i")
	fs.StringVar(&tmpl.Qualifier, "", "qualifier", "VERSION", "", "the version or alias to invoke (default $LATEST)")
	fs.StringVar(&invocation, "", "invocation-type", "TYPE", "RequestResponse", "RequestResponse, Event or DryRun")
	fs.StringVar(&logType, "", "log-type", "TYPE", "None", "Tail to get the last 4 KB of each call's log in log_tail")
	fs.StringVar(&clientContext, "", "client-context", "JSON", "", "a JSON object given to the function as its client context")
	fs.StringVar(&cfg.Region, "", "region", "REGION", "", "the AWS region (default from AWS_REGION or the profile)")
	fs.StringVar(&cfg.Profile, "", "profile", "NAME", "", "the AWS profile to use (default from AWS_PROFILE)")
	fs.StringVar(&cfg.EndpointURL, "", "endpoint-url", "URL", "", "send calls to this endpoint instead of AWS's")
	fs.BoolVar(&noSign, "", "no-sign-request", false, "send calls unsigned, without credentials (for a local emulator), as the AWS CLI's flag")
	fs.BoolVar(&cfg.Adaptive, "", "adaptive", false, "lower the concurrency when Lambda throttles, raise it again up to -c on success")
	fs.BoolVar(&cfg.RetryUnsafe, "", "retry-unsafe", false, "also retry calls that may have run (connection lost after sending, timeout, 5xx)")
	fs.DurationVar(&cfg.MaxRetryAfter, "", "max-retry-after", 30*time.Second, "longest Retry-After wait honoured")
	resume.Register(fs)
	rest, err := fs.Parse(args, env.Stdout)
	if err == errHelp {
		return nil
	}
	if err != nil {
		return err
	}
	if err := common.Check("lambda"); err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usagef("lambda", "unexpected argument %q: give payloads with --payload or -i", rest[0])
	case tmpl.FunctionName == "":
		return usagef("lambda", "--function is required")
	case len(payloads) > 0 && common.Input != "":
		return usagef("lambda", "give payloads with --payload or with -i, not both")
	case len(payloads) == 0 && common.Input == "" && (env.StdinTTY || env.Stdin == nil):
		return usagef("lambda", "no payloads: give them with --payload, with -i FILE, or on stdin")
	}
	tmpl.InvocationType = types.InvocationType(invocation)
	tmpl.LogType = types.LogType(logType)
	if clientContext != "" {
		tmpl.ClientContext = json.RawMessage(clientContext)
	}
	if err := tmpl.Validate(); err != nil {
		return usagef("lambda", "%s", strings.TrimPrefix(err.Error(), "lambdainvoke: "))
	}
	cfg.Concurrency = common.Concurrency
	cfg.Timeout = common.Timeout
	cfg.Retries = common.Retries
	if noSign {
		cfg.Credentials = aws.AnonymousCredentials{}
	}
	iv, err := lambdainvoke.New(ctx, tmpl, cfg)
	switch {
	case errors.Is(err, lambdainvoke.ErrNoRegion):
		return usagef("lambda", "no AWS region: give --region, or set AWS_REGION or a region in the --profile (AWS_PROFILE)")
	case err != nil:
		return usagef("lambda", "%s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "lambdainvoke: "), "\n", " "))
	}
	defer iv.Close()
	// Without credentials every call would fail the same way, each after
	// walking the whole credential chain: say it once, up front, before
	// the first call.
	if creds := iv.Client().Options().Credentials; creds != nil && !noSign {
		if _, err := creds.Retrieve(ctx); err != nil {
			return usagef("lambda", "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with --profile (AWS_PROFILE), or give --no-sign-request for a local emulator")
		}
	}

	return runStream(ctx, env, &common, streamJob[lambdainvoke.Input, lambdainvoke.Result]{
		cmd: "lambda", noun: "payloads", taskNoun: "invocations",
		// Every non-blank line is a payload: a # line is invalid JSON and
		// gets its record. Payloads may be 6 MB each: read few ahead.
		args: payloads, maxLine: maxPayloadLine, skipComments: false,
		input:     payloadInput,
		execOpts:  iv.ExecutorOptions(),
		ordered:   iv.InvokeAll,
		unordered: iv.InvokeAllUnordered,
		records:   lambdaRecords,
		resumable: lambdaResumable(&resume, tmpl, cfg),
	})
}

// payloadInput turns an input line into a payload; an unreadable line
// keeps its error, an over-long one as a payload too large.
func payloadInput(l Line) lambdainvoke.Input {
	switch {
	case errors.Is(l.Err, ErrLineTooLong):
		return lambdainvoke.Input{Err: fmt.Errorf("%w: %w", lambdainvoke.ErrTooLarge, l.Err)}
	case l.Err != nil:
		return lambdainvoke.Input{Err: l.Err}
	}
	return lambdainvoke.Input{Payload: []byte(l.Text)}
}

// lambdaRecords describes `fanout lambda`'s output.
var lambdaRecords = Records[lambdainvoke.Result]{
	Noun: "invocations",
	CSV: []Column[lambdainvoke.Result]{
		{Name: "index", Value: func(r lambdainvoke.Result) string { return strconv.Itoa(r.Index) }},
		{Name: "status", Value: func(r lambdainvoke.Result) string { return strconv.Itoa(r.Status) }},
		{Name: "function_error", Value: func(r lambdainvoke.Result) string { return r.FunctionError }},
		{Name: "executed_version", Value: func(r lambdainvoke.Result) string { return r.ExecutedVersion }},
		{Name: "response", Value: func(r lambdainvoke.Result) string { return string(r.Response) }},
		{Name: "log_tail", Value: func(r lambdainvoke.Result) string { return r.LogTail }},
		{Name: "attempts", Value: func(r lambdainvoke.Result) string { return strconv.Itoa(r.Attempts) }},
		{Name: "duration_ms", Value: func(r lambdainvoke.Result) string { return strconv.FormatFloat(r.DurationMS, 'f', -1, 64) }},
		{Name: "error", Value: func(r lambdainvoke.Result) string { return r.Error }},
		{Name: "error_kind", Value: func(r lambdainvoke.Result) string { return string(r.ErrorKind) }},
		{Name: "may_have_run", Value: func(r lambdainvoke.Result) string { return strconv.FormatBool(r.MayHaveRun) }},
	},
	Table: []Column[lambdainvoke.Result]{
		{Name: "INDEX", Width: 5, Value: func(r lambdainvoke.Result) string { return strconv.Itoa(r.Index) }},
		{Name: "STATUS", Width: 6, Value: func(r lambdainvoke.Result) string { return statusText(r.Status) }},
		{Name: "TIME", Width: 7, Value: func(r lambdainvoke.Result) string { return shortDuration(r.Duration) }},
		{Name: "RESULT", Width: 16, Value: func(r lambdainvoke.Result) string {
			if o := lambdaOutcome(r); o.Failed() {
				return o.Detail
			}
			return "ok"
		}},
		{Name: "DETAIL", Value: func(r lambdainvoke.Result) string {
			var detail string
			switch {
			case r.Err != nil:
				detail = r.Error
				if r.MayHaveRun {
					detail += " (may have run)"
				}
			default:
				detail = string(r.Response)
			}
			if r.Attempts > 1 {
				detail = fmt.Sprintf("[%d attempts] %s", r.Attempts, detail)
			}
			return clip(detail, 120)
		}},
	},
	Index:    func(r lambdainvoke.Result) int { return r.Index },
	Attempts: func(r lambdainvoke.Result) int { return r.Attempts },
	Outcome:  lambdaOutcome,
}

// lambdaOutcome classes a record: its error kind, "function_error", or its
// status for a success. A function error fails the run as an error does.
func lambdaOutcome(r lambdainvoke.Result) Outcome {
	switch {
	case r.Err != nil:
		return failure(string(r.ErrorKind))
	case r.FunctionError != "":
		return Outcome{trace.Error, "function_error"}
	}
	return Outcome{trace.OK, strconv.Itoa(r.Status)}
}

// clip shortens s to n runes for a table cell.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-3]) + "..."
	}
	return s
}
