package lambdainvoke

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// endpointCache resolves an endpoint once per set of parameters instead of
// once per call. The SDK runs its endpoint rule set on every call, though
// the parameters (region, FIPS, dual stack, endpoint override) come from
// the client's options and do not change; that run takes a deep stack that
// every call's new goroutine has to grow into. It remembers the last
// parameters and their endpoint; other parameters go to the SDK's resolver
// and replace them. The SDK only reads the endpoint it is given (it
// copies the URL into the request), so one value serves every call.
type endpointCache struct {
	next lambda.EndpointResolverV2
	last atomic.Pointer[resolvedEndpoint]
}

type resolvedEndpoint struct {
	params   endpointKey
	endpoint smithyendpoints.Endpoint
}

// endpointKey holds the values of lambda.EndpointParameters, whose fields
// are pointers. TestEndpointKeyCoversParameters fails when the SDK adds a
// parameter that it does not hold.
type endpointKey struct {
	region, endpoint      string
	hasRegion, hasEndpt   bool
	dualStack, fips       bool
	hasDualStack, hasFIPS bool
}

func keyOf(p lambda.EndpointParameters) endpointKey {
	return endpointKey{
		region: aws.ToString(p.Region), hasRegion: p.Region != nil,
		endpoint: aws.ToString(p.Endpoint), hasEndpt: p.Endpoint != nil,
		dualStack: aws.ToBool(p.UseDualStack), hasDualStack: p.UseDualStack != nil,
		fips: aws.ToBool(p.UseFIPS), hasFIPS: p.UseFIPS != nil,
	}
}

func (c *endpointCache) ResolveEndpoint(ctx context.Context, p lambda.EndpointParameters) (smithyendpoints.Endpoint, error) {
	k := keyOf(p)
	if last := c.last.Load(); last != nil && last.params == k {
		return last.endpoint, nil
	}
	ep, err := c.next.ResolveEndpoint(ctx, p)
	if err == nil {
		c.last.Store(&resolvedEndpoint{params: k, endpoint: ep})
	}
	return ep, err
}
