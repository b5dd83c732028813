package plan

import (
	"bytes"
	"strings"
	"testing"
)

func validPayload() *Payload {
	return &Payload{
		Version: Version,
		Image: Image{Path: ImageDir + "/x.img.gz", Compression: "gzip", Size: 10,
			SHA256: strings.Repeat("a", 64), RawSize: 100, RawSHA256: strings.Repeat("b", 64), Table: "mbr",
			Partitions: []Partition{{Name: "resin-boot", Number: 1, Start: 1 << 20, Size: 1 << 20, FSType: "vfat"}}},
		Files: []File{{Source: ConfigJSONPath, Partition: "resin-boot", Target: "/config.json", Mode: 0o600}},
	}
}

func TestPayloadValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(p *Payload)
		wantErr string
	}{
		{name: "valid", mutate: func(*Payload) {}},
		{name: "version", mutate: func(p *Payload) { p.Version = 2 }, wantErr: "plan version 2"},
		{name: "no digest", mutate: func(p *Payload) { p.Image.RawSHA256 = "" }, wantErr: "no complete image"},
		{name: "upper-case digest", mutate: func(p *Payload) { p.Image.RawSHA256 = strings.Repeat("B", 64) },
			wantErr: "lower-case hex"},
		{name: "not hex", mutate: func(p *Payload) { p.Image.SHA256 = strings.Repeat("g", 64) },
			wantErr: "lower-case hex"},
		{name: "no size", mutate: func(p *Payload) { p.Image.RawSize = 0 }, wantErr: "no complete image"},
		{name: "unknown partition", mutate: func(p *Payload) { p.Files[0].Partition = "resin-data" },
			wantErr: `partition "resin-data"`},
	}
	for _, tt := range tests {
		p := validPayload()
		tt.mutate(p)
		err := p.Validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Validate() = %v, want error containing %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestDeviceValidate(t *testing.T) {
	d := &Device{Version: Version, Disk: DiskIdentity{SysfsPath: "/devices/x/block/vda", Size: 1 << 30}}
	if err := d.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
	d.Disk.Size = 0
	if err := d.Validate(); err == nil {
		t.Errorf("Validate() of a disk without size = nil, want error")
	}
}

func TestRoundTripAndStrictDecode(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, validPayload()); err != nil {
		t.Fatal(err)
	}
	var got Payload
	if err := Decode(bytes.NewReader(buf.Bytes()), &got); err != nil {
		t.Fatalf("Decode(Encode(p)) = %v", err)
	}
	if got.Image.RawSHA256 != validPayload().Image.RawSHA256 || len(got.Files) != 1 {
		t.Errorf("round trip = %+v", got)
	}
	if err := Decode(strings.NewReader(`{"version":1,"surprise":true}`), &got); err == nil {
		t.Errorf("Decode(unknown field) = nil, want error")
	}
	for _, in := range []string{`{"version":1} {}`, `{"version":1}}`, `{"version":1} ]`} {
		if err := Decode(strings.NewReader(in), &got); err == nil {
			t.Errorf("Decode(%s) = nil, want a trailing-data error", in)
		}
	}
}
