//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/takeover-dev/takeover/internal/vmtest"
)

// TestOldOSBootsAndReachesLoopback proves the harness itself: the cached
// Debian old OS boots under TCG, its one-shot unit runs after
// network-online, and the guest reaches an HTTP server on this machine's
// loopback through the restricted user network's guest forward.
func TestOldOSBootsAndReachesLoopback(t *testing.T) {
	requireVM(t)
	timed(t)
	o := getOldOS(t)

	token := randomHex(t, 8)
	addr := serveLoopback(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping" {
			fmt.Fprintf(w, "PONG-%s\n", token)
			return
		}
		http.NotFound(w, r)
	})

	body := `for i in 1 2; do
  exec 3<>/dev/tcp/10.0.2.100/80 || exit 1
  printf 'GET /ping HTTP/1.0\r\nHost: api\r\n\r\n' >&3
  sed -n "s/^PONG-/GUEST-GOT-PONG-$i-/p" <&3
  exec 3<&-
done`
	disk := scenarioDisk(t, o, []vmtest.File{scenarioScript(body)})
	vm := bootOldOS(t, o, vmtest.Disk{Path: disk},
		[]vmtest.Forward{{GuestAddr: "10.0.2.100:80", HostAddr: addr}})

	expect(t, vm, "OLD-OS-BOOTED", bootTimeout)
	expect(t, vm, "GUEST-GOT-PONG-1-"+token, 60e9, "OLD-OS-TAKEOVER-EXIT")
	expect(t, vm, "GUEST-GOT-PONG-2-"+token, 30e9, "OLD-OS-TAKEOVER-EXIT")
	expect(t, vm, "OLD-OS-TAKEOVER-EXIT rc=0", 30e9)
	if err := vm.Wait(60e9); err != nil {
		t.Fatalf("old OS did not power off: %v", err)
	}
}

func serveLoopback(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
