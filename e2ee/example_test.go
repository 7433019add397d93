package e2ee_test

import (
	"fmt"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// Example shows the whole flow: a patient's first device creates the
// identity and the device list, a clinician pins the identity and seals a
// message to the patient's devices, and the patient's device opens it.
func Example() {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

	// The patient's first device.
	patient, _ := e2ee.GenerateIdentity(nil)
	phone, _ := e2ee.GenerateDeviceKeys(nil, "u-patient", "d-phone")
	cert, _ := patient.Certify(phone.Public(), now)
	list, _ := patient.SignDeviceList("u-patient", 1, now, []*e2ee.DeviceCertificate{cert})

	// The clinician fetches the list bytes from the server and checks them
	// against the identity key pinned on first contact.
	fetched, err := e2ee.ParseDeviceList(list.Bytes())
	if err != nil {
		panic(err)
	}
	if err := e2ee.VerifyDeviceList(patient.PublicKey(), fetched); err != nil {
		panic(err)
	}

	clinician, _ := e2ee.GenerateDeviceKeys(nil, "u-clinician", "d-desktop")
	payload, _ := (&e2ee.Payload{Text: "Please take the next dose at 8 pm."}).MarshalBinary()
	sealed, _ := e2ee.Seal(nil, clinician, e2ee.Message{
		ConversationID: "c-consult-1",
		ContentType:    e2ee.ContentMessage,
		Time:           now,
		Payload:        payload,
	}, fetched.Devices())
	wire := sealed.Marshal()

	// The server checks the message without any private key.
	onServer, _ := e2ee.ParseSealed(wire)
	fmt.Println("signature:", onServer.VerifySignature(clinician.Public().SigningKey))

	// The patient's phone opens it with the clinician's device key from
	// the clinician's verified list, then records the id against replays.
	plain, err := e2ee.Open(phone, onServer, clinician.Public())
	if err != nil {
		panic(err)
	}
	p, _ := e2ee.ParsePayload(plain)
	fmt.Println("text:", p.Text)
	guard := e2ee.NewReplayGuard(e2ee.DefaultReplayCapacity)
	fmt.Println("first accept:", guard.Accept(&onServer.Header))
	fmt.Println("second accept:", e2ee.Code(guard.Accept(&onServer.Header)))
	// Output:
	// signature: <nil>
	// text: Please take the next dose at 8 pm.
	// first accept: <nil>
	// second accept: replay
}
