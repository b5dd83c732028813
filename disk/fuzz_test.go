package disk

import "testing"

func FuzzReadTable(f *testing.F) {
	f.Add([]byte(fakeMBRDisk()[:64<<10]))
	gpt := fakeGPTDisk([]gptPart{{first: 40, last: 80, typ: linuxGUID, name: "resin-boot"}})
	f.Add([]byte(gpt[:64<<10]))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ss := range []int{0, 512, 4096} {
			tab, err := ReadTable(mem(data), int64(len(data)), ss)
			if err != nil {
				continue
			}
			for _, p := range tab.Partitions {
				if p.End() > int64(len(data)) || p.Start < 0 {
					t.Fatalf("partition %+v outside a disk of %d bytes", p, len(data))
				}
			}
		}
	})
}

func FuzzProbe(f *testing.F) {
	m := make(mem, 16<<10)
	fakeFAT16(m, 0, "BOOT", "resin-boot")
	f.Add([]byte(m))
	m = make(mem, 4<<10)
	fakeExt(m, 0, "resin-data", 0, extIncompatExtents)
	f.Add([]byte(m))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = Probe(mem(data), 0)
	})
}
