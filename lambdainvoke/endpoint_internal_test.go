package lambdainvoke

import (
	"context"
	"errors"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// TestEndpointKeyCoversParameters fails when the SDK's endpoint parameters
// change: endpointKey must hold every one, or the cache would hand out an
// endpoint resolved for other parameters.
func TestEndpointKeyCoversParameters(t *testing.T) {
	var fields []string
	for f := range reflect.TypeFor[lambda.EndpointParameters]().Fields() {
		fields = append(fields, f.Name)
	}
	slices.Sort(fields)
	if want := []string{"Endpoint", "Region", "UseDualStack", "UseFIPS"}; !slices.Equal(fields, want) {
		t.Fatalf("lambda.EndpointParameters has fields %v, endpointKey holds %v: update endpointKey and keyOf", fields, want)
	}
}

type countingResolver struct {
	calls int
	err   error
}

func (r *countingResolver) ResolveEndpoint(_ context.Context, p lambda.EndpointParameters) (smithyendpoints.Endpoint, error) {
	r.calls++
	if r.err != nil {
		return smithyendpoints.Endpoint{}, r.err
	}
	host := "lambda." + aws.ToString(p.Region) + ".example.test"
	if aws.ToBool(p.UseFIPS) {
		host = "lambda-fips." + aws.ToString(p.Region) + ".example.test"
	}
	return smithyendpoints.Endpoint{URI: url.URL{Scheme: "https", Host: host}}, nil
}

// TestEndpointCache checks that the cache asks the SDK's resolver once for
// the same parameters, again for any other value of any parameter, and
// keeps no failure.
func TestEndpointCache(t *testing.T) {
	next := &countingResolver{}
	c := &endpointCache{next: next}
	ctx := t.Context()
	base := lambda.EndpointParameters{Region: aws.String("us-east-1"), UseDualStack: aws.Bool(false), UseFIPS: aws.Bool(false)}
	resolve := func(p lambda.EndpointParameters) string {
		t.Helper()
		ep, err := c.ResolveEndpoint(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return ep.URI.Host
	}
	for range 3 {
		// A copy with new pointers to equal values is the same key.
		p := base
		p.Region = aws.String("us-east-1")
		if h := resolve(p); h != "lambda.us-east-1.example.test" {
			t.Fatalf("host %s", h)
		}
	}
	if next.calls != 1 {
		t.Errorf("%d resolutions for the same parameters, want 1", next.calls)
	}

	variants := []func(p *lambda.EndpointParameters){
		func(p *lambda.EndpointParameters) { p.Region = aws.String("eu-west-1") },
		func(p *lambda.EndpointParameters) { p.Region = nil },
		func(p *lambda.EndpointParameters) { p.UseFIPS = aws.Bool(true) },
		func(p *lambda.EndpointParameters) { p.UseDualStack = aws.Bool(true) },
		func(p *lambda.EndpointParameters) { p.UseDualStack = nil },
		func(p *lambda.EndpointParameters) { p.Endpoint = aws.String("http://127.0.0.1:1") },
		func(p *lambda.EndpointParameters) { p.Endpoint = aws.String("") },
	}
	for i, change := range variants {
		p := base
		change(&p)
		before := next.calls
		resolve(p)
		if next.calls != before+1 {
			t.Errorf("variant %d: served from the cache", i)
		}
	}
	if h := resolve(lambda.EndpointParameters{Region: aws.String("us-east-1"), UseDualStack: aws.Bool(false), UseFIPS: aws.Bool(true)}); h != "lambda-fips.us-east-1.example.test" {
		t.Errorf("host %s after a change of parameters", h)
	}

	failing := &endpointCache{next: &countingResolver{err: errors.New("no endpoint")}}
	for range 2 {
		if _, err := failing.ResolveEndpoint(ctx, base); err == nil {
			t.Fatal("no error")
		}
	}
	if n := failing.next.(*countingResolver).calls; n != 2 {
		t.Errorf("%d resolutions for 2 failing calls: a failure was cached", n)
	}
}

// TestDefaultEndpointThroughCache checks that calls without an endpoint
// override still go to the region's AWS endpoint, every one of them: the
// look-up fails (no DNS in tests) and names the host.
func TestDefaultEndpointThroughCache(t *testing.T) {
	iv, e := newInternalInvoker(t, Config{Region: "eu-west-1", Resolver: noDNSInternal})
	for range 2 {
		r := iv.Invoke(t.Context(), e, []byte(`{}`))
		if r.Err == nil || !strings.Contains(r.Err.Error(), "lambda.eu-west-1.amazonaws.com") {
			t.Fatalf("error %v, want a failed look-up of lambda.eu-west-1.amazonaws.com", r.Err)
		}
	}
}

// noDNSInternal fails every look-up without sending a packet.
var noDNSInternal = &net.Resolver{
	PreferGo: true,
	Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS server in tests")
	},
}

// An endpoint URL no call could go to fails New, once, instead of each
// call at run time (as connect or other errors, retried, and transient
// under --resume). Before, "127.0.0.1:9001", a common slip, was taken.
func TestNewRefusesAnEndpointNoCallCanReach(t *testing.T) {
	tmpl := Template{FunctionName: "f"}
	for _, bad := range []string{"127.0.0.1:9001", "notaurl", "http://", "ftp://x", "http://[::1", " http://127.0.0.1:9001", "http://127.0.0.1:99999"} {
		iv, err := New(context.Background(), tmpl, Config{EndpointURL: bad, Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
		if err == nil {
			iv.Close()
			t.Errorf("New took the endpoint %q", bad)
		} else if !strings.Contains(err.Error(), "endpoint URL") {
			t.Errorf("endpoint %q: error %q does not name the endpoint URL", bad, err)
		}
	}
	for _, good := range []string{"http://127.0.0.1:9001", "https://127.0.0.1:9443", "http://[::1]:9001/"} {
		iv, err := New(context.Background(), tmpl, Config{EndpointURL: good, Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
		if err != nil {
			t.Errorf("endpoint %q: %v", good, err)
			continue
		}
		iv.Close()
	}
}
