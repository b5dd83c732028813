# takeover — make help lists the targets.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -buildid= -X main.version=$(VERSION)
GOFLAGS_STATIC := CGO_ENABLED=0
DIST := dist
STATICCHECK_VERSION := v0.8.2

.PHONY: help build cross test vmtest lint bench e2e demo deps ci clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build takeover for this machine into dist/
	$(GOFLAGS_STATIC) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/takeover ./cmd/takeover

cross: ## static binaries for linux amd64, arm64, armv7, armv6 into dist/
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/takeover-linux-amd64 ./cmd/takeover
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/takeover-linux-arm64 ./cmd/takeover
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/takeover-linux-armv7 ./cmd/takeover
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/takeover-linux-armv6 ./cmd/takeover
	@ls -l $(DIST)/takeover-linux-*

deps: ## install the Debian packages the tests and the demo need
	bash scripts/deps.sh

test: deps ## unit tests (no root, no network, no VM; -short skips the QEMU ones)
	$(GO) test -short -count=1 ./...

vmtest: deps ## package QEMU tests: initramfs unpacking, kexec round trip, stage2 as PID 1, EFI entry under OVMF
	bash scripts/fetch-kernel.sh $${TAKEOVER_CACHE:-$$HOME/.cache/takeover} >/dev/null
	$(GO) test -count=1 -run 'TestVM' ./initramfs/ ./kexec/ ./stage2init/ ./efi/

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	./bin/staticcheck ./...

bench: deps ## performance benchmarks: validate, build-initrd, flash (1 GiB images)
	bash scripts/bench.sh

e2e: vmtest ## the package QEMU tests, then every end-to-end scenario in QEMU
	bash scripts/e2e.sh

demo: ## migrate a QEMU Debian VM to a synthetic balenaOS against the fake API
	bash scripts/demo.sh

ci: ## what CI runs: unit tests, then end-to-end scenarios 1 and 3
	bash .ci/run

clean: ## remove build output (not the VM cache)
	rm -rf $(DIST) bin
