package vectors

import (
	"bytes"
	"crypto/ed25519"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// DevicesFile is the layout of devices.json.
type DevicesFile struct {
	Note         string                  `json:"note"`
	Identities   map[string]IdentityJSON `json:"identities"`
	Devices      map[string]DeviceJSON   `json:"devices"`
	Certificates []CertificateVector     `json:"certificates"`
	Lists        []ListVector            `json:"lists"`
	Updates      []UpdateVector          `json:"updates"`
	Comparisons  []CompareVector         `json:"comparisons"`
}

// CertificateVector is a device certificate checked against Identity's key:
// parse, then verify. Device names the certified device for accepted ones.
type CertificateVector struct {
	Name        string `json:"name"`
	Rule        string `json:"rule"`
	Description string `json:"description"`
	Identity    string `json:"identity"`
	Certificate Hex    `json:"certificate"`
	Expect      string `json:"expect"`
	Device      string `json:"device,omitempty"`
	CreatedMs   int64  `json:"created_ms,omitempty"`
}

// ListVector is a device list checked against the pinned identity: parse,
// then VerifyDeviceList. Accepted lists carry their decoded fields.
type ListVector struct {
	Name           string   `json:"name"`
	Rule           string   `json:"rule"`
	Description    string   `json:"description"`
	PinnedIdentity string   `json:"pinned_identity"`
	List           Hex      `json:"list"`
	Expect         string   `json:"expect"`
	UserID         string   `json:"user_id,omitempty"`
	Version        uint64   `json:"version,omitempty"`
	IssuedMs       int64    `json:"issued_ms,omitempty"`
	DeviceIDs      []string `json:"device_ids,omitempty"`
}

// UpdateVector checks whether Next may replace Previous (both verify).
type UpdateVector struct {
	Name        string `json:"name"`
	Rule        string `json:"rule"`
	Description string `json:"description"`
	Previous    string `json:"previous"`
	Next        string `json:"next"`
	Expect      string `json:"expect"`
}

// CompareVector compares a verified list with the device ids the server
// reports.
type CompareVector struct {
	Name            string   `json:"name"`
	List            string   `json:"list"`
	ServerDeviceIDs []string `json:"server_device_ids"`
	Uncertified     []string `json:"uncertified"`
	Missing         []string `json:"missing"`
}

func buildDevices(ks *keySet) (any, error) {
	f := DevicesFile{
		Note:       generatorNote,
		Identities: ks.identityJSON(ks.idOrder...),
		Devices:    ks.deviceJSON(ks.devOrder...),
	}
	certs := map[string]*e2ee.DeviceCertificate{}
	for i, spec := range []struct{ dev, identity string }{
		{"patient-phone", "patient"},
		{"patient-laptop", "patient"},
		{"clinician-desktop", "clinician"},
		{"clinician-tablet", "clinician"},
		{"clinician-rogue", "attacker"},
	} {
		c, err := ks.identities[spec.identity].id.Certify(ks.devices[spec.dev].keys.Public(),
			baseTime.Add(time.Duration(i)*time.Minute))
		if err != nil {
			return nil, err
		}
		certs[spec.dev] = c
	}
	f.Certificates = certificateVectors(ks, certs)

	lists, err := listVectors(ks, certs)
	if err != nil {
		return nil, err
	}
	f.Lists = lists
	f.Updates = []UpdateVector{
		{"ok_newer_version", "accept", "version 2 adds the laptop to version 1",
			"ok_patient_v1", "ok_patient_v2", "ok"},
		{"ok_same_list_again", "accept", "the same bytes again change nothing",
			"ok_patient_v2", "ok_patient_v2", "ok"},
		{"reject_stale_version", "R17", "the server replays version 1 after version 2",
			"ok_patient_v2", "ok_patient_v1", "stale_device_list"},
		{"reject_same_version_different_list", "R17", "two different lists both claim version 2",
			"ok_patient_v2", "ok_patient_v2_conflicting", "device_list_conflict"},
		{"reject_identity_change", "R16", "the clinician's list under the attacker's identity",
			"ok_clinician_v1", "ok_clinician_under_attacker_key", "identity_mismatch"},
	}
	f.Comparisons = []CompareVector{
		{"server_adds_uncertified_device", "ok_clinician_v1",
			[]string{"d-desktop", "d-rogue", "d-tablet"}, []string{"d-rogue"}, nil},
		{"server_matches_list", "ok_clinician_v1",
			[]string{"d-tablet", "d-desktop"}, nil, nil},
		{"server_lacks_listed_device", "ok_patient_v2",
			[]string{"d-phone"}, nil, []string{"d-laptop"}},
	}
	return f, nil
}

func certificateVectors(ks *keySet, certs map[string]*e2ee.DeviceCertificate) []CertificateVector {
	phone := certs["patient-phone"]
	raw := phone.Bytes()
	ok := CertificateVector{
		Name: "ok_patient_phone", Rule: "accept", Identity: "patient", Certificate: raw, Expect: "ok",
		Description: "the patient's identity certifies the phone",
		Device:      "patient-phone", CreatedMs: phone.Created.UnixMilli(),
	}
	reject := func(name, rule, desc, identity string, b []byte, expect string) CertificateVector {
		return CertificateVector{Name: name, Rule: rule, Description: desc, Identity: identity, Certificate: b, Expect: expect}
	}
	// A certificate that the attacker's key signs but that names a patient device.
	forged := reSign(raw, ks.identities["attacker"].id, e2ee.LabelDeviceCertificate)
	return []CertificateVector{
		ok,
		reject("reject_certificate_signature_bit_flip", "R15", "one bit of the signature is flipped",
			"patient", flipBit(raw, len(raw)-1), "bad_signature"),
		reject("reject_certificate_key_bit_flip", "R15", "one bit of the HPKE key is flipped",
			"patient", flipBit(raw, 1+1+len("u-patient")+1+len("d-phone")), "bad_signature"),
		reject("reject_certificate_other_identity", "R15", "the attacker's identity signed it",
			"patient", forged, "bad_signature"),
		reject("reject_certificate_truncated", "R1", "the last byte is missing",
			"patient", raw[:len(raw)-1], "malformed"),
		reject("reject_certificate_version", "R2", "certificate version 2",
			"patient", mutate(raw, func(p []byte) []byte { p[0] = 2; return p }), "unsupported_version"),
		reject("reject_certificate_invalid_device_id", "R4", "the device id contains a space",
			"patient", mutate(raw, func(p []byte) []byte { p[1+1+len("u-patient")+1] = ' '; return p }), "invalid_id"),
	}
}

// reSign replaces the trailing signature of raw with one by id over the
// same body under label.
func reSign(raw []byte, id *e2ee.Identity, label string) []byte {
	body := raw[:len(raw)-ed25519.SignatureSize]
	priv := ed25519.NewKeyFromSeed(id.Seed())
	msg := append(append([]byte(label), 0), body...)
	return append(bytes.Clone(body), ed25519.Sign(priv, msg)...)
}

func listVectors(ks *keySet, certs map[string]*e2ee.DeviceCertificate) ([]ListVector, error) {
	patient := ks.identities["patient"].id
	clinician := ks.identities["clinician"].id
	attacker := ks.identities["attacker"].id
	issued := baseTime.Add(time.Hour)
	type spec struct {
		name, rule, desc, pinned string
		signer                   *e2ee.Identity
		user                     string
		version                  uint64
		devices                  []string
	}
	var out []ListVector
	for _, s := range []spec{
		{"ok_patient_v1", "accept", "the patient's first device alone", "patient", patient, "u-patient", 1,
			[]string{"patient-phone"}},
		{"ok_patient_v2", "accept", "the phone certified the laptop", "patient", patient, "u-patient", 2,
			[]string{"patient-phone", "patient-laptop"}},
		{"ok_patient_v2_conflicting", "accept", "a second, different version 2 (valid on its own)",
			"patient", patient, "u-patient", 2, []string{"patient-laptop"}},
		{"ok_clinician_v1", "accept", "the clinician's two devices", "clinician", clinician, "u-clinician", 1,
			[]string{"clinician-desktop", "clinician-tablet"}},
		{"ok_clinician_under_attacker_key", "accept",
			"a list the attacker's identity signs, valid only for a client that pinned that key",
			"attacker", attacker, "u-clinician", 2, []string{"clinician-rogue"}},
	} {
		var cs []*e2ee.DeviceCertificate
		for _, d := range s.devices {
			cs = append(cs, certs[d])
		}
		l, err := s.signer.SignDeviceList(s.user, s.version, issued, cs)
		if err != nil {
			return nil, err
		}
		v := ListVector{Name: s.name, Rule: s.rule, Description: s.desc, PinnedIdentity: s.pinned,
			List: l.Bytes(), Expect: "ok", UserID: l.UserID, Version: l.Version, IssuedMs: l.Issued.UnixMilli()}
		for _, c := range l.Certificates {
			v.DeviceIDs = append(v.DeviceIDs, c.Device.DeviceID)
		}
		out = append(out, v)
	}
	rejects, err := listRejects(ks, certs, issued)
	if err != nil {
		return nil, err
	}
	return append(out, rejects...), nil
}

// rawList encodes a device list body from certificate bytes in the given
// order, signed by signer, without the checks SignDeviceList makes.
func rawList(signer *e2ee.Identity, user string, version uint64, issued time.Time, certs ...[]byte) []byte {
	var b []byte
	b = append(b, e2ee.Version)
	b = appendStr8(b, user)
	b = append(b, signer.PublicKey()...)
	b = appendU64(b, version)
	b = appendU64(b, uint64(issued.UnixMilli()))
	b = append(b, byte(len(certs)>>8), byte(len(certs)))
	for _, c := range certs {
		b = append(b, byte(len(c)>>8), byte(len(c)))
		b = append(b, c...)
	}
	priv := ed25519.NewKeyFromSeed(signer.Seed())
	msg := append(append([]byte(e2ee.LabelDeviceList), 0), b...)
	return append(b, ed25519.Sign(priv, msg)...)
}

func appendU64(b []byte, v uint64) []byte {
	for i := 7; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func listRejects(ks *keySet, certs map[string]*e2ee.DeviceCertificate, issued time.Time) ([]ListVector, error) {
	patient := ks.identities["patient"].id
	clinician := ks.identities["clinician"].id
	attacker := ks.identities["attacker"].id
	phone, laptop := certs["patient-phone"].Bytes(), certs["patient-laptop"].Bytes()
	desktop, rogue := certs["clinician-desktop"].Bytes(), certs["clinician-rogue"].Bytes()
	good := rawList(patient, "u-patient", 2, issued, laptop, phone)
	type reject struct {
		name, rule, desc, pinned string
		list                     []byte
		expect                   string
	}
	rs := []reject{
		{"reject_list_signature_bit_flip", "R16", "one bit of the list signature is flipped", "patient",
			flipBit(good, len(good)-1), "bad_signature"},
		{"reject_list_version_bit_flip", "R16", "the server raises the version without a new signature", "patient",
			flipBit(good, 1+1+len("u-patient")+32+7), "bad_signature"},
		{"reject_list_under_other_identity", "R16",
			"the server signs a list with its own identity key for a user whose key is pinned", "clinician",
			rawList(attacker, "u-clinician", 2, issued, rogue), "identity_mismatch"},
		{"reject_uncertified_device_in_list", "R16",
			"a device certified by another identity inside a list the real identity signed", "clinician",
			rawList(clinician, "u-clinician", 2, issued, desktop, rogue), "bad_signature"},
		{"reject_list_unsorted", "R17", "device ids are not in ascending order", "patient",
			rawList(patient, "u-patient", 2, issued, phone, laptop), "invalid_device_list"},
		{"reject_list_duplicate_device", "R17", "one device is listed twice", "patient",
			rawList(patient, "u-patient", 2, issued, phone, phone), "invalid_device_list"},
		{"reject_list_empty", "R17", "no devices", "patient",
			rawList(patient, "u-patient", 1, issued), "invalid_device_list"},
		{"reject_list_version_zero", "R17", "list version 0", "patient",
			rawList(patient, "u-patient", 0, issued, phone), "invalid_device_list"},
		{"reject_list_other_users_device", "R17", "the clinician's device in the patient's list", "patient",
			rawList(patient, "u-patient", 2, issued, desktop), "user_mismatch"},
		{"reject_list_truncated", "R1", "the last byte is missing", "patient",
			good[:len(good)-1], "malformed"},
	}
	out := make([]ListVector, 0, len(rs))
	for _, r := range rs {
		out = append(out, ListVector{Name: r.name, Rule: r.rule, Description: r.desc,
			PinnedIdentity: r.pinned, List: r.list, Expect: r.expect})
	}
	return out, nil
}
