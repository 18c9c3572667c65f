package rie_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fanout-go/fanout/lambdainvoke/lambdatest/rie"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const handlerPackage = "github.com/fanout-go/fanout/tools/lambdahandler"

func TestStartInvokeClose(t *testing.T) {
	e := rie.StartTest(t, handlerPackage, 5*time.Second)
	if !strings.HasPrefix(e.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s is not on loopback", e.URL())
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	url := e.URL() + "/2015-03-31/functions/" + rie.FunctionName + "/invocations"
	for range 3 {
		resp, err := c.Post(url, "application/json", strings.NewReader(`{"hello":"rie"}`))
		if err != nil {
			t.Fatalf("%v\n%s", err, e.Log())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != `{"hello":"rie"}` {
			t.Errorf("status %d body %s", resp.StatusCode, body)
		}
	}
	if !strings.Contains(e.Log(), `handler: mode ""`) {
		t.Errorf("the handler's log line is missing from the log:\n%s", e.Log())
	}
	e.Close()
	if !e.Exited() {
		t.Error("the emulator still runs after Close")
	}
	if _, err := c.Post(url, "application/json", strings.NewReader(`{}`)); err == nil {
		t.Error("the emulator still answers after Close")
	}
}

func TestStartFailsForMissingBinary(t *testing.T) {
	if ok, why := rie.Supported(); !ok {
		t.Skip(why)
	}
	_, err := rie.Start(t.Context(), rie.Options{Emulator: "/nonexistent/aws-lambda-rie", Bootstrap: os.Args[0]})
	if err == nil {
		t.Fatal("Start of a missing emulator succeeded")
	}
}
