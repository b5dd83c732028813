package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
)

// SidecarPath is where the image's SHA-256 is kept, in sha256sum format.
func SidecarPath(image string) string { return image + ".sha256" }

// FileSHA256 reads the file at path and returns its hex SHA-256.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeSidecar hashes the image as it lies on disk and writes the sidecar
// atomically.
func writeSidecar(image string) (string, error) {
	sum, err := FileSHA256(image)
	if err != nil {
		return "", err
	}
	side := SidecarPath(image)
	tmp := side + ".tmp"
	line := sum + "  " + filepath.Base(image) + "\n"
	if err := os.WriteFile(tmp, []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, side); err != nil {
		return "", fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return sum, syncDir(filepath.Dir(image))
}

// readSidecar returns the digest in the sidecar of image, "" if there is
// no sidecar.
func readSidecar(image string) (string, error) {
	b, err := os.ReadFile(SidecarPath(image))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", SidecarPath(image), err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 || len(fields[0]) != sha256.Size*2 {
		return "", nil // unusable: treated like a missing sidecar
	}
	return strings.ToLower(fields[0]), nil
}

// reusable reports whether an image already at path matches its sidecar.
// An image without a usable sidecar, or one that does not match, is
// removed so the download starts clean.
func reusable(path string, log logrus.FieldLogger) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	want, err := readSidecar(path)
	if err != nil {
		return false, err
	}
	if want != "" {
		got, err := FileSHA256(path)
		if err != nil {
			return false, err
		}
		if got == want {
			log.WithField("sha256", got).Info("reusing image verified against its sidecar")
			return true, nil
		}
		log.WithFields(logrus.Fields{"sha256": got, "sidecar": want}).
			Warn("image does not match its sidecar, downloading it again")
	} else {
		log.Warn("image has no usable sidecar, downloading it again")
	}
	return false, removeImage(path)
}

func removeImage(path string) error {
	for _, p := range []string{path, SidecarPath(path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", p, err)
		}
	}
	return nil
}
