// Command fakebalena runs the fake balena API of package fakeapi on a
// loopback address, for shell harnesses and the QEMU demo. It prints its
// base URL on stdout once listening and serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/fakeapi"
)

// versionsFlag collects repeated --extra-version slug=version flags.
type versionsFlag map[string][]string

func (v versionsFlag) String() string { return fmt.Sprint(map[string][]string(v)) }

func (v versionsFlag) Set(s string) error {
	slug, ver, ok := strings.Cut(s, "=")
	if !ok || slug == "" || ver == "" {
		return errors.New("want slug=version")
	}
	v[slug] = append(v[slug], ver)
	return nil
}

type options struct {
	listen, vpnListen, images, apiKey, fault, requestsLog, caOut, logLevel string
	tls                                                                    bool
	versions                                                               versionsFlag
}

func main() {
	o := options{versions: versionsFlag{}}
	fs := flag.NewFlagSet("fakebalena", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "loopback address for the API")
	fs.StringVar(&o.vpnListen, "vpn-listen", "", "loopback address for a TCP stand-in of the VPN")
	fs.StringVar(&o.images, "images", "", "directory of {slug}-{version}[.flasher].img.gz")
	fs.StringVar(&o.apiKey, "api-key", "", "require this Bearer key on every call but /ping")
	fs.StringVar(&o.fault, "fault", "", "download fault, e.g. fail=2,status=502,cut=65536,"+
		"cutcount=1,rate=1048576,wrong=FILE,html,norange")
	fs.StringVar(&o.requestsLog, "requests-log", "", "append a JSON line per request to FILE")
	fs.BoolVar(&o.tls, "tls", false, "serve https with a CA of its own")
	fs.StringVar(&o.caOut, "tls-ca-out", "", "with --tls: write the CA as base64 of PEM "+
		"(config.json balenaRootCA) to FILE")
	fs.StringVar(&o.logLevel, "log-level", "info", "logrus level")
	fs.Var(o.versions, "extra-version", "list slug=version without a file (repeatable)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakebalena:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; the base URL goes to stdout once listening.
func run(ctx context.Context, o options, stdout io.Writer) error {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	lvl, err := logrus.ParseLevel(o.logLevel)
	if err != nil {
		return err
	}
	log.SetLevel(lvl)
	fault, err := fakeapi.ParseFault(o.fault)
	if err != nil {
		return err
	}
	var reqLog io.Writer
	if o.requestsLog != "" {
		f, err := os.OpenFile(o.requestsLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("opening requests log: %w", err)
		}
		defer f.Close()
		reqLog = f
	}
	srv, err := fakeapi.New(fakeapi.Options{ImagesDir: o.images, Versions: o.versions,
		APIKey: o.apiKey, TLS: o.tls, RequestLog: reqLog, Log: log})
	if err != nil {
		return err
	}
	srv.SetFault(fault)
	if err := writeCA(o, srv); err != nil {
		return err
	}
	return serve(ctx, o, srv, stdout, log)
}

func writeCA(o options, srv *fakeapi.Server) error {
	if o.caOut == "" {
		return nil
	}
	if !o.tls {
		return errors.New("--tls-ca-out needs --tls")
	}
	b64 := base64.StdEncoding.EncodeToString(srv.CACertPEM())
	if err := os.WriteFile(o.caOut, []byte(b64+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing ca: %w", err)
	}
	return nil
}

func serve(ctx context.Context, o options, srv *fakeapi.Server, stdout io.Writer,
	log logrus.FieldLogger) error {
	defer srv.Close()
	if o.vpnListen != "" {
		addr, err := srv.StartVPN(o.vpnListen)
		if err != nil {
			return err
		}
		log.WithField("addr", addr).Info("vpn stand-in listening")
	}
	base, err := srv.Start(o.listen)
	if err != nil {
		return err
	}
	log.WithField("url", base).Info("fake api listening")
	if _, err := fmt.Fprintln(stdout, base); err != nil {
		return fmt.Errorf("printing base url: %w", err)
	}
	<-ctx.Done()
	log.Info("fake api stopping")
	return nil
}
