package lambdainvoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// signedClient returns an SDK client of endpoint as New configures one
// (no retries) with the credentials of provider, built without loading
// any configuration, so that tests can build many. Nothing is sent.
func signedClient(endpoint string, provider aws.CredentialsProvider) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  provider,
		Retryer:      aws.NopRetryer{},
	})
}

// leanDirect returns the direct path of tmpl on a client of endpoint with
// static credentials, failing the test when newDirect refuses it: its own
// check compares a request of the lean signer with the SDK's.
func leanDirect(t testing.TB, endpoint string, tmpl Template) *direct {
	t.Helper()
	client := signedClient(endpoint, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDLEAN", SecretAccessKey: "lean-secret"}, nil
	}))
	d, err := newDirect(context.Background(), client, tmpl)
	if err != nil {
		t.Fatalf("template %+v at %s: newDirect: %v", tmpl, endpoint, err)
	}
	return d
}

// sameAsSDK signs a call of payload with the lean signer and with ref, the
// SDK's signer, and reports how the two requests differ.
func sameAsSDK(d *direct, ref *v4.Signer, payload []byte, id string, creds aws.Credentials, when time.Time) error {
	ctx := context.Background()
	mine, err := d.request(ctx, payload, id, creds, when)
	if err != nil {
		return fmt.Errorf("lean: %w", err)
	}
	sdk, err := d.unsigned(ctx, payload, id)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(payload)
	if err := ref.SignHTTP(ctx, creds, sdk, hex.EncodeToString(sum[:]), signingName, d.region, when); err != nil {
		return fmt.Errorf("SDK: %w", err)
	}
	if sdk.Header.Get("Authorization") == "" {
		return fmt.Errorf("the SDK signed nothing")
	}
	if err := sameRequest(mine, payload, sdk, payload); err != nil {
		return fmt.Errorf("at %s, key %s, token %q, %d bytes: %w", when.Format(time.RFC3339Nano), creds.AccessKeyID, creds.SessionToken, len(payload), err)
	}
	return nil
}

// midnight is a UTC midnight, 2024-03-01 (after a leap day).
var midnight = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// TestLeanSignerMatchesSDK compares the lean signer's requests with those
// of the SDK's v4.Signer, byte for byte, over templates whose names and
// qualifiers need escaping, endpoints with paths and default ports,
// payloads of every kind, credentials with and without a session token
// and rotating, and times on both sides of UTC midnight, within one
// signer's life.
func TestLeanSignerMatchesSDK(t *testing.T) {
	templates := []Template{
		{FunctionName: "fn"},
		{FunctionName: "fn", Qualifier: "7", LogType: types.LogTypeTail},
		{FunctionName: "arn:aws:lambda:us-east-1:123456789012:function:my-fn", Qualifier: "prod alias/x+y"},
		{FunctionName: "arn:aws:lambda:us-east-1:123456789012:function:my-fn:live", InvocationType: types.InvocationTypeEvent},
		{FunctionName: "odd name/with+plus%25&amp?q=1#frag~é", Qualifier: "a=b&c d", ClientContext: []byte(` {"custom":{"a":"b"}} `)},
		{FunctionName: "fn", ClientContext: []byte(`{}`), LogType: types.LogTypeNone, InvocationType: types.InvocationTypeDryRun},
	}
	endpoints := []string{
		"http://127.0.0.1:9",
		"http://127.0.0.1:80/base/path/", // a default port, which the signer drops from Host
		"https://127.0.0.1:443",
		"https://[::1]:8443/x%20y",
	}
	large := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(large)
	payloads := [][]byte{nil, {}, []byte(`{"a":1}`), []byte("\x00\xff\n binary \r\n"), large}
	creds := []aws.Credentials{
		{AccessKeyID: "AKIDONE", SecretAccessKey: "secret-one"},
		{AccessKeyID: "AKIDTWO", SecretAccessKey: "secret-two", SessionToken: "token+/="},
		{AccessKeyID: "AKIDTHREE", SecretAccessKey: "secret-three", SessionToken: "  token  with   spaces "},
		{AccessKeyID: "AKIDONE", SecretAccessKey: "secret-one"}, // back to the first
	}
	times := []time.Time{
		midnight.Add(-time.Nanosecond),
		midnight.Add(-time.Second),
		midnight,
		midnight.Add(time.Millisecond),
		midnight.Add(-time.Second).In(time.FixedZone("UTC+14", 14*3600)), // another day where it is read
		midnight.Add(24*time.Hour - 1),
		midnight.Add(-time.Second), // the day before again
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, endpoint := range endpoints {
		for _, tmpl := range templates {
			// One lean signer and one SDK signer for the whole sequence:
			// their keys are derived again as dates and credentials
			// change.
			d := leanDirect(t, endpoint, tmpl)
			ref := v4.NewSigner()
			for i, when := range times {
				for j, c := range creds {
					for k, p := range payloads {
						if k == len(payloads)-1 && (i+j)%4 != 0 {
							continue // the large payload now and then
						}
						if err := sameAsSDK(d, ref, p, fmt.Sprintf("id %d  %d ", i, j), c, when); err != nil {
							t.Fatalf("%s, %+v: %v", endpoint, tmpl, err)
						}
					}
				}
			}
		}
	}
}

// TestLeanSignerNewKey checks that the lean signer derives its key again
// when only the access key or only the secret changes. The SDK's signer
// keys its cache by access key alone, so each call here has a new one for
// reference.
func TestLeanSignerNewKey(t *testing.T) {
	d := leanDirect(t, "http://127.0.0.1:9", Template{FunctionName: "fn"})
	for _, c := range []aws.Credentials{
		{AccessKeyID: "AKIDSAME", SecretAccessKey: "first"},
		{AccessKeyID: "AKIDSAME", SecretAccessKey: "second"},
		{AccessKeyID: "AKIDOTHER", SecretAccessKey: "second"},
		{AccessKeyID: "AKIDSAME", SecretAccessKey: "second"},
	} {
		if err := sameAsSDK(d, v4.NewSigner(), []byte(`{}`), "id", c, midnight); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzLeanSignerMatchesSDK compares the lean signer with the SDK's for
// fuzzed function names, qualifiers, payloads, credentials and times.
func FuzzLeanSignerMatchesSDK(f *testing.F) {
	f.Add("fn", "", []byte(`{"a":1}`), "AKID", "secret", "", midnight.Unix(), int64(0))
	f.Add("odd name/with+plus%25&amp?q=1#frag~é", "prod alias/x+y", []byte{}, "AKID2", "s", "tok  en ", midnight.Unix()-1, int64(999999999))
	f.Add("arn:aws:lambda:us-east-1:123456789012:function:f", "$LATEST", []byte("\x00\xff"), "A", "", "t", int64(253402300799), int64(0))
	f.Fuzz(func(t *testing.T, name, qualifier string, payload []byte, accessKey, secret, token string, sec, nsec int64) {
		tmpl := Template{FunctionName: name, Qualifier: qualifier}
		if tmpl.Validate() != nil {
			return
		}
		d := leanDirect(t, "http://127.0.0.1:9", tmpl)
		ref := v4.NewSigner()
		when := time.Unix(sec, nsec)
		creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret, SessionToken: token}
		for _, w := range []time.Time{when, when.Add(24 * time.Hour)} {
			for _, p := range [][]byte{payload, nil} {
				if err := sameAsSDK(d, ref, p, "id", creds, w); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// rotatingCredentials change on every fifth call, keys and secret
// together (the SDK's signer, the reference here, caches its key by
// access key).
type rotatingCredentials struct{ n atomic.Int64 }

func (r *rotatingCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	n := r.n.Add(1) / 5 % 7
	c := aws.Credentials{AccessKeyID: fmt.Sprintf("AKIDROT%d", n), SecretAccessKey: fmt.Sprintf("secret-%d", n)}
	if n%2 == 1 {
		c.SessionToken = fmt.Sprintf("token-%d", n)
	}
	return c, nil
}

// TestLeanSignerConcurrent signs from many goroutines at once while the
// credentials rotate and the date changes, each signature checked against
// the SDK's: the cached key is shared, and must never pair one call's
// secret or day with another's.
func TestLeanSignerConcurrent(t *testing.T) {
	d := leanDirect(t, "http://127.0.0.1:9", Template{FunctionName: "fn", Qualifier: "1"})
	var (
		provider rotatingCredentials
		wg       sync.WaitGroup
		failed   atomic.Bool
	)
	for g := range 16 {
		wg.Go(func() {
			ref := v4.NewSigner()
			for i := range 200 {
				if failed.Load() {
					return
				}
				creds, _ := provider.Retrieve(t.Context())
				when := midnight.Add(time.Duration((g+i)%3-1) * time.Second) // around midnight
				payload := fmt.Appendf(nil, `{"g":%d,"i":%d}`, g, i)
				if err := sameAsSDK(d, ref, payload, fmt.Sprint(g, i), creds, when); err != nil {
					failed.Store(true)
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// TestLeanSignerCheck checks that newDirect's comparison of signers sees
// a lean signer that differs from the SDK's in any part it precomputes,
// and that a client with a signer of its own stays on the SDK.
func TestLeanSignerCheck(t *testing.T) {
	when := midnight.Add(-time.Second)
	d := leanDirect(t, "http://127.0.0.1:80", Template{FunctionName: "fn", Qualifier: "a b", LogType: types.LogTypeTail})
	if err := d.checkSigner(t.Context(), d.client.Options().HTTPSignerV4, when); err != nil {
		t.Fatal(err)
	}
	good := d.lean
	for name, change := range map[string]func(s *leanSigner){
		"path":           func(s *leanSigner) { s.head = strings.Replace(s.head, "/fn/", "/fn%2F/", 1) },
		"query":          func(s *leanSigner) { s.head = strings.Replace(s.head, "a%20b", "a+b", 1) },
		"URL's query":    func(s *leanSigner) { s.rawQuery = "Qualifier=a+b" },
		"host":           func(s *leanSigner) { s.host = "" },
		"signed headers": func(s *leanSigner) { s.signed[0][0] = strings.Replace(s.signed[0][0], "amz-sdk-request;", "", 1) },
		"a fixed line": func(s *leanSigner) {
			for i, l := range s.lines {
				if strings.HasPrefix(l.text, "x-amz-log-type:") {
					s.lines[i].text = "x-amz-log-type:None\n"
				}
			}
		},
		"order of lines": func(s *leanSigner) { s.lines[0], s.lines[1] = s.lines[1], s.lines[0] },
		"region":         func(s *leanSigner) { s.region = "us-east-2" },
		"service":        func(s *leanSigner) { s.service = "lambda2" },
	} {
		bad := &leanSigner{region: good.region, service: good.service, head: good.head, rawQuery: good.rawQuery,
			host: good.host, lines: append([]headerLine(nil), good.lines...), signed: good.signed}
		change(bad)
		d.lean = bad
		if err := d.checkSigner(t.Context(), d.client.Options().HTTPSignerV4, when); err == nil {
			t.Errorf("%s: a changed lean signer compares equal to the SDK's", name)
		}
	}
	d.lean = good

	client := signedClient("http://127.0.0.1:9", aws.AnonymousCredentials{})
	client = lambda.New(client.Options(), func(o *lambda.Options) { o.HTTPSignerV4 = customSigner{v4.NewSigner()} })
	if d, err := newDirect(t.Context(), client, Template{FunctionName: "fn"}); d != nil || err == nil {
		t.Error("a client with a signer of its own took the direct path")
	}
}

type customSigner struct{ *v4.Signer }

// TestLeanSignerAllocations checks that signing a call allocates only its
// header values: two strings and a slice.
func TestLeanSignerAllocations(t *testing.T) {
	d := leanDirect(t, "http://127.0.0.1:9", Template{FunctionName: "fn", Qualifier: "1", ClientContext: []byte(`{"a":"b"}`)})
	req, err := d.unsigned(t.Context(), []byte(`{"a":1}`), "id")
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s", SessionToken: "t"}
	payload := bytes.Repeat([]byte("x"), 100)
	if n := testing.AllocsPerRun(100, func() {
		if err := d.lean.sign(req, payload, creds, midnight); err != nil {
			t.Fatal(err)
		}
	}); n > 2 {
		t.Errorf("%v allocations per signature", n)
	}
}

// BenchmarkSign compares the lean signer with the SDK's on one call's
// request (a built request, signed again on every iteration).
func BenchmarkSign(b *testing.B) {
	d := leanDirect(b, "http://127.0.0.1:9", Template{FunctionName: "fn", Qualifier: "1"})
	payload := []byte(`{"id":12345}`)
	creds := aws.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "bench-secret"}
	req, err := d.unsigned(b.Context(), payload, "0b4d3f3e-8a57-4c1e-9a3b-2f6e1c0d9a77")
	if err != nil {
		b.Fatal(err)
	}
	when := time.Now()
	b.Run("lean", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := d.lean.sign(req, payload, creds, when); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SDK", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sum := sha256.Sum256(payload)
			if err := d.client.Options().HTTPSignerV4.SignHTTP(b.Context(), creds, req, hex.EncodeToString(sum[:]), signingName, d.region, when); err != nil {
				b.Fatal(err)
			}
		}
	})
}
