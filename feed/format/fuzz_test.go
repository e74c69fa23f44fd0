package format

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint/cache"
)

// FuzzFeedMetadata feeds arbitrary bytes to everything that reads feed
// metadata on a gate: the manifest and the four TUF roles. No input may
// panic, and an accepted manifest must pass its own checks.
func FuzzFeedMetadata(f *testing.F) {
	f.Add([]byte(`{"format":1,"version":3,"published":"2021-10-01T08:00:00Z","hash_key":"` +
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" +
		`","statuses":2,"snapshot":["v3/snapshot-0.bin.gz"],"deltas":[{"from":2,"to":3,"changes":1,"chunks":["v3/delta-0.bin.gz"]}],"rules":"rules.json"}`))
	f.Add([]byte(`{"signed":{"_type":"timestamp","spec_version":"1.0.31","version":1,"expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{"version":1}}},"signatures":[]}`))
	f.Add([]byte(`{"signed":{"_type":"root","spec_version":"1.0.31","version":1,"expires":"2030-01-01T00:00:00Z","keys":{},"roles":{},"consistent_snapshot":true},"signatures":[]}`))
	f.Add([]byte(`{"format":1,"version":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := ParseManifest(b); err == nil {
			if err := m.Check(); err != nil {
				t.Fatalf("accepted manifest fails its check: %v", err)
			}
			if len(m.Key()) != cache.KeySize {
				t.Fatal("accepted manifest without a key")
			}
		}
		metadata.Root().FromBytes(b)
		metadata.Timestamp().FromBytes(b)
		metadata.Snapshot().FromBytes(b)
		metadata.Targets().FromBytes(b)
	})
}

// FuzzFeedTargets feeds arbitrary bytes to the target decoders (status
// chunks, revocation lists, trust lists, firmware metadata), raw and gzip-wrapped: no panic,
// and whatever a decoder accepts is well-formed.
func FuzzFeedTargets(f *testing.F) {
	var snap, delta bytes.Buffer
	recs := []cache.Record{{Hash: [16]byte{1}, Color: 2, ValidUntil: 1700000000}, {Hash: [16]byte{1, 1}, Color: 0}}
	EncodeChunk(&snap, KindSnapshot, recs, gzip.BestSpeed)
	recs[1].Delete = true
	EncodeChunk(&delta, KindDelta, recs, gzip.BestSpeed)
	rev, _ := EncodeRevocations([]cache.Revocation{{Type: cache.HashUCI, Hash: [16]byte{9}}})
	list, _ := EncodeSiteList(recs)
	fw, _ := FirmwareCustom(Firmware{Package: FirmwarePackage, Version: "1.0", Architecture: "arm64", Rollout: 10})
	for _, s := range [][]byte{snap.Bytes(), delta.Bytes(), rev, list, fw, []byte("qid,until\nQ1,2021-12-31\n"), []byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")} {
		f.Add(s, false)
	}
	f.Add([]byte("CPST\x53\x01\x02\x00"), true)
	f.Fuzz(func(t *testing.T, b []byte, wrap bool) {
		if len(b) > 1<<16 {
			return
		}
		if wrap {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(b)
			w.Close()
			b = z.Bytes()
		}
		for _, kind := range []byte{KindSnapshot, KindDelta, KindList} {
			out, err := DecodeChunk(bytes.NewReader(b), kind, nil, 1<<16)
			if err != nil {
				continue
			}
			for i := range out {
				if i > 0 && bytes.Compare(out[i-1].Hash[:], out[i].Hash[:]) >= 0 {
					t.Fatal("accepted keys out of order")
				}
				if out[i].Color > 2 || out[i].ValidUntil < 0 || (out[i].Delete && kind != KindDelta) || (kind == KindList && out[i].Color != 0) {
					t.Fatalf("accepted a bad record %+v", out[i])
				}
			}
		}
		if list, err := DecodeRevocations(b); err == nil {
			for _, r := range list {
				if r.Type < cache.HashUCI || r.Type > cache.HashSignature {
					t.Fatalf("accepted hash type %d", r.Type)
				}
			}
		}
		ParseTrustList(b)
		ParseRevocationsCSV(bytes.NewReader(b))
		if rows, err := ParseSiteListCSV(bytes.NewReader(b)); err == nil {
			for _, r := range rows {
				if cache.CheckKey(r.Key) != nil || r.Until < 0 {
					t.Fatalf("accepted a bad site row %+v", r)
				}
			}
		}
		ParseSiteListInfo(b)
		CheckRules(b)
		if fw, err := ParseFirmware("firmware/checkpoint_1.0_arm64.deb", b); err == nil {
			if fw.Check() != nil || fw.Target() != "firmware/checkpoint_1.0_arm64.deb" {
				t.Fatalf("accepted firmware metadata %+v", fw)
			}
		}
	})
}
