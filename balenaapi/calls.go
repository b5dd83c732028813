package balenaapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

var (
	slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,99}$`)
	uuidRE = regexp.MustCompile(`^[0-9a-f]{32,62}$`)
)

// checkSlug refuses a device-type slug that could break out of the OData
// string literal it is placed in.
func checkSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return fmt.Errorf("device type %q: a slug is lower-case letters, digits, - and _", slug)
	}
	return nil
}

// Ping checks GET /ping: a 2xx reply whose body is "OK". It sends no key.
func (c *Client) Ping(ctx context.Context) error {
	req, err := c.request(ctx, http.MethodGet, "/ping", "", nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("pinging api: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError("pinging api", resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return fmt.Errorf("pinging api: reading reply: %w", err)
	}
	if strings.TrimSpace(string(b)) != "OK" {
		return fmt.Errorf("pinging api: reply %q, want OK", snippet(b))
	}
	return nil
}

// releaseQuery is the /v6/release query of the original takeover, encoded
// by hand exactly as it sends it: final, passing, valid, successful host-app
// releases of the slug, leaving out ESR (release-policy other than default).
const releaseQuery = "$select=raw_version&$filter=(is_final%20eq%20true)%20and%20" +
	"(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20" +
	"(status%20eq%20%27success%27)%20and%20(belongs_to__application/any(bta:(" +
	"(bta/is_host%20eq%20true)%20and%20(bta/is_for__device_type/any(iodt:" +
	"iodt/slug%20eq%20%27{slug}%27)))%20and%20(not(bta/application_tag/any(" +
	"at:at/tag_key%20eq%20%27release-policy%27))%20or%20(bta/application_tag/" +
	"any(at:(at/tag_key%20eq%20%27release-policy%27)%20and%20(at/value%20eq%20" +
	"%27default%27))))))&$orderby=created_at%20desc"

// OSVersions lists the raw_version of every balenaOS release for slug, in
// the API's order (newest created first, not relied upon).
func (c *Client) OSVersions(ctx context.Context, slug string) ([]string, error) {
	op := "listing os versions for " + slug
	if err := checkSlug(slug); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	q := strings.ReplaceAll(releaseQuery, "{slug}", slug)
	req, err := c.request(ctx, http.MethodGet, "/v6/release", q, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var reply struct {
		D []struct {
			RawVersion string `json:"raw_version"`
		} `json:"d"`
	}
	if err := c.call(op, req, &reply); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(reply.D))
	for _, r := range reply.D {
		out = append(out, r.RawVersion)
	}
	return out, nil
}

// deviceTypeQuery selects one field of the device type with alias slug.
func deviceTypeQuery(field, slug string) string {
	return "$orderby=name%20asc&$top=1&$select=" + field +
		"&$filter=device_type_alias/any(dta:dta/is_referenced_by__alias%20eq%20%27" +
		slug + "%27)"
}

// Contract is the part of a hw.device-type contract that decides whether
// the default image of a device type is a flasher.
type Contract struct {
	Data struct {
		Media struct {
			DefaultBoot *string  `json:"defaultBoot"`
			AltBoot     []string `json:"altBoot"`
		} `json:"media"`
		FlashProtocol *string `json:"flashProtocol"`
	} `json:"data"`
}

// Flasher applies the contracts' rule: the device boots from internal
// storage, can boot from other media, and has no special flash protocol.
func (c *Contract) Flasher() (bool, error) {
	if c.Data.Media.DefaultBoot == nil {
		return false, fmt.Errorf("contract has no data.media.defaultBoot")
	}
	return *c.Data.Media.DefaultBoot == "internal" && len(c.Data.Media.AltBoot) > 0 &&
		c.Data.FlashProtocol == nil, nil
}

// IsFlasher reports whether the default image of slug is a flasher, so the
// raw image must be asked for instead.
func (c *Client) IsFlasher(ctx context.Context, slug string) (bool, error) {
	op := "reading device type contract of " + slug
	var reply struct {
		D []struct {
			Contract *Contract `json:"contract"`
		} `json:"d"`
	}
	if err := c.deviceType(ctx, op, "contract", slug, &reply); err != nil {
		return false, err
	}
	if len(reply.D) == 0 || reply.D[0].Contract == nil {
		return false, fmt.Errorf("%s: %w: no such device type", op, ErrNotFound)
	}
	flasher, err := reply.D[0].Contract.Flasher()
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return flasher, nil
}

// DeviceTypeID returns the numeric id of the device type with alias slug.
func (c *Client) DeviceTypeID(ctx context.Context, slug string) (int64, error) {
	op := "reading device type id of " + slug
	var reply struct {
		D []struct {
			ID *int64 `json:"id"`
		} `json:"d"`
	}
	if err := c.deviceType(ctx, op, "id", slug, &reply); err != nil {
		return 0, err
	}
	if len(reply.D) == 0 || reply.D[0].ID == nil {
		return 0, fmt.Errorf("%s: %w: no such device type", op, ErrNotFound)
	}
	return *reply.D[0].ID, nil
}

func (c *Client) deviceType(ctx context.Context, op, field, slug string, out any) error {
	if err := checkSlug(slug); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req, err := c.request(ctx, http.MethodGet, "/v6/device_type", deviceTypeQuery(field, slug), nil)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.call(op, req, out)
}

// PatchDevice sends PATCH /v6/device(uuid='uuid') with body as JSON.
func (c *Client) PatchDevice(ctx context.Context, uuid string, body map[string]any) error {
	op := "patching device " + uuid
	if !uuidRE.MatchString(uuid) {
		return fmt.Errorf("%s: a uuid is 32 to 62 lower-case hex digits", op)
	}
	req, err := c.request(ctx, http.MethodPatch, "/v6/device(uuid='"+uuid+"')", "", body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.call(op, req, nil)
}

// DownloadSize asks the legacy device-types route for the size of the
// image download of slug at version. It is a hint for the free-space check.
func (c *Client) DownloadSize(ctx context.Context, slug, version string) (int64, error) {
	op := "reading download size of " + slug + " " + version
	if err := checkSlug(slug); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	path := "/device-types/v1/" + slug + "/images/" + escapeVersion(version) +
		"/download-size"
	req, err := c.request(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	var reply struct {
		Size *int64 `json:"size"`
	}
	if err := c.call(op, req, &reply); err != nil {
		return 0, err
	}
	if reply.Size == nil || *reply.Size <= 0 {
		return 0, fmt.Errorf("%s: reply has no positive size", op)
	}
	return *reply.Size, nil
}

// escapeVersion escapes a version for a path segment, "+" included, as the
// device-types routes want it (2.19.0%2Brev1.prod).
func escapeVersion(v string) string {
	return strings.ReplaceAll(url.PathEscape(v), "+", "%2B")
}
