package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunServesAndLogsRequests(t *testing.T) {
	dir := t.TempDir()
	reqLog := filepath.Join(dir, "requests.jsonl")
	o := options{listen: "127.0.0.1:0", vpnListen: "127.0.0.1:0", images: dir, apiKey: "k",
		requestsLog: reqLog, logLevel: "error", fault: "fail=1",
		versions: versionsFlag{"intel-nuc": {"5.1.20+rev1"}}}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, o, pw); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the base url: %v", err)
	}
	base := strings.TrimSpace(line)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base url = %q, want http://127.0.0.1:PORT", base)
	}
	req, _ := http.NewRequest("GET", base+"/v6/release?$select=raw_version&$filter="+
		"iodt/slug%20eq%20%27intel-nuc%27", nil)
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"d":[{"raw_version":"5.1.20+rev1"}]}`; strings.TrimSpace(string(body)) != want {
		t.Errorf("release reply = %s, want %s", body, want)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run() = %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run() did not return after cancel")
	}
	logged, err := os.ReadFile(reqLog)
	if err != nil || !strings.Contains(string(logged), `"path":"/v6/release"`) {
		t.Errorf("requests log = %q, %v, want the release request", logged, err)
	}
}

func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    options
	}{
		{name: "public address", o: options{listen: "0.0.0.0:0", logLevel: "info"}},
		{name: "public vpn address", o: options{listen: "127.0.0.1:0", vpnListen: ":0",
			logLevel: "info"}},
		{name: "bad fault", o: options{listen: "127.0.0.1:0", fault: "boom", logLevel: "info"}},
		{name: "ca without tls", o: options{listen: "127.0.0.1:0", caOut: "x", logLevel: "info"}},
	}
	for _, tt := range tests {
		if err := run(context.Background(), tt.o, io.Discard); err == nil {
			t.Errorf("%s: run() = nil, want an error", tt.name)
		}
	}
}

func TestWriteCA(t *testing.T) {
	caOut := filepath.Join(t.TempDir(), "ca.b64")
	o := options{listen: "127.0.0.1:0", tls: true, caOut: caOut, logLevel: "error"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve returns at once; the CA is written before
	if err := run(ctx, o, io.Discard); err != nil {
		t.Fatalf("run(--tls --tls-ca-out) = %v", err)
	}
	b, err := os.ReadFile(caOut)
	if err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if blk, _ := pem.Decode(der); err != nil || blk == nil || blk.Type != "CERTIFICATE" {
		t.Errorf("ca file is not base64 of a PEM certificate: %v", err)
	}
}
