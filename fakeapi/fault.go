package fakeapi

import (
	"fmt"
	"strconv"
	"strings"
)

// Fault makes image downloads (POST and GET /download) misbehave. API
// queries are never faulted. Counters are used up request by request.
type Fault struct {
	FailCount  int    // answer this many downloads with FailStatus
	FailStatus int    // 0 means 503
	CutAfter   int64  // end image bodies after this many bytes (0: never)
	CutCount   int    // cut only this many bodies; 0 means every one
	Rate       int64  // image body bytes per second, 0 unlimited
	WrongImage string // serve this file's bytes in place of any image
	HTMLPage   bool   // answer 200 with an HTML page in place of the image
	NoRange    bool   // ignore Range: always 200 with the whole file
}

// SetFault replaces the current fault; Fault{} ends all faults.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// downloadFault is the fault for one download, counters used up.
type downloadFault struct {
	failStatus int // 0: do not fail
	cutAfter   int64
	rate       int64
	wrongImage string
	htmlPage   bool
	noRange    bool
}

func (s *Server) takeFault() downloadFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.fault
	d := downloadFault{rate: f.Rate, wrongImage: f.WrongImage, htmlPage: f.HTMLPage,
		noRange: f.NoRange}
	if f.FailCount > 0 {
		f.FailCount--
		d.failStatus = f.FailStatus
		if d.failStatus == 0 {
			d.failStatus = 503
		}
		return d
	}
	if f.CutAfter > 0 {
		d.cutAfter = f.CutAfter
		if f.CutCount > 0 {
			f.CutCount--
			if f.CutCount == 0 {
				f.CutAfter = 0
			}
		}
	}
	return d
}

// ParseFault reads a fault from a comma-separated list such as
// "fail=2,status=502,cut=65536,cutcount=1,rate=1048576,wrong=FILE,html,norange".
func ParseFault(spec string) (Fault, error) {
	var f Fault
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, val, _ := strings.Cut(item, "=")
		if err := f.set(key, val); err != nil {
			return Fault{}, fmt.Errorf("parsing fault %q: %w", item, err)
		}
	}
	return f, nil
}

func (f *Fault) set(key, val string) error {
	var err error
	switch key {
	case "fail":
		f.FailCount, err = strconv.Atoi(val)
	case "status":
		f.FailStatus, err = strconv.Atoi(val)
	case "cut":
		f.CutAfter, err = strconv.ParseInt(val, 10, 64)
	case "cutcount":
		f.CutCount, err = strconv.Atoi(val)
	case "rate":
		f.Rate, err = strconv.ParseInt(val, 10, 64)
	case "wrong":
		f.WrongImage = val
	case "html":
		f.HTMLPage = true
	case "norange":
		f.NoRange = true
	default:
		return fmt.Errorf("unknown fault %q", key)
	}
	return err
}
